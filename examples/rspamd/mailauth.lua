-- mailauth for Rspamd (LuaJIT): one symbol runs every check of a message
-- (iprev, SPF for MAIL FROM and HELO, DKIM, DMARC, ARC) and the Microsoft
-- 365 trust rule, and inserts one MAILAUTH_* symbol per verdict with the
-- reason as its option.  Options: examples/rspamd/mailauth.conf, read
-- from the `mailauth { }` section.  lua_path / lua_cpath there, when set,
-- are prepended to package.path / package.cpath (for a mailauth that is
-- not installed system-wide; Rspamd's cpath already has
-- /usr/lib/x86_64-linux-gnu/lua/5.1/ and /usr/local/lib/lua/5.1/).
--
-- adapter.check runs with a callback: its DNS goes over rspamd_tcp's
-- callbacks, each batch bounded by `timeout` and the whole check by
-- `time_budget` (a nameserver that takes the connection and never
-- answers gives temperror in time), and the symbol stays open until the
-- callback has inserted the verdicts.  Any symbol type will do (the form
-- without a callback needs flags = "coro" and has no read timeout in
-- Rspamd 3.4).
local opts = rspamd_config:get_all_opt("mailauth") or {}
if opts.lua_path then package.path = opts.lua_path .. ";" .. package.path end
if opts.lua_cpath then package.cpath = opts.lua_cpath .. ";" .. package.cpath end

local adapter = require "mailauth.rspamd"
local exchange = require "mailauth.exchange"

local scores = opts.symbols or {}

local function tenants_of(list)
  local out = {}
  for i, t in ipairs(list or {}) do out[i] = { domain = t.domain, domains = t.domains or {} } end
  return out
end
local trust_opts = { tenants = tenants_of(opts.tenants), trust_arc = opts.trust_arc == true }

local RESULT = { pass = "PASS", fail = "FAIL", softfail = "SOFTFAIL", neutral = "NEUTRAL",
                 none = "NONE", temperror = "TEMPFAIL", permerror = "PERMFAIL" }

-- Options must be strings: the absent ones (a nil problem) are left out.
local function insert(task, name, ...)
  local options = {}
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    if v ~= nil then options[#options + 1] = tostring(v) end
  end
  task:insert_result(name, 1.0, options)
end

-- One symbol per verdict, with what decided it as the option.
local function dmarc_symbol(task, d)
  if not d then return end
  if d.result == "fail" then
    local p = d.disposition or d.policy or "none"
    local name = p == "reject" and "MAILAUTH_DMARC_REJECT" or p == "quarantine" and
                 "MAILAUTH_DMARC_QUARANTINE" or "MAILAUTH_DMARC_FAIL"
    insert(task, name, (d.domain or "?") .. " p=" .. (d.policy or "none"), d.problem or "not aligned")
  elseif RESULT[d.result] then
    insert(task, "MAILAUTH_DMARC_" .. RESULT[d.result], d.domain or "-", d.problem)
  end
end

local function dkim_symbol(task, sigs)
  local best
  for _, s in ipairs(sigs or {}) do
    if s.result == "pass" then best = s break end
    if not best or (best.result ~= "fail" and s.result == "fail") then best = s end
  end
  if not best then insert(task, "MAILAUTH_DKIM_NONE", "no signature") return end
  local r = RESULT[best.result] or "PERMFAIL"
  if r == "NEUTRAL" then r = "PERMFAIL" end
  insert(task, "MAILAUTH_DKIM_" .. r, (best.domain or "?") .. ":" .. (best.selector or "?"),
         best.problem)
end

-- Every verdict of a report as MAILAUTH_* symbols.
local function insert_verdicts(task, report)
  if report.iprev and report.iprev.result ~= "pass" then
    insert(task, "MAILAUTH_IPREV_" .. (RESULT[report.iprev.result] or "FAIL"),
           report.iprev.problem or report.ip)
  end
  if report.spf then
    insert(task, "MAILAUTH_SPF_" .. RESULT[report.spf.result], report.spf.domain or "-",
           report.spf.problem)
  end
  dkim_symbol(task, report.dkim)
  dmarc_symbol(task, report.dmarc)
  if report.arc and report.arc.result ~= "none" then
    insert(task, "MAILAUTH_ARC_" .. RESULT[report.arc.result],
           "i=" .. tostring(report.arc.instances), report.arc.problem)
  end
  local t = exchange.trust(report, trust_opts)
  if t.trusted then insert(task, "MAILAUTH_M365_TRUSTED", t.tenant, "via " .. t.via, t.reason) end
end

-- report_redis = "host:port": each checked message's DMARC report record
-- (mailauth.report.record) into that Redis, in the store mailauth.report
-- aggregates from (the same keys as outside Rspamd).  Through
-- rspamd_redis, not awaited: a Redis that is down gives a log line, the
-- symbols and the header are the same.
local function record(task, report)
  if not opts.report_redis then return end
  local mreport = require "mailauth.report"
  local rcpts = {}
  for _, r in ipairs(task:get_recipients("smtp") or {}) do
    if r.addr and r.addr ~= "" then rcpts[#rcpts + 1] = tostring(r.addr) end
  end
  local rec = mreport.record(report, { recipients = rcpts })
  if not rec then return end -- no DMARC policy applied: nothing to report
  local store = mreport.store {
    client = adapter.report_client(task, opts.report_redis, { timeout = tonumber(opts.report_timeout) }),
    prefix = opts.report_prefix, retention = tonumber(opts.report_retention) }
  local ok, err = store:add(rec)
  if not ok then require("rspamd_logger").warnx(task, "mailauth: report record not kept: %s", err) end
end

local check_id = rspamd_config:register_symbol {
  name = "MAILAUTH_CHECK", type = "callback",
  callback = function(task)
    local started, err = adapter.check(task, {
      authserv_id = opts.authserv_id, time_budget = tonumber(opts.time_budget),
      timeout = tonumber(opts.timeout), header = opts.add_header ~= false },
      function(report, problem)
        if not report then insert(task, "MAILAUTH_ERROR", problem) return end
        insert_verdicts(task, report)
        record(task, report)
      end)
    if not started then insert(task, "MAILAUTH_ERROR", err) end
  end,
}

local names = {}
for name in pairs(scores) do names[#names + 1] = name end
table.sort(names)
for _, name in ipairs(names) do
  rspamd_config:register_symbol { name = name, type = "virtual", parent = check_id,
                                  score = tonumber(scores[name]) or 0, group = "mailauth" }
end
