-- mailauth: who really sent this message, and may I trust it?
--
-- The public Lua API (see DESIGN.md).  Every check is a job of the C core
-- that asks DNS questions; mailauth.internal's one dispatcher runs them:
-- with a C resolver the loop runs in C; with a Lua function it runs in
-- Lua, so the function may yield (Rspamd coroutines, HAProxy cosockets,
-- LuaJIT too); a job that asks nothing runs with no resolver at all.

local core = require "mailauth.core"
local internal = require "mailauth.internal"
local options = require "mailauth.options"

local M = {
  _VERSION = "mailauth scm",
  _LUA_VERSION = core._LUA_VERSION,
  core = core,
}

-- level: 1 for the API function itself, more for helpers it calls.
local function argerror(fname, n, what, value, level)
  error(("bad argument #%d to 'mailauth.%s' (%s expected, got %s)")
        :format(n, fname, what, type(value)), 2 + (level or 1))
end

-- The options each public function takes (lua/mailauth/options.lua): a
-- name outside its list raises, with the name it most likely meant.
local OPTS = {
  iprev = options.declare { "iprev:max_names", "resolver", "time_budget" },
  ptr = options.declare { "ptr:max_names", "resolver", "time_budget" },
  spf = options.declare { "spf:*", "resolver", "time_budget" },
  spf_received = options.declare { "spf:receiver" },
  dmarc = options.declare { "dmarc:*", "resolver", "time_budget" },
  org_domain = options.declare { "org_domain:psl_file" },
  dkim_verify = options.declare { "dkim_verify:*", "-message", "resolver", "time_budget" },
  dkim_sign = options.declare { "dkim_sign:*", "-message" },
  arc_verify = options.declare { "arc_verify:*", "-message", "resolver", "time_budget" },
  arc_seal = options.declare { "arc_seal:*", "-message" },
}
OPTS.resolver = options.declare { "nameservers", "timeout", "retries", "cache", "cache_bytes",
                                  "resolv_conf", "zones", "zonefiles" }
internal.options = OPTS

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("*a")
  f:close()
  return text
end

