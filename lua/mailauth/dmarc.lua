-- mailauth.dmarc: the Lua side of DMARC (src/dmarc/): mailauth.dmarc and
-- mailauth.org_domain, which init.lua puts on the public table, and for
-- mailauth.check the run of one Author Domain (internal.dmarc_run) and of
-- several (each, RFC 7489 §6.6.1).
local internal = require "mailauth.internal"
local options = require "mailauth.options"

local M = {}

local OPTS = internal.declare {
  dmarc = { "dmarc:*", "resolver", "time_budget" }, org_domain = { "org_domain:psl_file" },
}

--- mailauth.dmarc{ from =, spf =, dkim =, resolver =, org_domain =, org_domain_compare =,
--                  psl_file =, pct_roll =, shared_domains =, author_problem =, author_code = }
-- RFC 7489 (org_domain = "psl", the default) or RFC 9989 (org_domain =
-- "tree"): the DNS tree walk of §4.10; the policy record is the Author
-- Domain's, else its Organizational Domain's, else its Public Suffix
-- Domain's (§4.10.1), and each SPF/DKIM identifier's Organizational Domain
-- comes from its own walk (§4.10.2; at most 8 lookups a walk, 96 in all:
-- an identifier whose walk does not fit aligns only by equality).  Under
-- "tree", pct= (and rf=, ri=) are ignored, t=y applies the policy one level
-- lower, psd=y/n/u shape the walk, np= needs NXDOMAIN (§3.2.13); under
-- "psl" pct= applies (RFC 7489 §6.6.4) and t= is ignored, np= as RFC 9091.
-- org_domain_compare = true: also the other method's Organizational Domain
-- of the From domain (results org_domain_psl, org_domain_tree,
-- org_domain_differs; under "psl" this costs the walk's lookups).
-- Results carry discovery_method ("psl" or "treewalk", RFC 9990) and, with
-- a policy, policy_published = { p, sp, np, adkim, aspf, psd, t, fo [, pct
-- under "psl"] }: the record's tags as evaluated, defaults filled in.  from: the RFC5322.From domain; or from_domains = {...}
-- with every domain of the From header (none or several distinct -> permerror:
-- one call evaluates one Author Domain; mailauth.check evaluates each of
-- several, RFC 7489 §6.6.1).  author_problem: why the From field could not be
-- read exactly (message_info's author_problem) -> permerror with that problem,
-- whatever domains are given: no policy is evaluated on part of an author;
-- author_code (message_info's) is the result's code (default
-- "author_ambiguous"; doc/codes.md).
-- spf: a mailauth.spf result (or { result =, domain = }); dkim: the list
-- mailauth.dkim_verify returns, as it is (or { { result =, domain = }, ... }).
-- pct_roll (0..99) picks the pct sample; without it a random roll is used.
-- shared_domains: names treated as public suffixes for relaxed alignment, as
-- onmicrosoft.com and the other Microsoft clouds' onmicrosoft.us,
-- onmicrosoft.de and partner.onmschina.cn always are (the result's
-- shared_parent names the one the From domain sits under).
-- deadline: nil for the call's own (time_budget); mailauth.check passes
-- the one it shares.  level: as error() counts it from here.
local function dmarc_run(opts, deadline, level)
  if type(opts) ~= "table" then internal.argerror("dmarc", 1, "table", opts, level) end
  -- spf and dkim go as they are: results of mailauth.spf and
  -- mailauth.dkim_verify (the core reads result and domain of each).
  local p = options.params("dmarc", opts, OPTS.dmarc, level + 1)
  deadline = deadline or internal.deadline_of(opts, "dmarc", level + 1)
  if p.pct_roll == nil then p.pct_roll = math.random(0, 99) end
  return internal.run("dmarc", internal.resolver_of(opts, "dmarc", level + 1), deadline, "dmarc", p)
end

function M.dmarc(opts)
  return (dmarc_run(opts, nil, 2))
end
internal.dmarc_run = dmarc_run

--- mailauth.org_domain(name [, { psl_file = }]) -> org_domain, registrable | nil, nil, problem
-- RFC 7489 §3.2 Organizational Domain from the Public Suffix List.  The list
-- file is read once per process and cached.  registrable is nil when name is
-- itself a public suffix (its org domain is then the name); both are nil for
-- a name that is not usable (".com", "a..b"), and with a third value, the
-- problem, when the list file cannot be read (code psl_unavailable).
function M.org_domain(name, opts)
  if type(name) ~= "string" then internal.argerror("org_domain", 1, "string", name) end
  opts = opts or {}
  if type(opts) ~= "table" then internal.argerror("org_domain", 2, "table or nil", opts) end
  options.check("org_domain", opts, OPTS.org_domain, 2)
  local r = internal.run("org_domain", nil, nil, "org_domain",
                         { domain = name, psl_file = opts.psl_file })
  return r.org_domain, r.registrable, r.problem
end

-- RFC 7489 §6.6.1: a From field with several mailboxes of several domains
-- ("apply the DMARC check using each of those domains ... and apply the most
-- strict policy selected among the checks that fail").  Done here, one
-- mailauth.dmarc per distinct domain, each with the same pct roll and
-- under the call's one deadline: the result
-- is "pass" only when every domain passes; else "fail" when any fails (its
-- policy and disposition the strictest of the failing ones), else the first
-- temperror, permerror or none.  Each domain's verdict is in domains.  More
-- distinct domains than MAX_FROM_DOMAINS: permerror (no partial evaluation).
local MAX_FROM_DOMAINS = 16
local STRICTNESS = { none = 1, quarantine = 2, reject = 3 }

--- each(domains, dopts, deadline) -> mailauth.check's DMARC result for an
-- author of several domains (dopts: dmarc_run's options but from).
function M.each(domains, dopts, deadline)
  if #domains > MAX_FROM_DOMAINS then
    return { result = "permerror", domains = {}, code = "author_limit",
             method = "dmarc", properties = {},
             problem = ("%d distinct RFC5322.From domains, more than %d are not evaluated")
                       :format(#domains, MAX_FROM_DOMAINS) }
  end
  if dopts.pct_roll == nil then dopts.pct_roll = math.random(0, 99) end
  local each, worst, first = {}, nil, {}
  for i, d in ipairs(domains) do
    dopts.from = d
    local r = dmarc_run(dopts, deadline, 4)
    each[i] = { domain = d, result = r.result, policy = r.policy,
                disposition = r.disposition, problem = r.problem, code = r.code }
    if r.result == "fail" then
      local s = STRICTNESS[r.disposition or r.policy or "none"] or 1
      if not worst or s > worst.s then worst = { s = s, r = r } end
    elseif r.result ~= "pass" and not first[r.result] then
      first[r.result] = r
    end
  end
  local pick = worst and worst.r or first.temperror or first.permerror or first.none
  local out = { result = "pass", domains = each }
  if pick then
    for k, v in pairs(pick) do out[k] = v end
    out.domains = each
  else
    out.policy, out.disposition = "none", "none"
    for _, e in ipairs(each) do
      if (STRICTNESS[e.policy] or 0) > (STRICTNESS[out.policy] or 0) then out.policy = e.policy end
    end
  end
  if out.result ~= "temperror" and out.result ~= "permerror" then
    out.rua, out.ruf = out.rua or {}, out.ruf or {}
  end
  -- One domain cannot stand for the author: the verdicts are in domains.
  out.domain, out.org_domain, out.policy_domain = nil, nil, nil
  -- so Authentication-Results names no header.from (RFC 8601 §2.7.4)
  out.method, out.properties = "dmarc", {}
  out.problem = ("several RFC5322.From domains (RFC 7489 §6.6.1: each checked, strictest policy)%s")
                :format(out.problem and ("; " .. out.problem) or "")
  -- the deciding domain's code, else the condition every such result shares
  out.code = out.code or "author_multiple_domains"
  return out
end

return M
