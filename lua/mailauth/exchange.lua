-- Exchange Online (Microsoft 365) recognition and tenant trust.
--
-- Every tenant sends from the same IP pool, with the same PTR names and TLS
-- certificate; onmicrosoft.com is not in the public suffix list; and the
-- X-MS-Exchange-CrossTenant-* headers are unsigned, so anyone can write
-- them.  So the IP, the PTR, an SPF pass through spf.protection.outlook.com
-- and those headers are reported as evidence but never trusted.  Trust
-- comes from a verified DKIM signature of a configured tenant (or, when the
-- operator allows it, from an ARC chain sealed by Microsoft whose
-- ARC-Authentication-Results report such a signature), and only when
-- nothing about the author or the signature's coverage is in doubt: the
-- rule of DESIGN.md, "Trust rule for Exchange Online".
--
-- Trust fails closed.  Every refusal has a `rule` and a `reason` that
-- starts with it ("author: ...", "unsigned-field: ...", "l=: ...",
-- "testing-key: ...", "future-timestamp: ...", "arc: ...",
-- "no-tenant-signature: ..."), so an operator can match on it.  It also has
-- a `code`, the rule as a word of the one list every result's codes come
-- from (doc/codes.md, "Exchange Online trust"): `rule` keeps its older
-- spelling ("l=", "testing-key") because reasons start with it.
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
local TENANT_PARENT = "onmicrosoft.com"
-- The initial-domain parents of every Microsoft 365 cloud (worldwide, US
-- Government, Germany, 21Vianet): one tenant per name below each, as
-- src/dmarc/dmarc.c's builtin_shared.
local TENANT_PARENTS = { TENANT_PARENT, "onmicrosoft.us", "onmicrosoft.de", "partner.onmschina.cn" }
-- Outbound EOP hosts are named <x>.outbound.protection.outlook.com; the
-- inbound (mail.protection.outlook.com) names are not senders.
local EOP_PTR_PARENT = "outbound.protection.outlook.com"
-- Signature times may run ahead of our clock by this much (seconds).
M.clock_skew = 300

-- The fields whose added, unsigned copy a mail client may show instead of
-- the signed one (DESIGN.md: From, To, Cc, Subject, Date, Reply-To, Sender,
-- Message-ID), and the MIME fields that say how the signed body is read
-- (RFC 2045 §3): Exchange Online signs Content-Type and MIME-Version once,
-- so an added Content-Type with another type or boundary makes a client
-- show other parts of the same signed bytes (a quoted part the attacker
-- wrote, say) while the signature still verifies.
local SHOWN_FIELDS = {
  from = true, to = true, cc = true, subject = true, date = true,
  ["reply-to"] = true, sender = true, ["message-id"] = true,
  ["content-type"] = true, ["content-transfer-encoding"] = true,
  ["mime-version"] = true, ["content-disposition"] = true,
}

local function lower(s)
  return type(s) == "string" and (s:lower():gsub("%.$", "")) or nil
end

