-- mailauth.check: every check for one message in one call.
--
-- iprev, SPF for MAIL FROM and for HELO, DKIM, ARC and the From reader do
-- not depend on each other: they run together, so each round of their DNS
-- questions goes out as one batch (over a C resolver core.run_check makes
-- and runs them in one call; otherwise internal.run's dispatcher).  The message is read
-- once (core.message) and DKIM, ARC and the From reader share that one
-- parse.  DMARC needs their results and runs after them; its first
-- questions, which need only the From domain, go with their first round
-- (dmarc_ahead).  The Authentication-Results header is written from all of it.
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
                               "authserv_id", "dkim_verify:allow_sha1", "dkim_verify:recipients",
                               "dmarc:org_domain", "dmarc:org_domain_compare", "dmarc:psl_file",
                               "dmarc:pct_roll", "dmarc:shared_domains",
                               "resolver", "time_budget" }, true)
M._options = OPTS

-- DMARC for an author of several domains (RFC 7489 §6.6.1): dmarc.lua.
local dmarc_each = require("mailauth.dmarc").each

-- A HELO name worth an SPF check (spf.lua).
local helo_domain = require("mailauth.spf").helo_domain

-- The slots of the first round (core.run_check's order).
local IPREV, SPF, SPF_HELO, DKIM, ARC, INFO = 1, 2, 3, 4, 5, 6

-- DMARC's options for mailauth.check (one pct roll for the message).
local function dmarc_params(opts)
  return { org_domain = opts.org_domain, org_domain_compare = opts.org_domain_compare,
           psl_file = opts.psl_file, pct_roll = opts.pct_roll or math.random(0, 99),
           shared_domains = opts.shared_domains }
end

-- DMARC's first questions depend on the From domain alone: they go with
-- the first round, and the DMARC job takes their answers with no round
-- trip of its own.  They are the questions a DMARC check made from the
-- From reader's result alone (info) asks first: the job's own.  The open
-- check (internal.run's ahead), or nil when it asks nothing (no usable
-- From domain, an author problem) or cannot be made (the DMARC run then
-- words the error).  Over a C resolver core.run_check does the same in C.
local function dmarc_ahead(info, p)
  local probe = core.check("dmarc", { from_domains = info.from_domains,
                                      author_problem = info.author_problem,
                                      author_code = info.author_code, org_domain = p.org_domain,
                                      org_domain_compare = p.org_domain_compare,
                                      psl_file = p.psl_file, shared_domains = p.shared_domains })
  if probe and probe:step() == "dns" then return probe end
  if probe then probe:close() end
  return nil
end

-- The jobs of the first round the general way (internal.prepare), for
-- internal.run's dispatcher: the jobs, what finishes each result, and
-- the slot (below) of each.  The From reader (INFO) is not among them:
-- it asks nothing and runs first (dmarc_ahead reads it).
local function first_jobs(parsed, opts, now, receiver, helo_check)
  local prepare, ip = internal.prepare, opts.ip
  local jobs, finishers, slots = {}, {}, {}
  local function add(slot, job, finish)
    jobs[#jobs + 1], finishers[#jobs + 1], slots[#jobs + 1] = job, finish, slot
  end
  if ip then
    add(IPREV, prepare.iprev(ip, opts, 4))
    -- RFC 7208 §2.4: MAIL FROM; an empty one is checked as postmaster@HELO.
    add(SPF, prepare.spf({ ip = ip, sender = opts.sender or "", helo = opts.helo, now = now,
                           receiver = receiver }, 4))
    if helo_check then
      add(SPF_HELO, prepare.spf({ ip = ip, helo = opts.helo, scope = "helo", now = now,
                                  receiver = receiver }, 4))
    end
  end
  local dkim_job, dkim_finish = prepare.dkim_verify(parsed, { now = now,
    allow_sha1 = opts.allow_sha1, recipients = opts.recipients })
  dkim_job[4] = "check" -- a bad recipient is mailauth.check's mistake
  add(DKIM, dkim_job, dkim_finish)
  add(ARC, prepare.arc_verify(parsed, { now = now }))
  return jobs, finishers, slots
end

-- The Authentication-Results field (RFC 8601 §2.7's order: iprev, SPF for
-- MAIL FROM then HELO, DKIM, DMARC, ARC), written by the C writer from the
-- checks' own C results (kept open by the run): no report table is read
-- back.  DMARC's is its kept check, or a table (dmarc_each's, or the Lua
-- loop's).  The same
-- text as mailauth.authres.format(report, authserv_id) (run_path_spec).
local function header(checks, dmarc, authserv_id)
  local list, n = {}, 0
  for i = IPREV, DKIM do
    if checks[i] then n = n + 1; list[n] = checks[i] end
  end
  -- a table (dmarc_each's, the Lua loop's) or the kept check
  if type(dmarc) == "userdata" or (type(dmarc) == "table" and dmarc.result) then
    n = n + 1; list[n] = dmarc
  end
  if checks[ARC] then n = n + 1; list[n] = checks[ARC] end
  local text, err = core.header("authres", list, { authserv_id = authserv_id })
  if not text then error("mailauth.check: " .. err, 3) end
  return text
end

local is_c_resolver = internal.is_c_resolver

-- false: DMARC asks all its questions after the first round (specs
-- compare the two ways).
M._ask_ahead = true

function M.check(api, message, opts)
  if type(message) ~= "string" then argerror(1, "message string", message) end
  opts = opts or {}
  if type(opts) ~= "table" then argerror(2, "table or nil", opts) end
  options.check("check", opts, OPTS, 3)
  local ip, helo, sender = opts.ip, opts.helo, opts.sender
  local authserv_id = opts.authserv_id or "localhost"
  local now = opts.now or os.time()
  local deadline = internal.deadline_of(opts, "check", 3)
  local resolver = internal.resolver_of(opts, "check", 3)
  local receiver = opts.receiver or authserv_id
  local helo_check = ip ~= nil and helo_domain(helo) and true or false
  local parsed = core.message(message) -- the one read of the message

  -- iprev, SPF (MAIL FROM, HELO), DKIM, ARC and the From reader together,
  -- the checks kept open (the header is written from their C results),
  -- and DMARC's first questions with their first round (dmarc_ahead):
  -- ahead holds those answers for the DMARC run.  Over a C resolver,
  -- core.run_check makes the jobs from these values with no option table
  -- for each; nil when one cannot be made, then the general way below
  -- names the mistake.
  -- core.run_check takes no recipients: with them, the general way
  local c_loop = is_c_resolver(resolver) and opts.recipients == nil
  local p = dmarc_params(opts)
  local done, checks, ahead
  if c_loop then
    done, checks, ahead = core.run_check(parsed, resolver, deadline, ip, sender or "", helo,
                                         now, receiver, opts.allow_sha1, helo_check,
                                         M._ask_ahead and p or nil)
  end
  -- done as the finishers leave them: SPF's results write received_spf
  -- on first read (with receiver), done[DKIM] is the signatures list.
  if not done then
    local info = internal.run("check", nil, nil, "message_info", {}, parsed)
    -- (a batch resolver's rounds only: see internal.run)
    local probe = M._ask_ahead and internal.is_batch_resolver(resolver) and
                  dmarc_ahead(info, p) or nil
    local jobs, finishers, slots = first_jobs(parsed, opts, now, receiver, helo_check)
    local results, open
    results, open, ahead = internal.run("check", resolver, deadline, jobs, true, probe)
    done, checks = { false, false, false, false, false, info },
                   { false, false, false, false, false, false }
    for i = 1, #jobs do
      done[slots[i]], checks[slots[i]] = (finishers[i](results[i])), open[i]
    end
  end

  -- The report, its fields in one constructor (the table sized once).
  -- The author, read by the strict From reader (src/core/author.c).  An
  -- author_problem means it cannot be read exactly: nothing may rest on it.
  local info = done[INFO]
  local from_domains = info.from_domains
  local one_domain = info.author_problem or #from_domains <= 1
  local report = {
    ip = ip, helo = helo, sender = sender, recipients = opts.recipients,
    -- the clock signature times were judged by (exchange.trust reads it too)
    now = now,
    iprev = done[IPREV] or nil, spf = done[SPF] or nil, spf_helo = done[SPF_HELO] or nil,
    dkim = done[DKIM], arc = done[ARC],
    from_fields = info.from_fields, from_count = info.from_count,
    from_domains = from_domains, from_addresses = info.from_addresses,
    author_problem = info.author_problem, author_code = info.author_code,
    from_domain = (not info.author_problem and info.from_fields == 1 and #from_domains == 1)
                  and from_domains[1] or nil,
    dmarc = false, message_problem = info.problem, message_code = info.problem and info.code,
    authentication_results = false,
  }

  -- RFC 7489 §4.1: the SPF result DMARC uses is MAIL FROM's (its domain is
  -- the HELO's when MAIL FROM was empty).
  local dmarc_check
  if one_domain and c_loop then
    -- the C loop: DMARC fed the kept checks' C results as they are,
    -- kept open, so the header is written from its C result too
    report.dmarc, dmarc_check = core.run_dmarc(p, resolver, deadline, checks[INFO],
                                               checks[SPF], checks[DKIM], true, ahead)
  else
    local spf = report.spf and { result = report.spf.result, domain = report.spf.domain } or nil
    local dopts = { spf = spf, dkim = report.dkim,
                    resolver = type(ahead) == "table" and next(ahead) and
                               internal.ahead_resolver(resolver, ahead) or resolver,
                    org_domain = p.org_domain, org_domain_compare = p.org_domain_compare,
                    psl_file = p.psl_file, pct_roll = p.pct_roll,
                    shared_domains = p.shared_domains }
    if one_domain then
      -- permerror with the author's problem, or the one domain
      dopts.from_domains, dopts.author_problem = info.from_domains, info.author_problem
      dopts.author_code = info.author_code
      report.dmarc = internal.dmarc_run(dopts, deadline, 3)
    else
      report.dmarc = dmarc_each(info.from_domains, dopts, deadline)
    end
  end
  report.authentication_results = header(checks, report.dmarc and dmarc_check or report.dmarc,
                                         authserv_id)
  for i = IPREV, INFO do
    if checks[i] then checks[i]:close() end
  end
  if dmarc_check then dmarc_check:close() end
  return report
end

return M
