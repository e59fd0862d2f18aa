-- mailauth.check: every check for one message in one call.
--
-- iprev, SPF for MAIL FROM and for HELO, DKIM and ARC do not depend on each
-- other: they run together, so each round of their DNS questions goes out
-- as one batch.  DMARC needs their results and runs after them.  The
-- Authentication-Results header is written from all of it.
--
-- One deadline (time_budget, default 20 s, RFC 7208 §4.6.4) bounds the
-- whole call, DMARC included: when it passes, what is still open is
-- TIMEOUT (temperror, the problem naming the question), and the results
-- found before it are kept.
local M = {}

local function argerror(n, what, value)
  error(("bad argument #%d to 'mailauth.check' (%s expected, got %s)")
        :format(n, what, type(value)), 4)
end

local function field(opts, name, what)
  local v = opts[name]
  if v ~= nil and type(v) ~= what then
    error(("bad argument #2 to 'mailauth.check' (field '%s': %s expected, got %s)")
          :format(name, what, type(v)), 4)
  end
  return v
end

-- A HELO name worth an SPF check: a domain, not an address literal.
local function helo_domain(helo)
  return helo and helo:find("%.") and not helo:find("^%[") and not helo:find("^[%d.]+$")
end

function M.check(api, message, opts)
  if type(message) ~= "string" then argerror(1, "message string", message) end
  opts = opts or {}
  if type(opts) ~= "table" then argerror(2, "table or nil", opts) end
  local ip = field(opts, "ip", "string")
  local helo = field(opts, "helo", "string")
  local sender = field(opts, "sender", "string")
  local authserv_id = field(opts, "authserv_id", "string") or "localhost"
  local now = field(opts, "now", "number") or os.time()
  local deadline = api._deadline_of(opts, "check", 3)
  field(opts, "shared_domains", "table")
  local resolver = api._resolver_of(opts)
  local prepare = api._prepare

  local report = { ip = ip, helo = helo, sender = sender }
  -- the clock signature times were judged by (exchange.trust reads it too)
  report.now = now
  local info = api.message_info(message)
  report.from_domains = info.from_domains
  report.from_domain = #info.from_domains == 1 and info.from_domains[1] or nil

  local checks, finishers, names = {}, {}, {}
  local function add(name, check, finish)
    checks[#checks + 1], finishers[#checks + 1], names[#checks + 1] = check, finish, name
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
  add("dkim", prepare.dkim_verify(message, { now = now, allow_sha1 = opts.allow_sha1 }, 3))
  add("arc", prepare.arc_verify(message, { now = now }, 3))

  local results = api._run_all(checks, resolver, deadline)
  for i, name in ipairs(names) do report[name] = (finishers[i](results[i])) end

  -- RFC 7489 §4.1: the SPF result DMARC uses is MAIL FROM's (its domain is
  -- the HELO's when MAIL FROM was empty).
  local spf = report.spf and { result = report.spf.result, domain = report.spf.domain } or nil
  report.dmarc = api._dmarc_run({ from_domains = info.from_domains, spf = spf,
                                   dkim = report.dkim, resolver = resolver,
                                   org_domain = opts.org_domain, psl_file = opts.psl_file,
                                   pct_roll = opts.pct_roll,
                                   shared_domains = opts.shared_domains }, deadline, 3)
  if info.problem then report.message_problem = info.problem end
  report.authentication_results = api.authres.format(report, authserv_id)
  return report
end

return M
