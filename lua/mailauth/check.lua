-- mailauth.check: every check for one message in one call.
--
-- iprev, SPF for MAIL FROM and for HELO, DKIM, ARC and the From reader do
-- not depend on each other: they run together (internal.run), so each
-- round of their DNS questions goes out as one batch.  The message is read
-- once (core.message) and DKIM, ARC and the From reader share that one
-- parse.  DMARC needs their results and runs after them.  The
-- Authentication-Results header is written from all of it.
--
-- One deadline (time_budget, default 20 s, RFC 7208 §4.6.4) bounds the
-- whole call, DMARC included: when it passes, what is still open is
-- TIMEOUT (temperror, the problem naming the question), and the results
-- found before it are kept.
local core = require "mailauth.core"
local internal = require "mailauth.internal"
local options = require "mailauth.options"

local M = {}

local function argerror(n, what, value)
  error(("bad argument #%d to 'mailauth.check' (%s expected, got %s)")
        :format(n, what, type(value)), 4)
end

-- What mailauth.check takes: the options it hands on to the checks, named
-- as they name them, each value checked here (a mistake is mailauth.check's,
-- not one of the checks').
local OPTS = options.declare({ "spf:ip", "spf:helo", "spf:sender", "spf:receiver", "spf:now",
                               "authserv_id", "dkim_verify:allow_sha1", "dmarc:org_domain",
                               "dmarc:psl_file", "dmarc:pct_roll", "dmarc:shared_domains",
                               "resolver", "time_budget" }, true)
M._options = OPTS

-- DMARC for an author of several domains (RFC 7489 §6.6.1): dmarc.lua.
local dmarc_each = require("mailauth.dmarc").each

-- The Authentication-Results field (RFC 8601 §2.7's order: iprev, SPF for
-- MAIL FROM then HELO, DKIM, DMARC, ARC), written by the C writer from the
-- checks' own C results (kept open by the run): no report table is read
-- back.  DMARC's result is a table (it may be dmarc_each's).  The same
-- text as mailauth.authres.format(report, authserv_id) (run_path_spec).
local ORDER_BEFORE, ORDER_AFTER = { "iprev", "spf", "spf_helo", "dkim" }, { "arc" }
local function header(checks, results, slot, dmarc, authserv_id)
  local list, n = {}, 0
  local function add_check(name)
    local i = slot[name]
    if i and results[i] then n = n + 1; list[n] = checks[i] end
  end
  for k = 1, #ORDER_BEFORE do add_check(ORDER_BEFORE[k]) end
  if type(dmarc) == "table" and dmarc.result then n = n + 1; list[n] = dmarc end
  for k = 1, #ORDER_AFTER do add_check(ORDER_AFTER[k]) end
  local text, err = core.header("authres", list, { authserv_id = authserv_id })
  if not text then error("mailauth.check: " .. err, 3) end
  return text
end

-- A HELO name worth an SPF check (spf.lua).
local helo_domain = require("mailauth.spf").helo_domain

function M.check(api, message, opts)
  if type(message) ~= "string" then argerror(1, "message string", message) end
  opts = opts or {}
  if type(opts) ~= "table" then argerror(2, "table or nil", opts) end
  options.check("check", opts, OPTS, 3)
  local ip, helo, sender = opts.ip, opts.helo, opts.sender
  local authserv_id = opts.authserv_id or "localhost"
  local now = opts.now or os.time()
  local deadline = internal.deadline_of(opts, "check", 3)
  local resolver = internal.resolver_of(opts)
  local prepare = internal.prepare
  local parsed = core.message(message) -- the one read of the message

  local report = { ip = ip, helo = helo, sender = sender }
  -- the clock signature times were judged by (exchange.trust reads it too)
  report.now = now

  local jobs, finishers, names = {}, {}, {}
  local function add(name, job, finish)
    jobs[#jobs + 1], finishers[#jobs + 1], names[#jobs + 1] = job, finish, name
  end
  if ip then
    add("iprev", prepare.iprev(ip, opts, 3))
    -- RFC 7208 §2.4: MAIL FROM; an empty one is checked as postmaster@HELO.
    add("spf", prepare.spf({ ip = ip, sender = sender or "", helo = helo, now = now,
                             receiver = opts.receiver or authserv_id }, 3))
    if helo_domain(helo) then
      add("spf_helo", prepare.spf({ ip = ip, helo = helo, scope = "helo", now = now,
                                    receiver = opts.receiver or authserv_id }, 3))
    end
  end
  add("dkim", prepare.dkim_verify(parsed, { now = now, allow_sha1 = opts.allow_sha1 }))
  add("arc", prepare.arc_verify(parsed, { now = now }))
  add("info", prepare.message_info(parsed))

  -- the checks stay open: the header is written from their C results
  local results, checks = internal.run("check", resolver, deadline, jobs, true)
  local slot = {}
  for i = 1, #names do
    local name = names[i]
    report[name], slot[name] = (finishers[i](results[i])), i
  end

  -- The author, read by the strict From reader (src/core/author.c).  An
  -- author_problem means it cannot be read exactly: nothing may rest on it.
  local info = report.info
  report.info = nil
  report.from_fields = info.from_fields
  report.from_count = info.from_count
  report.from_domains = info.from_domains
  report.from_addresses = info.from_addresses
  report.author_problem, report.author_code = info.author_problem, info.author_code
  if not info.author_problem and info.from_fields == 1 and #info.from_domains == 1 then
    report.from_domain = info.from_domains[1]
  end

  -- RFC 7489 §4.1: the SPF result DMARC uses is MAIL FROM's (its domain is
  -- the HELO's when MAIL FROM was empty).
  local spf = report.spf and { result = report.spf.result, domain = report.spf.domain } or nil
  local dopts = { spf = spf, dkim = report.dkim,
                  resolver = resolver, org_domain = opts.org_domain,
                  psl_file = opts.psl_file, pct_roll = opts.pct_roll,
                  shared_domains = opts.shared_domains }
  if (info.author_problem or #info.from_domains <= 1) and internal.is_c_resolver(resolver) then
    -- the C loop: DMARC fed the kept checks' C results as they are
    local p = { org_domain = opts.org_domain, psl_file = opts.psl_file,
                pct_roll = opts.pct_roll or math.random(0, 99),
                shared_domains = opts.shared_domains }
    report.dmarc = core.run_dmarc(p, resolver, deadline, checks[slot.info],
                                  slot.spf and checks[slot.spf] or false, checks[slot.dkim])
  elseif info.author_problem or #info.from_domains <= 1 then
    -- permerror with the author's problem, or the one domain
    dopts.from_domains, dopts.author_problem = info.from_domains, info.author_problem
    dopts.author_code = info.author_code
    report.dmarc = internal.dmarc_run(dopts, deadline, 3)
  else
    report.dmarc = dmarc_each(info.from_domains, dopts, deadline)
  end
  if info.problem then report.message_problem, report.message_code = info.problem, info.code end
  report.authentication_results = header(checks, results, slot, report.dmarc, authserv_id)
  for i = 1, #checks do checks[i]:close() end
  return report
end

return M
