-- A mail operator's policy, written on top of mailauth's results: the kind
-- of rule the project exists to make short and correct.
--   policy(report, config) -> verdict ("accept"|"quarantine"|"reject"), reason
local exchange = require "mailauth.exchange"

return function(report, config)
  -- Microsoft 365 partners: trusted only on their own verified signature,
  -- never on the shared Exchange Online IPs, PTR names or headers.
  local m365 = exchange.trust(report, { tenants = config.tenants, trust_arc = true })
  if m365.trusted then
    return "accept", ("Microsoft 365 tenant %s, via %s"):format(m365.tenant, m365.via)
  end
  local dmarc = report.dmarc
  if dmarc.result == "pass" then
    return "accept", "DMARC pass for " .. dmarc.domain
  end
  if dmarc.disposition == "reject" or dmarc.disposition == "quarantine" then
    return dmarc.disposition, ("DMARC %s; %s publishes p=%s"):format(
      dmarc.result, dmarc.policy_domain or dmarc.domain or "?", dmarc.policy)
  end
  if report.spf and report.spf.result == "fail" then
    return "quarantine", "SPF fail for " .. (report.spf.domain or "?")
  end
  return "accept", "nothing against it (DMARC " .. tostring(dmarc.result) .. ")"
end
