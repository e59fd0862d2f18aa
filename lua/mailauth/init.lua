-- mailauth: who really sent this message, and may I trust it?
--
-- The public Lua API (see DESIGN.md).  Every check is a job of the C core
-- that asks DNS questions; this file runs the loop that answers them.  With
-- a C resolver the loop runs in C; with a Lua function it runs here, so the
-- function may yield (Rspamd coroutines, HAProxy cosockets, LuaJIT too).

local core = require "mailauth.core"
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
M._options = OPTS

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

local default_resolver
local function resolver_of(opts)
  local r = opts.resolver
  if r == nil then
    if not default_resolver then
      default_resolver = assert(M.resolver())
    end
    return default_resolver
  end
  return r
end

local driver = require "mailauth.run"
local run = driver.run
M._run = run
M._run_all = driver.run_all

--- budget_of(opts, fname, level) -> seconds
-- The one reading of the time_budget option, for every public call and
-- both loops (C and Lua): seconds for the whole call, RFC 7208 §4.6.4's 20
-- by default; a number in (0, 3600], anything else (0, negative, NaN,
-- inf, a string) is the caller's mistake.  level: as error() counts it
-- from the function that calls budget_of.
local function budget_of(opts, fname, level)
  local b = opts.time_budget
  if b == nil then return driver.DEFAULT_BUDGET end
  if type(b) ~= "number" or b ~= b or b <= 0 or b > driver.MAX_BUDGET then
    options.bad(fname, "time_budget", (level or 1) + 1)
  end
  return b
end
M._budget_of = budget_of

-- The deadline of one public call: its time_budget from now.
local function deadline_of(opts, fname, level)
  return driver.deadline(budget_of(opts, fname, (level or 1) + 1))
end
M._deadline_of = deadline_of

local function check_error(fname, params, err, level)
  local ip = params.ip and not err:find("^option") and
             (" ('%s')"):format(tostring(params.ip):sub(1, 64)) or ""
  error(("mailauth.%s: %s%s"):format(fname, err, ip), level + 1)
end

local function new_check(fname, kind, params, level)
  local check, err = core.check(kind, params)
  if not check then check_error(fname, params, err, (level or 2) + 1) end
  return check
end

-- A check run to its end.  With a mailauth C resolver the whole check runs
-- inside one C call (core.run), with no check object for the GC.
local function run_new(fname, kind, params, resolver, deadline)
  if type(resolver) == "userdata" and resolver.query_many then
    local result, err = core.run(kind, params, resolver, deadline)
    if result == nil then check_error(fname, params, err, 3) end
    return result
  end
  return run(new_check(fname, kind, params, 3), resolver, deadline)
end

-- Each check in two halves, so that mailauth.check can run several at once:
-- prepare.X(...) -> check object, finish(result) -> what mailauth.X returns.
-- level: where the caller stands, as error() counts from the API function.
local prepare = {}

local function ip_arg(fname, ip)
  if type(ip) ~= "string" then argerror(fname, 1, "IP address string", ip, 2) end
end

--- mailauth.iprev(ip, opts) -> { result, name, names, ptr, problem, ip }
-- RFC 8601 §3: forward-confirmed reverse DNS.
function prepare.iprev(ip, opts, level)
  local check = new_check("iprev", "iprev", { ip = ip, max_names = opts.max_names }, level + 1)
  return check, function(r)
    r.names = r.names or {}
    return r
  end
end

function M.iprev(ip, opts)
  ip_arg("iprev", ip)
  opts = opts or {}
  if type(opts) ~= "table" then argerror("iprev", 2, "table or nil", opts) end
  options.check("iprev", opts, OPTS.iprev, 2)
  local deadline = deadline_of(opts, "iprev", 2)
  local check, finish = prepare.iprev(ip, opts, 2)
  return finish(run(check, resolver_of(opts), deadline))
end

--- mailauth.ptr(ip, opts) -> { name, ... } | nil, "nxdomain" | "temperror: ...", detail
function M.ptr(ip, opts)
  ip_arg("ptr", ip)
  opts = opts or {}
  if type(opts) ~= "table" then argerror("ptr", 2, "table or nil", opts) end
  options.check("ptr", opts, OPTS.ptr, 2)
  local deadline = deadline_of(opts, "ptr", 2)
  local check = new_check("ptr", "ptr", { ip = ip, max_names = opts.max_names })
  local r = run(check, resolver_of(opts), deadline)
  if r.result == "pass" then return r.ptr end
  if r.result == "temperror" then return nil, "temperror: " .. r.problem, r.problem end
  return nil, "nxdomain", r.problem