-- same name, or a subdomain of it
local function within(name, domain)
  if not name or not domain then return false end
  return name == domain or name:sub(-(#domain + 1)) == "." .. domain
end

-- Names under onmicrosoft.com belong to one tenant each: relaxed alignment
-- must never reach across them (nor across one the operator calls shared).
local function shared_parent_of(name, shared)
  for _, p in ipairs(TENANT_PARENTS) do
    if within(name, p) then return p end
  end
  for _, s in ipairs(shared) do
    if within(name, s) then return s end
  end
  return nil
end

--- is_eop_ip(ip) -> boolean (false for anything that is not an address)
function M.is_eop_ip(ip)
  if type(ip) ~= "string" then return false end
  local ok, hit = pcall(core.ip_match, ip, M.networks)
  return ok and hit ~= false
end

local function is_eop_ptr(name)
  name = lower(name)
  return name ~= nil and name ~= EOP_PTR_PARENT and within(name, EOP_PTR_PARENT)
end

local function check_list(list, what)
  if list == nil then return {} end
  if type(list) ~= "table" then
    error(("mailauth.exchange.trust: %s must be a list of domain strings"):format(what), 4)
  end
  local out = {}
  for i, d in ipairs(list) do
    if type(d) ~= "string" then
      error(("mailauth.exchange.trust: %s[%d] must be a string"):format(what, i), 4)
    end
    out[i] = lower(d)
  end
  return out
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
    list[i] = { domain = lower(t.domain), name = t.domain,
                mapped = check_list(t.domains, ("tenants[%d].domains"):format(i)) }
  end
  return list
end

-- Does From fit a signature of d by tenant t?  From must be d itself or one
-- of t's mapped domains; a subdomain of a mapped custom domain also fits
-- (relaxed alignment), but never below onmicrosoft.com or a shared domain.
local function from_fits(t, d, from, shared)
  if from == d then return true end
  for _, m in ipairs(t.mapped) do
    if from == m then return true end
    if within(from, m) and not shared_parent_of(m, shared) then return true end
  end
  return false
end

-- The tenant whose domain (or a mapped one) is exactly d, with From fitting.
local function tenant_for(tenants, d, from, shared)
  for _, t in ipairs(tenants) do
    local signer = d == t.domain
    for _, m in ipairs(t.mapped) do if d == m then signer = true end end
    if signer and from_fits(t, d, from, shared) then return t end
  end
  return nil
end

-- The configured tenant whose onmicrosoft.com domain holds the key that a
-- DKIM result's CNAME chain (key_cnames, oldest first) ends at.
local function key_tenant_of(tenants, sig)
  local chain = sig.key_cnames
  if type(chain) ~= "table" or #chain == 0 then return nil end
  local last = chain[#chain]
  if type(last) == "table" then last = last.target or last.name or last[#last] end
  last = lower(last)
  if not last then return nil end
  for _, t in ipairs(tenants) do
    if within(t.domain, TENANT_PARENT) and t.domain ~= TENANT_PARENT
       and last ~= t.domain and within(last, t.domain) then
      return t
    end
  end
  return nil
end

-- rule -> code (doc/codes.md); "author" is DESIGN.md's "author is ambiguous".
local RULE_CODE = {
  author = "author_ambiguous", ["unsigned-field"] = "unsigned_field",
  ["l="] = "body_length", ["testing-key"] = "testing_key",
  ["future-timestamp"] = "future_timestamp", arc = "arc_insufficient",
  ["no-tenant-signature"] = "no_tenant_signature",
}

local function refuse(rule, text)
  return { rule = rule, code = RULE_CODE[rule], reason = rule .. ": " .. text }
end

--[[ What a signature leaves uncovered, as a refusal or nil.
  view: { unsigned_headers = "from, subject", body_length = n,
          unsigned_body_bytes = n, testing = bool, timestamp = n }
  what: "DKIM signature of contoso.com" or "ARC-Message-Signature i=2", for
  the reason.  Anything that is present but unreadable counts against. ]]
local function coverage_refusal(view, what, now, skew)
  local u = view.unsigned_headers
  if u ~= nil then
    if type(u) ~= "string" then
      return refuse("unsigned-field", what .. ": unsigned_headers is not readable")
    end
    for name in u:gmatch("[^,%s]+") do
      local n = name:lower()
      if SHOWN_FIELDS[n] or n:find("^%.%.") then
        return refuse("unsigned-field", ("%s leaves an added %s field unsigned (%s)")
                      :format(what, name, u))
      end
    end
  end
  local l, extra = view.body_length, view.unsigned_body_bytes
  if extra ~= nil and (type(extra) ~= "number" or extra > 0) then
    return refuse("l=", ("%s signs only part of the body (l=%s, %s bytes unsigned)")
                  :format(what, tostring(l), tostring(extra)))
  end
  if l ~= nil and extra == nil then
    return refuse("l=", ("%s has l=%s and the unsigned byte count is unknown")
                  :format(what, tostring(l)))
  end
  local testing = view.testing
  if testing ~= nil and testing ~= false then
    return refuse("testing-key", what .. " is made with a key in testing mode (t=y, RFC 6376 §3.6.1)")
  end
  local ts = view.timestamp
  if ts ~= nil and (type(ts) ~= "number" or ts > now + skew) then
    return refuse("future-timestamp", ("%s has t=%s, %s s ahead of the clock (%d)")
                  :format(what, tostring(ts),
                          type(ts) == "number" and tostring(ts - now) or "?", now))
  end
  return nil
end

-- RFC 5322 §2.2: the header section ends at the first empty line.  Returns
-- a function(name) -> value of the first field of that name (any case).
local function header_lookup(message)
  local fields = {}
  if type(message) ~= "string" then return function() return nil end end
  local pos, len = 1, #message
  while pos <= len do
    local eol = message:find("\n", pos, true) or len + 1
    local line = message:sub(pos, eol - 1):gsub("\r$", "")
    if line == "" then break end
    local name, value = line:match("^([!-9;-~]+)[ \t]*:(.*)$")
    if name then
      name = name:lower()
      if fields[name] == nil then fields[name] = value:match("^%s*(.-)%s*$") end
    end
    pos = eol + 1
  end
  return function(name) return fields[name] end
end

-- The evidence, each item saying whether anything cryptographic backs it.
-- evidence:add(name, value, verified) sets evidence[name] too (the older,
-- flat fields), so the adder lives in a metatable, not among the items.
local EVIDENCE_MT = { __index = {
  add = function(ev, name, value, verified)
    rawset(ev, name, value)
    ev.items[#ev.items + 1] = { name = name, value = value, verified = verified }
  end,
} }

local function new_evidence()
  return setmetatable({ items = {} }, EVIDENCE_MT)
end

local function from_domain(report)
  if report.from_domain then return lower(report.from_domain) end
  if type(report.dmarc) == "table" and report.dmarc.domain then return lower(report.dmarc.domain) end
  return nil
end

-- "author: ..." unless the report shows exactly one From field with one
-- mailbox, read without a problem (fields mailauth.check reports).
local function author_refusal(report)
  local fields, count = report.from_fields, report.from_count
  if type(fields) ~= "number" or type(count) ~= "number" then
    return refuse("author", "unknown (the report has no from_fields/from_count; use mailauth.check)")
  end
  if fields ~= 1 then return refuse("author", ("%d From fields, not one"):format(fields)) end
  if count ~= 1 then return refuse("author", ("%d mailboxes in From, not one"):format(count)) end
  if report.author_problem then
    return refuse("author", "the From field is ambiguous: " .. tostring(report.author_problem))
  end
  return nil
end

-- "unsigned-field: ..." when the message reader flagged the header section
-- (message_problem: a line that is not a field, say "Subject" folded before
-- its colon).  DKIM counts no copy of a field in such a line, but a client
-- that unfolds first may show it as one, above the signed copy.
local function header_refusal(report)
  local problem = report.message_problem
  if problem == nil or problem == false then return nil end
  return refuse("unsigned-field", ("the header section is not read cleanly (%s): a line "
                .. "no signature covers may be shown as a field"):format(tostring(problem)))
end

-- What the message's own DKIM-Signatures of d leave uncovered, whatever
-- their result, as a refusal or nil.  The ARC path rests on Microsoft's
-- dkim=pass of d, which says nothing of l= or of added copies: a tenant
-- signature with l= still passes there after text is appended to the
-- body, and Microsoft's seal then signs that text as its own.  The
-- signature must still be there: Microsoft's AMS does not sign
-- DKIM-Signature fields, so a hop after the seal can remove the one that
-- would show the l=.
local function signatures_refusal(dkim, d, now, skew)
  local seen = false
  for _, sig in ipairs(type(dkim) == "table" and dkim or {}) do
    if type(sig) == "table" and lower(sig.domain) == d then
      local bad = coverage_refusal(sig, "DKIM signature of " .. d .. " (reported by ARC)", now, skew)
      if bad then return bad end
      seen = true
    end
  end
  if not seen then
    return refuse("arc", ("the ARC-Authentication-Results report dkim=pass of %s, but the "
                          .. "message carries no DKIM-Signature of it (removed after the seal?)")
                         :format(d))
  end
  return nil
end

-- The dkim=pass results with one header.d of an AAR read in Microsoft's
-- dialect, or nil, why.
local function aar_dkim_passes(text, instance)
  if type(text) ~= "string" then return nil, "the newest set has no ARC-Authentication-Results" end
  local ok, authres = pcall(require, "mailauth.authres")
  if not ok then return nil, "mailauth.authres is not available" end
  local parsed, err = authres.parse(text, { dialect = "microsoft" })
  if not parsed then return nil, "its ARC-Authentication-Results do not parse: " .. tostring(err) end
  if parsed.instance ~= nil and instance ~= nil and tonumber(parsed.instance) ~= tonumber(instance) then
    return nil, "its ARC-Authentication-Results carry another instance"
  end
  local out = {}
  for _, r in ipairs(parsed.results or {}) do
    if lower(r.method) == "dkim" and lower(r.result) == "pass" then
      local d, several = nil, false
      for _, p in ipairs(r.properties or {}) do
        if lower(p.ptype) == "header" and lower(p.property) == "d" then
          if d ~= nil and d ~= lower(p.value) then several = true end
          d = lower(p.value)
        end
      end
      if d and not several then out[#out + 1] = d end
    end
  end
  return out
end

-- The ARC path: trusted tenant, or nil with a refusal (nil when ARC has
-- nothing to say).
local function arc_trust(report, tenants, from, shared, now, skew, evidence)
  local arc = report.arc
  if type(arc) ~= "table" or type(arc.chain) ~= "table" or #arc.chain == 0 then
    return nil, nil
  end
  local newest = arc.chain[#arc.chain]
  local sealer = lower(newest.domain)
  if arc.result ~= "pass" then return nil, refuse("arc", "the ARC chain does not pass") end
  if sealer ~= ARC_SEALER then
    return nil, refuse("arc", ("the newest ARC seal is by %s, not %s"):format(tostring(sealer), ARC_SEALER))
  end
  if newest.ams_result ~= nil and newest.ams_result ~= "pass" then
    return nil, refuse("arc", "the newest ARC-Message-Signature does not pass")
  end
  if newest.ams_domain ~= nil and lower(newest.ams_domain) ~= ARC_SEALER then
    return nil, refuse("arc", "the newest ARC-Message-Signature is not by " .. ARC_SEALER)
  end
  if newest.aar_problem then
    return nil, refuse("arc", "the newest ARC-Authentication-Results: " .. tostring(newest.aar_problem))
  end
  local what = ("ARC-Message-Signature i=%s of %s"):format(tostring(newest.instance), ARC_SEALER)
  local cov = coverage_refusal({ unsigned_headers = newest.ams_unsigned_headers,
                                 body_length = newest.ams_body_length,
                                 unsigned_body_bytes = newest.ams_unsigned_body_bytes,
                                 timestamp = newest.ams_timestamp }, what, now, skew)
  if cov then return nil, cov end
  local passes, why = aar_dkim_passes(newest.authentication_results, newest.instance)
  if not passes then return nil, refuse("arc", why) end
  for _, d in ipairs(passes) do
    local t = tenant_for(tenants, d, from, shared)
    local bad = t and signatures_refusal(report.dkim, d, now, skew)
    if bad then return nil, bad end
    if t then
      evidence:add("arc_dkim_domain", d, true)
      return t, ("ARC sealed by %s reports dkim=pass of %s, matching From %s"):format(ARC_SEALER, d, from)
    end
  end
  return nil, refuse("arc", ("the ARC-Authentication-Results of %s report no dkim=pass of a "
                             .. "configured tenant matching From %s (dmarc=, spf= or compauth= "
                             .. "pass is never enough)"):format(ARC_SEALER, from))
end

--- trust(report, { tenants = {...}, trust_arc = bool, trust_key_tenant = bool,
--                  message = text, now = seconds, clock_skew = seconds,
--                  shared_domains = {...} })
-- report: what mailauth.check returns (iprev, spf, dkim, dmarc, arc, now,
-- from_fields, from_count, author_problem), or the same fields gathered by
-- hand.  -> { trusted, tenant, via, evidence, reason, rule and code (when refused) }
function M.trust(report, opts)
  if type(report) ~= "table" then
    error("bad argument #1 to 'mailauth.exchange.trust' (report table expected)", 2)
  end
  opts = opts or {}
  if type(opts) ~= "table" then
    error("bad argument #2 to 'mailauth.exchange.trust' (table expected)", 2)
  end
  local tenants = check_tenants(opts.tenants)
  local shared = check_list(opts.shared_domains, "opts.shared_domains")
  local now = report.now or opts.now or os.time()
  local skew = opts.clock_skew or M.clock_skew
  if type(now) ~= "number" or type(skew) ~= "number" then
    error("mailauth.exchange.trust: now and clock_skew must be numbers", 2)
  end
  local from = from_domain(report)
  local ip = report.ip or (type(report.iprev) == "table" and report.iprev.ip) or nil

  local evidence = new_evidence()
  local header = header_lookup(opts.message)
  evidence:add("eop_ip", M.is_eop_ip(ip), false)
  evidence:add("eop_ptr", type(report.iprev) == "table" and report.iprev.result == "pass"
                          and is_eop_ptr(report.iprev.name) or false, false)
  evidence:add("spf_pass", type(report.spf) == "table" and report.spf.result == "pass" or false, false)
  local crosstenant = header("x-ms-exchange-crosstenant-id")
  evidence:add("crosstenant_header", crosstenant ~= nil, false)
  if crosstenant then evidence:add("crosstenant_id", crosstenant, false) end
  local org = header("x-originatororg")
  if org then evidence:add("originator_org", lower(org), false) end

  local function refused(r)
    return { trusted = false, evidence = evidence, reason = r.reason, rule = r.rule,
             code = r.code }
  end
  local function trusted(t, via, why)
    local bad = author_refusal(report) or header_refusal(report)
    if bad then return refused(bad) end
    return { trusted = true, tenant = t.name, via = via, evidence = evidence, reason = why }
  end

  if not from then
    return refused(refuse("author", "no single From domain in the report"))
  end

  local first_refusal
  for _, sig in ipairs(type(report.dkim) == "table" and report.dkim or {}) do
    if type(sig) == "table" and sig.result == "pass" and sig.domain then
      local d = lower(sig.domain)
      local t = tenant_for(tenants, d, from, shared)
      local kt = key_tenant_of(tenants, sig)
      if kt then evidence:add("key_tenant", kt.name, false) end
      local via_key = false
      if not t and kt and opts.trust_key_tenant and d == from
         and not shared_parent_of(d, shared) then
        t, via_key = kt, true
      end
      if t then
        local what = "DKIM signature of " .. d
        local bad = coverage_refusal(sig, what, now, skew)
        if bad then
          first_refusal = first_refusal or bad
        else
          evidence:add("dkim_domain", d, true)
          local why = via_key
            and ("DKIM signature of %s passes with a key of tenant %s (CNAME), From %s"):format(d, t.name, from)
            or ("DKIM signature of %s passes and matches From %s"):format(d, from)
          return trusted(t, "dkim", why)
        end
      end
    end
  end

  local arc = report.arc
  if type(arc) == "table" and type(arc.chain) == "table" and #arc.chain > 0 then
    local newest = arc.chain[#arc.chain]
    evidence:add("arc_sealer", lower(newest.domain), arc.result == "pass")
  end
  if opts.trust_arc then
    local t, why = arc_trust(report, tenants, from, shared, now, skew, evidence)
    if t then return trusted(t, "arc", why) end
    if why and not first_refusal then first_refusal = why end
  end
  if first_refusal then return refused(first_refusal) end

  local text = "no passing DKIM signature of a configured tenant matching From " .. from
  if evidence.eop_ip or evidence.eop_ptr then
    text = text .. " (Exchange Online IP/PTR alone is shared by every tenant)"
  end
  return refused(refuse("no-tenant-signature", text))
end

return M
