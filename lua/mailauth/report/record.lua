-- mailauth.report.record: one mailauth.check result as an RFC 9990
-- aggregate-report record (§3.1: row, identifiers, auth_results; the
-- policy_published of the record used).  A record holds only what the
-- report will say: no local part of an address, no message content.
local strip = require("mailauth.report.xml").strip

local M = {}

-- Without the characters XML cannot carry (report/xml.lua's strip), and a
-- bound on each text: a stored record is built from what the sender
-- wrote (a DKIM problem text, a domain), so it is cleaned here once.
local MAX_TEXT = 255
local function text(s)
  if type(s) ~= "string" then return nil end
  s = strip(s)
  if #s > MAX_TEXT then s = s:sub(1, MAX_TEXT) end
  return s
end

-- The domain of an address (the part after the last "@"), lowercased;
-- a bare domain stays itself.
local function domain_of(addr)
  if type(addr) ~= "string" or addr == "" then return nil end
  local d = addr:match("@([^@]*)$") or addr
  d = d:gsub("^%[", ""):gsub("%]$", ""):gsub(">$", ""):lower()
  if d == "" then return nil end
  return text(d)
end
M.domain_of = domain_of

local DISPOSITION = { none = true, quarantine = true, reject = true }
local ALIGNMENT = { r = true, s = true }

-- policy_published (RFC 9990 §3.1.1's PolicyPublishedType) of a DMARC
-- result: the core's map (p, sp, np, adkim, aspf, t, fo, ...; every result
-- with a policy has one, src/dmarc/dmarc.c put_published), the result's
-- own policy and alignment modes for what a hand-made result leaves out.
-- Only values the schema allows are kept: a report is not the place to
-- repeat a broken tag.
local function policy_published(dmarc)
  local pub = type(dmarc.policy_published) == "table" and dmarc.policy_published or {}
  local out = { domain = text(dmarc.policy_domain) }
  for _, tag in ipairs { "p", "sp", "np" } do
    local v = type(pub[tag]) == "string" and pub[tag]:lower() or nil
    if DISPOSITION[v] then out[tag] = v end
  end
  -- p= is required; a result with a policy but no readable p= is one
  -- whose policy the core took (an sp= for a subdomain, a PSD's)
  out.p = out.p or (DISPOSITION[dmarc.policy] and dmarc.policy) or "none"
  for _, tag in ipairs { "adkim", "aspf" } do
    local v = type(pub[tag]) == "string" and pub[tag]:lower() or dmarc[tag]
    if ALIGNMENT[v] then out[tag] = v end
  end
  local t = pub.t
  if t == true or t == "y" or t == "Y" then out.testing = "y"
  elseif t == false or t == "n" or t == "N" then out.testing = "n" end
  -- RFC 7489 §6.4 allows space and tab around the colons ("0 : d"): the
  -- same options, reported without them
  local fo = type(pub.fo) == "string" and pub.fo:gsub("[ \t]", "") or nil
  if fo and fo:match("^[01ds:]+$") then out.fo = fo end
  local dm = dmarc.discovery_method
  out.discovery_method = (dm == "treewalk" or dm == "psl") and dm or "psl"
  return out
end

-- RFC 8601 §2.7.1's DKIM results, as RFC 9990's DKIMResultType has them.
local DKIM_RESULT = { none = true, pass = true, fail = true, policy = true, neutral = true,
                      temperror = true, permerror = true }
local SPF_RESULT = { none = true, pass = true, fail = true, softfail = true, policy = true,
                     neutral = true, temperror = true, permerror = true }

local function dkim_results(sigs)
  local out = {}
  for _, s in ipairs(sigs or {}) do
    -- a signature without d= or s= cannot be named in a report (both are
    -- required by the schema)
    local d, sel = text(s.domain), text(s.selector)
    if d and d ~= "" and sel and sel ~= "" then
      out[#out + 1] = { domain = d:lower(), selector = sel,
                        result = DKIM_RESULT[s.result] and s.result or "permerror",
                        human_result = text(s.problem) }
    end
  end
  return out
end

-- RFC 9990's SPFDomainScope has "mfrom" only: the MAIL FROM check (its
-- domain the HELO's for a null reverse-path, RFC 7208 §2.4) is the one
-- reported; a separate HELO check is not.
local function spf_results(spf)
  if type(spf) ~= "table" or not text(spf.domain) or spf.domain == "" then return {} end
  return { { domain = text(spf.domain):lower(), scope = "mfrom",
             result = SPF_RESULT[spf.result] and spf.result or "permerror",
             human_result = text(spf.problem) } }
end

local REASONS = { local_policy = true, mailing_list = true, other = true,
                  policy_test_mode = true, trusted_forwarder = true }
M.REASONS = REASONS

-- The reasons of policy_evaluated: the caller's (a local override), and
-- policy_test_mode when t=y made a failing message's disposition milder
-- than the policy (RFC 9989 §4.7 t=).
local function reasons(given, dmarc, pub)
  local out = {}
  for i, r in ipairs(given or {}) do
    local kind = type(r) == "table" and r.type or r
    if not REASONS[kind] then
      return nil, ("reasons[%d] must be one of local_policy, mailing_list, other, "
                   .. "policy_test_mode, trusted_forwarder"):format(i)
    end
    out[#out + 1] = { type = kind, comment = type(r) == "table" and text(r.comment) or nil }
  end
  if pub.testing == "y" and dmarc.result == "fail" and dmarc.disposition ~= dmarc.policy then
    local seen = false
    for _, r in ipairs(out) do seen = seen or r.type == "policy_test_mode" end
    if not seen then out[#out + 1] = { type = "policy_test_mode" } end
  end
  return out
end

-- envelope_to: the recipients' domain when they share one (the element
-- holds one domain); several domains leave it out.
local function envelope_to(recipients)
  local d
  for _, rcpt in ipairs(recipients or {}) do
    local this = domain_of(rcpt)
    if this and d and this ~= d then return nil end
    d = d or this
  end
  return d
end

--- record(report, opts) -> record | nil, problem
-- opts: recipients (list of addresses; default report.recipients),
-- reasons (list of names or { type =, comment = }), now.
function M.record(report, opts)
  local dmarc = report.dmarc
  if type(dmarc) ~= "table" or not dmarc.policy_domain or not dmarc.policy then
    return nil, "no DMARC policy was applied (nothing to report)"
  end
  local pub = policy_published(dmarc)
  local why
  local rs, rerr = reasons(opts.reasons, dmarc, pub)
  if not rs then return nil, rerr end
  local disposition = dmarc.disposition or "none"
  -- RFC 9990 ActionDispositionType: "pass" for a pass under an enforcing policy
  if dmarc.result == "pass" and pub.p ~= "none" then disposition = "pass" end
  if not ({ none = 1, pass = 1, quarantine = 1, reject = 1 })[disposition] then
    disposition = "none"
  end
  local header_from = domain_of(report.from_domain or dmarc.domain)
  if not header_from then return nil, "no RFC5322.From domain" end
  local sender = report.sender
  local envelope_from = domain_of(sender ~= "" and sender or nil) or domain_of(report.helo)
  if report.ip == nil then why = "no source IP" end
  if why then return nil, why end
  return {
    time = math.floor(opts.now or report.now or os.time()),
    policy_domain = pub.domain:lower(),
    rua = dmarc.rua or {},
    policy_published = pub,
    row = {
      source_ip = text(report.ip),
      policy_evaluated = {
        disposition = disposition,
        dkim = dmarc.dkim_aligned and "pass" or "fail",
        spf = dmarc.spf_aligned and "pass" or "fail",
        reason = rs,
      },
    },
    identifiers = {
      header_from = header_from, envelope_from = envelope_from,
      envelope_to = envelope_to(opts.recipients or report.recipients),
    },
    auth_results = { dkim = dkim_results(report.dkim), spf = spf_results(report.spf) },
  }
end

return M