end

--- mailauth.spf{ ip =, sender =, helo =, resolver =, ... }
--> { result, scope, domain, record, mechanism, explanation, problem, lookups,
--    void_lookups, property ("smtp.mailfrom"|"smtp.helo"), identity (its value
--    for Authentication-Results), sender, ip, helo, received_spf }
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
-- received_spf is built on first read (most callers never look at it, and
-- building it cost more than the evaluation): one metatable for all
-- results, and the receiver option, when given, kept aside per result.
local spf_receiver = setmetatable({}, { __mode = "k" })
local SPF_RESULT_MT = {
  __index = function(t, k)
    if k ~= "received_spf" then return nil end
    local v = M.spf_received(t, { receiver = spf_receiver[t] })
    rawset(t, k, v)
    return v
  end,
}

-- The core's parameters: the options but those only this layer reads (the
-- core checks their kinds and ranges); the core reads no clock, so %{t}
-- comes from here.
local function spf_params(opts, level)
  local params = options.params("spf", opts, OPTS.spf, level + 1)
  if params.now == nil then params.now = os.time() end
  return params
end

local function spf_finish(r, opts)
  if opts.receiver ~= nil then spf_receiver[r] = opts.receiver end
  return setmetatable(r, SPF_RESULT_MT)
end

function prepare.spf(opts, level)
  local params = spf_params(opts, level + 1)
  return new_check("spf", "spf", params, level + 1), function(r) return spf_finish(r, opts) end
end

function M.spf(opts)
  if type(opts) ~= "table" then argerror("spf", 1, "table", opts) end
  local params = spf_params(opts, 2)
  local deadline = deadline_of(opts, "spf", 2)
  return spf_finish(run_new("spf", "spf", params, resolver_of(opts), deadline), opts)
end

-- RFC 7208 §9.1 comment and key-value pairs; values that are not a
-- dot-atom are quoted (RFC 5322 quoted-string).
local function kv_value(s)
  -- one character class only: patterns that can backtrack are quadratic
  if s:find("^[%w!#$%%&'*+/=?^_`{|}~%-%.]+$") and not s:find("^%.")
     and not s:find("..", 1, true) and not s:find("%.$") then
    return s
  end
  return '"' .. s:gsub('[%c"\\]', function(ch)
    if ch == '"' or ch == "\\" then return "\\" .. ch end
    return ""
  end) .. '"'
end

local RESULT_COMMENT = {
  pass = "domain of %s designates %s as permitted sender",
  fail = "domain of %s does not designate %s as permitted sender",
  softfail = "transitioning domain of %s does not designate %s as permitted sender",
  neutral = "%s is neither permitted nor denied by domain of %s",
  none = "domain of %s does not designate permitted sender hosts",
  temperror = "error in processing during lookup of %s",
  permerror = "permanent error in processing domain of %s",
}