--- mailauth.resolver([opts]) -> resolver | nil, reason
-- nil or {}: the system resolver (/etc/resolv.conf); { nameservers = {...},
-- timeout =, retries =, cache =, cache_bytes = }: ldns over the network
-- (cache: answers kept, default 10000; cache_bytes: the bytes they may
-- hold, default 16 MiB, an answer over 1/16 of it not kept; r:stats()
-- reports cache_entries and cache_bytes); { zones = {text,...} }
-- or { zonefiles = {path,...} }: offline answers from master files.
-- Instead of one of these, every check also takes a Lua function
-- (name, qtype, timeout) -> answer (timeout: seconds left of the call's
-- time_budget, a hint the function should honour; it may yield).
function M.resolver(opts)
  opts = opts or {}
  if type(opts) ~= "table" then argerror("resolver", 1, "table or nil", opts) end
  options.check("resolver", opts, OPTS.resolver, 2)
  if opts.zones ~= nil or opts.zonefiles ~= nil then
    local texts = {}
    for i, text in ipairs(opts.zones or {}) do
      if type(text) ~= "string" then
        error(("mailauth.resolver: zones[%d] must be zone-file text"):format(i), 2)
      end
      texts[#texts + 1] = text
    end
    for i, path in ipairs(opts.zonefiles or {}) do
      if type(path) ~= "string" then
        error(("mailauth.resolver: zonefiles[%d] must be a path"):format(i), 2)
      end
      local text, err = read_file(path)
      if not text then return nil, err end
      texts[#texts + 1] = text
    end
    return core.zone_resolver(texts)
  end
  local copy = {}
  for k, v in pairs(opts) do copy[k] = v end
  if copy.cache == nil then copy.cache = 10000 end
  return core.resolver(copy)
end

local run = internal.run
local resolver_of = internal.resolver_of
local deadline_of = internal.deadline_of

-- Each check in two halves, so that mailauth.check can run several at once:
-- prepare.X(...) -> job (for internal.run), finish(result) -> what
-- mailauth.X returns.
local prepare = internal.prepare

local function ip_arg(fname, ip)
  if type(ip) ~= "string" then argerror(fname, 1, "IP address string", ip, 2) end
end

--- mailauth.iprev(ip, opts) -> { result, name, names, ptr, problem, code, ip }
-- RFC 8601 §3: forward-confirmed reverse DNS.
local function iprev_params(ip, opts) return { ip = ip, max_names = opts.max_names } end

function prepare.iprev(ip, opts)
  return { "iprev", iprev_params(ip, opts), nil, "iprev" }, function(r) return r end
end

function M.iprev(ip, opts)
  ip_arg("iprev", ip)
  opts = opts or {}
  if type(opts) ~= "table" then argerror("iprev", 2, "table or nil", opts) end
  options.check("iprev", opts, OPTS.iprev, 2)
  local deadline = deadline_of(opts, "iprev", 2)
  return run("iprev", resolver_of(opts), deadline, "iprev", iprev_params(ip, opts))
end

--- mailauth.ptr(ip, opts) -> { name, ... } | nil, "nxdomain" | "temperror: ...", detail
function M.ptr(ip, opts)
  ip_arg("ptr", ip)
  opts = opts or {}
  if type(opts) ~= "table" then argerror("ptr", 2, "table or nil", opts) end
  options.check("ptr", opts, OPTS.ptr, 2)
  local deadline = deadline_of(opts, "ptr", 2)
  local r = run("ptr", resolver_of(opts), deadline, "ptr", { ip = ip, max_names = opts.max_names })
  if r.result == "pass" then return r.ptr end
  if r.result == "temperror" then return nil, "temperror: " .. r.problem, r.problem end
  return nil, "nxdomain", r.problem
end

--- mailauth.spf{ ip =, sender =, helo =, resolver =, ... }
--> { result, scope, domain, record, mechanism, explanation, problem, code, lookups,
--    void_lookups, sender, ip, helo, received_spf (written on first read), method = "spf",
--    properties = { { ptype = "smtp", property = "mailfrom"|"helo", value } } }
-- RFC 7208 check_host() for the MAIL FROM identity (scope "mfrom", the
-- default; an empty sender checks postmaster@helo, §2.4) or the HELO
-- identity (scope = "helo", §2.3).  Options:
--   receiver             %{r} in explanations (§7.2), default "unknown"
--   now                  %{t}, seconds since the epoch; default os.time()
--   default_explanation  local-policy text for a fail without usable exp= (§6.2);
--                        macros are expanded; absent: no explanation
--   max_lookups          DNS-querying terms, default 10 (§4.6.4)
--   max_void_lookups     terms whose lookup found nothing, default 2 (§4.6.4)
--   max_mx_names         MX records of one mx term, default 10, more is permerror (§4.6.4)
--   max_ptr_names        PTR names examined by ptr and %{p}, default 10, rest ignored (§4.6.4)
--   time_budget          seconds for the whole check, default 20 (§4.6.4); late
--                        answers become TIMEOUT, hence temperror
-- Records longer than 4096 bytes and macro expansions over 1 MiB are permerror.
-- The core's parameters: the options but those only this layer reads (the
-- core checks their kinds and ranges); the core reads no clock, so %{t}
-- comes from here.  level: where the API caller stands, as error() counts
-- it from here.
local function spf_params(opts, level)
  local params = options.params("spf", opts, OPTS.spf, level + 1)
  if params.now == nil then params.now = os.time() end
  return params
end

-- received_spf: written on first read, by the C writer that a C host's
-- results get it from (mauth_received_spf_format, which the binding has
-- the core leave to it): most callers never read it, and writing it is a
-- fifth of an evaluation.  core.received_reader gives the result the
-- metatable that does it (src/lua/lmailauth.c, l_received_index), with
-- the call's receiver; once read, the table is a plain table.
local received_reader = core.received_reader
local function spf_finish(r, opts)
  return received_reader(r, opts.receiver)
end

function prepare.spf(opts, level)
  return { "spf", spf_params(opts, level + 1), nil, "spf" },
         function(r) return spf_finish(r, opts) end
end

-- mailauth.spf runs per message, so its options go to C as they are (the
-- core checks the names and values; internal.run_checked words errors as
-- options.check does): no copy, no loop over them in Lua.
-- core.spf first: the common call (a C resolver or a Lua function, no
-- metatable on opts) does there what the lines below do, in one C call
-- (a C resolver: the result) or with one check left for the Lua loop;
-- nil for any other call, or options it refuses, which the lines below
-- then word.
local run_checked, core_spf, lua_loop = internal.run_checked, core.spf, internal.lua_loop
function M.spf(opts)
  local resolver = type(opts) == "table" and opts.resolver or nil
  local r, deadline = core_spf(opts, resolver)
  if deadline then return spf_finish(lua_loop(r, resolver, deadline), opts) end
  if r then return r end
  if type(opts) ~= "table" then argerror("spf", 1, "table", opts) end
  local deadline = deadline_of(opts, "spf", 2)
  local defaults = opts.now == nil and { now = os.time() } or nil
  return spf_finish(run_checked("spf", resolver_of(opts), deadline, "spf", opts, OPTS.spf,
                               defaults), opts)
end

--- mailauth.spf_received(result, { receiver = "mx.example.org" }) -> "Received-SPF: ..."
-- The header field of RFC 7208 §9.1 for a mailauth.spf result.
function M.spf_received(result, opts)
  if type(result) ~= "table" then argerror("spf_received", 1, "table", result) end
  opts = opts or {}
  if type(opts) ~= "table" then argerror("spf_received", 2, "table or nil", opts) end
  options.check("spf_received", opts, OPTS.spf_received, 2)
  -- the C writer (src/authres/authres_format.c); the identity is the
  -- value of the result's smtp.mailfrom / smtp.helo property
  return core.header("received_spf", result, { receiver = opts.receiver })
end

--- mailauth.dmarc{ from =, spf =, dkim =, resolver =, org_domain =, psl_file =, pct_roll =,
--                  shared_domains =, author_problem =, author_code = }
-- RFC 7489 (org_domain = "psl", the default) or the DMARCbis tree walk
-- (org_domain = "tree").  from: the RFC5322.From domain; or from_domains = {...}
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
-- onmicrosoft.com always is (the result's shared_parent names the one the
-- From domain sits under).
-- deadline: nil for the call's own (time_budget); mailauth.check passes
-- the one it shares.  level: as error() counts it from here.
local function dmarc_run(opts, deadline, level)
  if type(opts) ~= "table" then argerror("dmarc", 1, "table", opts, level) end
  -- spf and dkim go as they are: results of mailauth.spf and
  -- mailauth.dkim_verify (the core reads result and domain of each).
  local p = options.params("dmarc", opts, OPTS.dmarc, level + 1)
  deadline = deadline or deadline_of(opts, "dmarc", level + 1)
  if p.pct_roll == nil then p.pct_roll = math.random(0, 99) end
  return run("dmarc", resolver_of(opts), deadline, "dmarc", p)
end

function M.dmarc(opts)
  return (dmarc_run(opts, nil, 2))
end
internal.dmarc_run = dmarc_run

--- mailauth.org_domain(name [, { psl_file = }]) -> org_domain, registrable
-- RFC 7489 §3.2 Organizational Domain from the Public Suffix List.  The list
-- file is read once per process and cached.  registrable is nil when name is
-- itself a public suffix (its org domain is then the name); both are nil for
-- a name that is not usable (".com", "a..b").
function M.org_domain(name, opts)
  if type(name) ~= "string" then argerror("org_domain", 1, "string", name) end
  opts = opts or {}
  if type(opts) ~= "table" then argerror("org_domain", 2, "table or nil", opts) end
  options.check("org_domain", opts, OPTS.org_domain, 2)
  local r = run("org_domain", nil, nil, "org_domain", { domain = name, psl_file = opts.psl_file })
  return r.org_domain, r.registrable
end

-- Argument rules shared by the functions that take a message.  depth: how
-- far below the API function the caller of these helpers is (0: the API
-- function itself).
local function message_args(fname, message, opts, required, depth)
  depth = depth or 0
  if type(message) ~= "string" then argerror(fname, 1, "message string", message, 2 + depth) end
  if opts == nil and not required then return {} end
  if type(opts) ~= "table" then
    argerror(fname, 2, required and "table" or "table or nil", opts, 2 + depth)
  end
  return opts
end

-- Signers: a message and a table whose names the core checks (domain,
-- selector and key required, headers a list of names).
local function signer_args(fname, message, opts)
  message_args(fname, message, opts, true, 1)
  options.check(fname, opts, OPTS[fname], 3)
end

-- The verifiers of a message: their check parameters, and what their API
-- function makes of the check's result.
local message_params, message_finish = {}, {}

-- A message check run to its end (dkim_verify, arc_verify), in one C call
-- when the resolver is mailauth's own.
local function run_message(fname, message, opts, deadline)
  return message_finish[fname](run(fname, resolver_of(opts), deadline, fname,
                                   message_params[fname](message, opts)))
end

-- The job of a message check for mailauth.check: parsed is the message
-- read once (core.message), shared by every check of the call.
local function message_job(fname, parsed, opts)
  local params = message_params[fname](nil, opts)
  return { fname, params, parsed, fname }, message_finish[fname]
end

--- mailauth.dkim_verify(message, opts) -> { signature result, ... }[, problem]
-- RFC 6376 (+ RFC 8463 Ed25519, RFC 8301).  One entry per DKIM-Signature,
-- in header order; {} when there is none.  opts: resolver, now (default
-- os.time()), allow_sha1 (default false: rsa-sha1 gives "policy"),
-- min_key_bits (default 1024), legacy_versions (default false: a missing
-- v= or the draft v=0.5 is a permerror).  A second value reports a message that hit
-- the reader's limits.
function message_params.dkim_verify(message, opts)
  return { message = message, now = opts.now or os.time(), allow_sha1 = opts.allow_sha1,
           min_key_bits = opts.min_key_bits, legacy_versions = opts.legacy_versions }
end

function message_finish.dkim_verify(r) return r.signatures, r.problem end

function prepare.dkim_verify(parsed, opts) return message_job("dkim_verify", parsed, opts) end

function M.dkim_verify(message, opts)
  opts = message_args("dkim_verify", message, opts)
  options.check("dkim_verify", opts, OPTS.dkim_verify, 2)
  return run_message("dkim_verify", message, opts, deadline_of(opts, "dkim_verify", 2))
end

--- mailauth.dkim_sign(message, opts) -> "DKIM-Signature: ..." | nil, reason
-- opts: domain, selector, key (PEM), algorithm ("rsa-sha256" default or
-- "ed25519-sha256"), canonicalization ("relaxed/relaxed" default),
-- headers (names to sign; default: those of RFC 6376 5.4.1 present, From
-- once more than present), expire (seconds; adds x=), identity (i=),
-- now (default os.time()).  The text is folded with CRLF TAB and has no
-- final CRLF: prepend it as  header .. "\r\n" .. message.
function M.dkim_sign(message, opts)
  signer_args("dkim_sign", message, opts)
  local r = run("dkim_sign", nil, nil, "dkim_sign", { -- asks no DNS
    message = message, domain = opts.domain, selector = opts.selector, key = opts.key,
    algorithm = opts.algorithm, canonicalization = opts.canonicalization,
    headers = opts.headers, expire = opts.expire, identity = opts.identity,
    now = opts.now or os.time() })
  if r.header then return r.header end
  return nil, r.problem
end

--- mailauth.arc_verify(message, opts) -> { result =, instances =, chain =, oldest_pass =, problem = }
-- RFC 8617 §5.2.  result: "none" (no ARC field), "pass" or "fail" (problem
-- says why).  chain: one entry per ARC set, oldest first: { instance,
-- domain, selector (of the ARC-Seal), cv, seal_result, ams_result,
-- ams_domain, ams_selector, authentication_results (the AAR value, whole;
-- absent with aar_problem when over 65536 bytes), seal_problem, ams_problem,
-- ams_headers (h= names, lower-case), ams_unsigned_headers ("from, subject":
-- signed names the message holds more often than h= covers; absent when
-- none), ams_body_length and ams_unsigned_body_bytes (with l=),
-- ams_timestamp (t=) }.  oldest_pass (with pass): 0 when every AMS
-- validates, else the oldest instance from which they all do (§5.2 step 5).
-- opts: resolver, now (default os.time()), min_key_bits (default 1024).
function message_params.arc_verify(message, opts)
  return { message = message, now = opts.now or os.time(), min_key_bits = opts.min_key_bits }
end

function message_finish.arc_verify(r) return r end

function prepare.arc_verify(parsed, opts) return message_job("arc_verify", parsed, opts) end

function M.arc_verify(message, opts)
  opts = message_args("arc_verify", message, opts)
  options.check("arc_verify", opts, OPTS.arc_verify, 2)
  return run_message("arc_verify", message, opts, deadline_of(opts, "arc_verify", 2))
end

--- mailauth.arc_seal(message, opts) -> "ARC-Seal: ...\r\nARC-Message-Signature: ...\r\nARC-Authentication-Results: ...", fields
--                                     | nil, reason
-- RFC 8617 §5.1.  opts: domain, selector, key (PEM), algorithm ("rsa-sha256"
-- default, or "ed25519-sha256"), authserv_id, authentication_results (the
-- results this hop found, e.g. "spf=pass ...; dkim=pass ...; arc=pass", or a
-- whole Authentication-Results value or field), cv ("none"|"pass"|"fail";
-- default: the arc= result in authentication_results, else none), headers
-- (names the AMS signs; default those of RFC 6376 5.4.1 present, plus
-- DKIM-Signature), now (default os.time()).  The text has no final CRLF:
-- prepend it as  text .. "\r\n" .. message.  fields: { seal,
-- message_signature, authentication_results, instance, cv }.
-- No set is added to a chain whose newest seal says cv=fail (nil, reason).
function M.arc_seal(message, opts)
  signer_args("arc_seal", message, opts)
  local ar = opts.authentication_results or ""
  local r = run("arc_seal", nil, nil, "arc_seal", { -- asks no DNS
    message = message, domain = opts.domain, selector = opts.selector, key = opts.key,
    algorithm = opts.algorithm, authserv_id = opts.authserv_id,
    authentication_results = ar, cv = opts.cv, headers = opts.headers,
    now = opts.now or os.time() })
  if not r.seal then return nil, r.problem end
  return r.seal .. "\r\n" .. r.message_signature .. "\r\n" .. r.authentication_results, r
end

--- mailauth.message_info(message) -> { from_fields, from_count, from_addresses,
--                                      from_domains, author_problem, author_code, fields,
--                                      problem, code }
-- The author, read without DNS by the strict From reader (src/core/author.c: RFC
-- 5322 §3.6.2 mailbox-list, §3.4, §3.2): from_fields From fields, from_count
-- mailboxes, their addresses ("local@domain", domain lower-cased) and distinct
-- domains.  author_problem (absent when clean) says why the author cannot be
-- read exactly (several or no From fields, groups, encoded-words holding
-- addresses, bare CR, limits, ...): then nothing may rest on it; author_code is
-- its stable word.  problem: the message reader's (limits, lines that are not
-- fields, line ends), code its word.  Every problem of every result comes with
-- such a code: doc/codes.md lists them.
function M.message_info(message)
  if type(message) ~= "string" then argerror("message_info", 1, "message string", message) end
  return run("message_info", nil, nil, "message_info", { message = message })
end

-- The From reader's job for mailauth.check, on the message read once.
function prepare.message_info(parsed)
  return { "message_info", {}, parsed, "message_info" }, function(r) return r end
end

M.dns = {
  query_wire = core.query_wire,
  parse_wire = core.parse_wire,
}

-- Authentication-Results (RFC 8601): parse and format.
M.authres = require("mailauth.authres")

--- mailauth.check(message, { ip, helo, sender, resolver, authserv_id, now, ... })
-- Everything at once: see lua/mailauth/check.lua.
function M.check(message, opts)
  -- not a tail call: check.lua's errors count this frame to name the caller
  local report = require("mailauth.check").check(M, message, opts)
  return report
end

return M
