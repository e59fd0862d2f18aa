-- Exchange Online (Microsoft 365) recognition and tenant trust.
--
-- Every tenant sends from the same IP pool, with the same PTR names and TLS
-- certificate; onmicrosoft.com is not in the public suffix list; and the
-- X-MS-Exchange-CrossTenant-* headers are unsigned, so anyone can write
-- them.  So the IP, the PTR, an SPF pass through spf.protection.outlook.com
-- and those headers are reported as evidence but never trusted.  Trust
-- comes from a verified DKIM signature of a configured tenant (or, when the
-- operator allows it, from an ARC chain sealed by Microsoft that vouches for
-- one).
local core = require "mailauth.core"

local M = {}

-- The outbound ranges Microsoft publishes in spf.protection.outlook.com.
M.networks = {
  "40.92.0.0/15", "40.107.0.0/16", "52.100.0.0/15", "52.102.0.0/16",
  "52.103.0.0/16", "104.47.0.0/17",
  "2a01:111:f400::/48", "2a01:111:f403::/49", "2a01:111:f403:8000::/51",
  "2a01:111:f403:c000::/51", "2a01:111:f403:f000::/52",
}

local ARC_SEALER = "microsoft.com"

local function lower(s)
  return type(s) == "string" and (s:lower():gsub("%.$", "")) or nil
end

-- same name, or a subdomain of it (relaxed, RFC 7489 §3.1 without the PSL)
local function within(name, domain)
  if not name or not domain then return false end
  return name == domain or name:sub(-(#domain + 1)) == "." .. domain
end

--- is_eop_ip(ip) -> boolean (false for anything that is not an address)
function M.is_eop_ip(ip)
  if type(ip) ~= "string" then return false end
  local ok, hit = pcall(core.ip_match, ip, M.networks)
  return ok and hit ~= false
end

local function is_eop_ptr(name)
  name = lower(name)
  return name ~= nil and within(name, "protection.outlook.com")
end

local function from_domain(report)
  if report.from_domain then return lower(report.from_domain) end
  if type(report.dmarc) == "table" and report.dmarc.domain then return lower(report.dmarc.domain) end
  return nil
end

local function check_tenants(tenants)
  if type(tenants) ~= "table" then
    error("mailauth.exchange.trust: opts.tenants must be a list of { domain =, domains = {...} }", 3)
  end
  local list = {}
  for i, t in ipairs(tenants) do
    if type(t) ~= "table" or type(t.domain) ~= "string" then
      error(("mailauth.exchange.trust: tenants[%d].domain must be a string"):format(i), 3)
    end
    local mapped = {}
    for j, d in ipairs(t.domains or {}) do
      if type(d) ~= "string" then
        error(("mailauth.exchange.trust: tenants[%d].domains[%d] must be a string"):format(i, j), 3)
      end
      mapped[#mapped + 1] = lower(d)
    end
    list[i] = { domain = lower(t.domain), mapped = mapped, name = t.domain }
  end
  return list
end

-- The tenant whose domain (or a mapped one) is d, and whether From fits it.
local function tenant_for(tenants, d, from)
  for _, t in ipairs(tenants) do
    local signer = d == t.domain
    for _, m in ipairs(t.mapped) do if d == m then signer = true end end
    if signer then
      local aligned = from == d
      for _, m in ipairs(t.mapped) do if within(from, m) then aligned = true end end
      if aligned then return t end
    end
  end
  return nil
end

-- Results an ARC-Authentication-Results header reports: { {method, result, d}, ... }
local function aar_results(text)
  local ok, authres = pcall(require, "mailauth.authres")
  if not ok or type(text) ~= "string" then return {} end
  local parsed = authres.parse(text)
  local out = {}
  for _, r in ipairs(parsed and parsed.results or {}) do
    local d
    for _, p in ipairs(r.properties or {}) do
      if p.property == "d" or p.property == "from" then d = lower(p.value) end
    end
    out[#out + 1] = { method = r.method, result = r.result, domain = d }
  end
  return out
end

--- trust(report, { tenants = {...}, trust_arc = bool, message = text })
-- report: what mailauth.check returns (iprev, spf, dkim, dmarc, arc), or
-- the same fields gathered by hand, plus from_domain when there is no dmarc.
function M.trust(report, opts)
  if type(report) ~= "table" then
    error("bad argument #1 to 'mailauth.exchange.trust' (report table expected)", 2)
  end
  opts = opts or {}
  local tenants = check_tenants(opts.tenants)
  local from = from_domain(report)
  local ip = report.ip or (type(report.iprev) == "table" and report.iprev.ip) or nil
  local evidence = {
    eop_ip = M.is_eop_ip(ip),
    eop_ptr = type(report.iprev) == "table" and report.iprev.result == "pass"
              and is_eop_ptr(report.iprev.name) or false,
    spf_pass = type(report.spf) == "table" and report.spf.result == "pass" or false,
    crosstenant_header = type(opts.message) == "string"
      and opts.message:find("\nX%-MS%-Exchange%-CrossTenant%-Id:") ~= nil or false,
  }
  if not from then
    return { trusted = false, evidence = evidence, reason = "no From domain in the report" }
  end

  for _, sig in ipairs(type(report.dkim) == "table" and report.dkim or {}) do
    if sig.result == "pass" and sig.domain then
      local d = lower(sig.domain)
      local t = tenant_for(tenants, d, from)
      if t then
        evidence.dkim_domain = d
        return { trusted = true, tenant = t.name, via = "dkim", evidence = evidence,
                 reason = ("DKIM signature of %s passes and matches From %s"):format(d, from) }
      end
    end
  end

  local arc = report.arc
  if type(arc) == "table" and type(arc.chain) == "table" and #arc.chain > 0 then
    local newest = arc.chain[#arc.chain]
    evidence.arc_sealer = lower(newest.domain)
    if opts.trust_arc and arc.result == "pass" and evidence.arc_sealer == ARC_SEALER then
      for _, r in ipairs(aar_results(newest.authentication_results)) do
        if (r.method == "dkim" or r.method == "dmarc") and r.result == "pass" and r.domain then
          local t = tenant_for(tenants, r.domain, from)
          if t then
            return { trusted = true, tenant = t.name, via = "arc", evidence = evidence,
                     reason = ("ARC sealed by %s vouches for %s=pass of %s"):format(
                       ARC_SEALER, r.method, r.domain) }
          end
        end
      end
    end
  end

  local why = "no passing DKIM signature of a configured tenant aligned with From " .. from
  if evidence.eop_ip or evidence.eop_ptr then
    why = why .. " (Exchange Online IP/PTR alone is shared by every tenant)"
  end
  return { trusted = false, evidence = evidence, reason = why }
end

return M