--- mailauth.spf_received(result, { receiver = "mx.example.org" }) -> "Received-SPF: ..."
-- The header field of RFC 7208 §9.1 for a mailauth.spf result.
function M.spf_received(result, opts)
  if type(result) ~= "table" then argerror("spf_received", 1, "table", result) end
  opts = opts or {}
  if type(opts) ~= "table" then argerror("spf_received", 2, "table or nil", opts) end
  options.check("spf_received", opts, OPTS.spf_received, 2)
  local res = result.result or "none"
  local identity = result.identity or ""
  local ip = result.ip or ""
  local fmt = RESULT_COMMENT[res] or RESULT_COMMENT.permerror
  local comment
  if res == "neutral" then
    comment = fmt:format(ip, identity)
  elseif res == "pass" or res == "fail" or res == "softfail" then
    comment = fmt:format(identity, ip)
  else
    comment = fmt:format(identity)
  end
  local receiver = opts.receiver
  if receiver then comment = receiver .. ": " .. comment end
  comment = comment:gsub("[()\\]", "\\%0"):gsub("%c", "")
  local pairs_ = {}
  local function add(k, v)
    if v ~= nil and v ~= "" then pairs_[#pairs_ + 1] = k .. "=" .. kv_value(tostring(v)) end
  end
  add("client-ip", ip)
  add("envelope-from", result.sender)
  add("helo", result.helo)
  add("receiver", receiver)
  add("mechanism", result.mechanism)
  add("problem", result.problem and result.problem:sub(1, 200))
  add("identity", result.scope == "helo" and "helo" or "mailfrom")
  return ("Received-SPF: %s (%s) %s"):format(res, comment, table.concat(pairs_, "; "))
end

--- mailauth.dmarc{ from =, spf =, dkim =, resolver =, org_domain =, psl_file =, pct_roll =,
--                  shared_domains =, author_problem = }
-- RFC 7489 (org_domain = "psl", the default) or the DMARCbis tree walk
-- (org_domain = "tree").  from: the RFC5322.From domain; or from_domains = {...}
-- with every domain of the From header (none or several distinct -> permerror:
-- one call evaluates one Author Domain; mailauth.check evaluates each of
-- several, RFC 7489 §6.6.1).  author_problem: why the From field could not be
-- read exactly (message_info's author_problem) -> permerror with that problem,
-- whatever domains are given: no policy is evaluated on part of an author.
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
  local check = new_check("dmarc", "dmarc", p, level + 1)
  local r = run(check, resolver_of(opts), deadline)
  if r.result ~= "temperror" and r.result ~= "permerror" then
    r.rua = r.rua or {}
    r.ruf = r.ruf or {}
  end
  return r
end

function M.dmarc(opts)
  return (dmarc_run(opts, nil, 2))
end
M._dmarc_run = dmarc_run

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
  local check = new_check("org_domain", "org_domain", { domain = name, psl_file = opts.psl_file })
  local r = run(check, function() return { rcode = "TIMEOUT" } end)
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
  return message_finish[fname](run_new(fname, fname, message_params[fname](message, opts),
                                       resolver_of(opts), deadline))
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

function message_finish.dkim_verify(r) return r.signatures or {}, r.problem end

function prepare.dkim_verify(message, opts, level)
  return new_check("dkim_verify", "dkim_verify", message_params.dkim_verify(message, opts),
                   level + 1), message_finish.dkim_verify
end

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
  local check = new_check("dkim_sign", "dkim_sign", {
    message = message, domain = opts.domain, selector = opts.selector, key = opts.key,
    algorithm = opts.algorithm, canonicalization = opts.canonicalization,
    headers = opts.headers, expire = opts.expire, identity = opts.identity,
    now = opts.now or os.time() })
  local r = run(check, function() return { rcode = "SERVFAIL" } end) -- asks nothing
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

function prepare.arc_verify(message, opts, level)
  return new_check("arc_verify", "arc_verify", message_params.arc_verify(message, opts),
                   level + 1), message_finish.arc_verify
end

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
  local check = new_check("arc_seal", "arc_seal", {
    message = message, domain = opts.domain, selector = opts.selector, key = opts.key,
    algorithm = opts.algorithm, authserv_id = opts.authserv_id,
    authentication_results = ar, cv = opts.cv, headers = opts.headers,
    now = opts.now or os.time() })
  local r = run(check, function() return { rcode = "SERVFAIL" } end) -- asks nothing
  if not r.seal then return nil, r.problem end
  return r.seal .. "\r\n" .. r.message_signature .. "\r\n" .. r.authentication_results, r
end

--- mailauth.message_info(message) -> { from_fields, from_count, from_addresses,
--                                      from_domains, author_problem, fields, problem }
-- The author, read without DNS by the strict From reader (src/core/author.c: RFC
-- 5322 §3.6.2 mailbox-list, §3.4, §3.2): from_fields From fields, from_count
-- mailboxes, their addresses ("local@domain", domain lower-cased) and distinct
-- domains.  author_problem (absent when clean) says why the author cannot be
-- read exactly (several or no From fields, groups, encoded-words holding
-- addresses, bare CR, limits, ...): then nothing may rest on it.  problem: the
-- message reader's (limits, lines that are not fields, line ends).
function M.message_info(message)
  if type(message) ~= "string" then argerror("message_info", 1, "message string", message) end
  return run(new_check("message_info", "message_info", { message = message }),
             function() return { rcode = "SERVFAIL" } end)
end

M._prepare = prepare
M._resolver_of = resolver_of

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
