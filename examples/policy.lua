-- A mail operator's policy, written on top of mailauth's results: the kind
-- of rule the project exists to make short and correct.
--   policy(report, config) -> verdict ("accept"|"quarantine"|"reject"), reason
local exchange = require "mailauth.exchange"

local function within(name, domain)
  return name == domain or name:sub(-(#domain + 1)) == "." .. domain
end

-- The configured tenant whose domain (or a mapped one) From claims, if any.
local function claimed_tenant(from, tenants)
  for _, t in ipairs(tenants) do
    if within(from, t.domain:lower()) then return t.domain end
    for _, d in ipairs(t.domains or {}) do
      if within(from, d:lower()) then return t.domain end
    end
  end
  return nil
end

return function(report, config)
  -- Microsoft 365 partners: trusted only on their own verified signature,
  -- never on the shared Exchange Online IPs, PTR names or headers.
  local m365 = exchange.trust(report, { tenants = config.tenants, trust_arc = true })
  if m365.trusted then
    return "accept", ("Microsoft 365 tenant %s, via %s"):format(m365.tenant, m365.via)
  end
  local dmarc = report.dmarc
  local from = (report.from_domain or dmarc.domain or ""):lower()
  -- Mail in a configured partner's name that exchange.trust refused is not
  -- the partner's, whatever DMARC says (a DMARC pass may rest on another
  -- tenant's relaxed alignment or on the shared pool's SPF).
  local partner = from ~= "" and claimed_tenant(from, config.tenants)
  if partner then
    return "reject", ("claims Microsoft 365 tenant %s, not trusted: %s"):format(partner, m365.reason)
  end
  local from_eop = m365.evidence.eop_ip or m365.evidence.eop_ptr
  if dmarc.result == "pass" then
    -- Any tenant passes SPF for a domain that includes
    -- spf.protection.outlook.com: from Exchange Online, only an aligned
    -- DKIM signature makes DMARC mean something.
    if from_eop and not dmarc.dkim_aligned then
      return "quarantine", ("DMARC pass for %s rests on SPF through the shared Exchange Online pool (%s)")
        :format(dmarc.domain, m365.reason)
    end
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
