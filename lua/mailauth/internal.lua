-- mailauth.internal: the run path every public function shares.  Private:
-- not part of the API (DESIGN.md's job protocol and public functions are
-- the contract); specs that look inside require it by name.
--
-- One dispatcher, run(), decides how the jobs of a call are driven:
--   * no resolver: jobs that ask no DNS (dkim_sign, arc_seal, message_info,
--     org_domain) run in C at once; one that asks a question is an error;
--   * a mailauth C resolver (is_c_resolver): the C loop, in one C call
--     (core.run, or core.run_many for several jobs: each round's questions
--     of all of them go out as one parallel batch);
--   * a batch resolver (a Lua object with :query_many, not mailauth's
--     own): the Lua loop, each round's open questions (of every job of
--     the call, each asked once) handed to it in one call, so a host can
--     send them in parallel and wait once; it may yield;
--   * anything else (a function, an object with :query): the Lua loop,
--     one question at a time, so the resolver may yield.
--
-- The batch interface (Lua resolvers):
--   r:query_many(questions, timeout) -> { answer, ... }
-- questions: { { name = "...", type = "TXT" }, ... }, no two alike;
-- timeout: seconds left of the call's time_budget (a hint); the answers
-- in the same order, each a table as DESIGN.md's job protocol gives it (a
-- missing or non-table answer counts as SERVFAIL).
--
-- Every loop is bounded by one deadline: seconds on core.monotonic()'s
-- clock (CLOCK_MONOTONIC), taken once per public call, so a whole
-- mailauth.check shares it.  A Lua resolver is never interrupted inside a
-- call; it gets the seconds left as a third argument (a hint: use it as its
-- own timeout), and once the deadline has passed every question still open
-- is answered TIMEOUT without calling it; the C core then names the first
-- question so cut in the result's problem (mauth_check_expire), for both
-- loops alike.
local core = require "mailauth.core"

local M = {
  -- Each check in two halves for mailauth.check, filled by the protocol
  -- files (iprev.lua, spf.lua, ...): prepare.X(...) -> job,
  -- finish(result) -> what mailauth.X returns.
  prepare = {},
  -- The options each public function takes (options.declare), by name,
  -- declared by the file that defines the function (M.declare).
  options = {},
}

--- declare{ fname = { entry, ... }, ... } -> M.options
-- The options of the public functions a file defines (options.declare's
-- entries), kept under their names.
function M.declare(entries)
  local declare = require("mailauth.options").declare
  for fname, list in pairs(entries) do M.options[fname] = declare(list) end
  return M.options
end

--- argerror(fname, n, what, value [, level])
-- The error of a public function given a bad argument, in Lua's own
-- words.  level: 1 for the API function itself, more for helpers it calls.
function M.argerror(fname, n, what, value, level)
  error(("bad argument #%d to 'mailauth.%s' (%s expected, got %s)")
        :format(n, fname, what, type(value)), 2 + (level or 1))
end

M.DEFAULT_BUDGET = 20 -- seconds per call (RFC 7208 §4.6.4: at least 20)
M.MAX_BUDGET = 3600

local clock = core.monotonic
local TIMEOUT = { rcode = "TIMEOUT" }
local SERVFAIL = { rcode = "SERVFAIL" }

-- Seconds to the deadline, in whole milliseconds rounded down: the float
-- sum now + budget may round up, and a resolver must never be offered
-- more than the budget.
local function time_left(deadline)
  return math.floor((deadline - clock()) * 1000) / 1000
end

--- deadline(budget) -> the deadline budget seconds from now (default 20)
function M.deadline(budget)
  return clock() + (budget or M.DEFAULT_BUDGET)
end

--- budget_of(opts, fname, level) -> seconds
-- The one reading of the time_budget option, for every public call and
-- both loops: seconds for the whole call, RFC 7208 §4.6.4's 20 by
-- default; a number in (0, 3600], anything else (0, negative, NaN, inf, a
-- string) is the caller's mistake.  level: as error() counts it from the
-- function that calls budget_of.
function M.budget_of(opts, fname, level)
  local b = opts.time_budget
  if b == nil then return M.DEFAULT_BUDGET end
  if type(b) ~= "number" or b ~= b or b <= 0 or b > M.MAX_BUDGET then
    require("mailauth.options").bad(fname, "time_budget", (level or 1) + 1)
  end
  return b
end

-- The deadline of one public call: its time_budget from now (the default
-- without a call to budget_of: this runs once per public call).
local DEFAULT_BUDGET = M.DEFAULT_BUDGET
function M.deadline_of(opts, fname, level)
  if opts.time_budget == nil then return clock() + DEFAULT_BUDGET end
  return clock() + M.budget_of(opts, fname, (level or 1) + 1)
end

--- is_c_resolver(r) -> true for mailauth.resolver(...) objects: the one
-- test of which loop runs.
local function is_c_resolver(r)
  return type(r) == "userdata" and r.query_many ~= nil
end
M.is_c_resolver = is_c_resolver

--- is_batch_resolver(r) -> true for a Lua resolver that takes a round's
-- questions at once (r:query_many), mailauth's own excepted.
local function is_batch_resolver(r)
  local kind = type(r)
  if kind ~= "table" and kind ~= "userdata" or is_c_resolver(r) then return false end
  return r.query_many ~= nil
end
M.is_batch_resolver = is_batch_resolver

local RESOLVER_RULE = "mailauth.resolver(...), a function(name, qtype), an object with"
                      .. " :query(name, qtype) or one with :query_many(questions)"
local default_resolver
--- resolver_of(opts, fname, level) -> opts.resolver, or the system
-- resolver (made once) when none is given.  A resolver the loops could
-- not ask raises here, in options.check's words, before any check is
-- made: the mistake is then the caller's line (level: as error() counts
-- it from the caller of resolver_of), not the line inside mailauth where
-- the first question would have gone.
function M.resolver_of(opts, fname, level)
  local r = opts.resolver
  if r == nil then
    if not default_resolver then
      local resolver = require("mailauth.resolver").resolver
      default_resolver = assert(resolver())
    end
    return default_resolver
  end
  local kind = type(r)
  if kind == "function" or is_c_resolver(r) then return r end
  if kind == "table" or kind == "userdata" then
    local many = r.query_many
    if many == nil and r.query ~= nil then return r end
    if type(many) == "function" or (getmetatable(many) or {}).__call then return r end
    if many ~= nil then
      error(("mailauth.%s: option 'resolver' has a query_many that is not a function"
             .. " (got %s): it must be a function(self, questions, timeout)")
            :format(fname, type(many)), level + 1)
    end
  end
  error(("mailauth.%s: option 'resolver' must be %s (got %s)"):format(fname, RESOLVER_RULE, kind),
        level + 1)
end

-- A function(names, types, n, timeout) -> answers for a batch resolver:
-- the questions in the shape query_many takes, its reply checked.
local function batch_asker(resolver, level)
  local f = resolver.query_many
  if type(f) ~= "function" and not (getmetatable(f) or {}).__call then
    error(("mailauth: resolver.query_many must be a function(self, questions, timeout), got %s")
          :format(type(f)), level + 1)
  end
  return function(names, types, n, timeout)
    local questions = {}
    for k = 1, n do questions[k] = { name = names[k], type = types[k] } end
    local got = resolver:query_many(questions, timeout) -- may yield
    local answers = {}
    for k = 1, n do
      local a = type(got) == "table" and got[k] or nil
      answers[k] = type(a) == "table" and a or SERVFAIL
    end
    return answers
  end
end

-- A function(name, qtype, timeout) -> answer for whatever the caller gave.
local function asker(resolver, level)
  local kind = type(resolver)
  if kind == "function" then return resolver end
  if (kind == "table" or kind == "userdata") and resolver.query then
    return function(name, qtype, timeout) return resolver:query(name, qtype, timeout) end
  end
  error("mailauth: resolver must be mailauth.resolver(...), a function(name, qtype),"
        .. " an object with :query(name, qtype) or one with :query_many(questions)", level + 1)
end

-- level: as error() counts it from the function that calls check_error.
-- decl: given when params went to C unchecked (mailauth.spf): an option
-- error of the core is then first checked again in Lua, whose message
-- also suggests the names only Lua reads (resolver, time_budget).
local function check_error(fname, params, err, level, decl)
  if decl and err:find("^option") then
    require("mailauth.options").check(fname, params, decl, level + 1)
  end
  -- an option error names the option; other misuse the address it is about
  local ip = params.ip and not err:find("^option") and
             (" ('%s')"):format(tostring(params.ip):sub(1, 64)) or ""
  error(("mailauth.%s: %s%s"):format(fname, err, ip), level + 1)
end

local function new_check(fname, kind, params, message, level)
  local check, err = core.check(kind, params, message)
  if not check then check_error(fname, params, err, level + 1) end
  return check
end

-- The Lua loop for one job: one call into C per question (answer_next
-- gives the answer and returns the next question, or the result once the
-- check is done, closing it), no table made on the way.  The answer's
-- fields are read here and passed as arguments: five field reads in Lua
-- cost less than one through the C API (they see __index as C's would).
local type = type
local function lua_loop(check, ask, deadline)
  local id, qtype, name, left = check:next_question(deadline)
  if id == nil then
    local result = check:result()
    check:close()
    return result
  end
  local answer_next = check.answer_next -- looked up once, not per question
  deadline = deadline or 0
  repeat
    -- This call may yield; no C frame is on the stack here.
    local a = ask(name, qtype, left)
    if type(a) ~= "table" then a = SERVFAIL end
    id, qtype, name, left = answer_next(check, id, deadline, a.rcode, a.ttl, a.secure,
                                        a.records, a.cnames)
  until id == nil
  return qtype -- the result
end
M.lua_loop = lua_loop -- mailauth.spf's (spf.lua), on core.spf's check

-- The key of a question among a round's (and in kept, below).
local function question_key(qtype, name) return qtype .. " " .. name:lower() end

-- The open questions of ahead (a check stepped to "dns") added to the
-- round (names, types, index: as lua_loop_many keeps them; nq: their
-- count so far): their keys, and the new count.
local function add_ahead(ahead, names, types, index, nq)
  local keys, k = {}, 1
  local id, qtype, name = ahead:question(1)
  while id do
    local key = question_key(qtype, name)
    if not index[key] then
      nq = nq + 1
      names[nq], types[nq], index[key] = name, qtype, nq
    end
    keys[k] = key
    k = k + 1
    id, qtype, name = ahead:question(k)
  end
  return keys, nq
end

-- The Lua loop for several jobs: they step together, and the questions
-- all of them have open are asked as one batch (once each, when two
-- checks ask the same thing).  ask_many: a batch_asker, the whole batch
-- in one call; else ask, one call per distinct question.  ahead (with
-- ask_many only): nil, or a check stepped to "dns" whose open questions
-- are asked with the first round (when a job asks something then) and
-- whose answers are kept, by question_key, in the table returned second;
-- the check itself is closed, unanswered (mailauth.check: DMARC's first
-- questions, check.lua's dmarc_ahead).
local function lua_loop_many(checks, ask, deadline, keep, ask_many, ahead)
  local n, results, done, open = #checks, {}, {}, #checks
  local kept = ahead and {}
  while open > 0 do
    local names, types, index = {}, {}, {}
    local pcheck, pid, pslot = {}, {}, {}
    local nq, np = 0, 0
    for i = 1, n do
      local check = checks[i]
      if not done[i] then
        if check:step() == "dns" then
          local k = 1
          local id, qtype, name = check:question(1)
          while id do
            local key = question_key(qtype, name)
            local slot = index[key]
            if not slot then
              nq = nq + 1
              slot, names[nq], types[nq], index[key] = nq, name, qtype, nq
            end
            np = np + 1
            pcheck[np], pid[np], pslot[np] = check, id, slot
            k = k + 1
            id, qtype, name = check:question(k)
          end
        else
          results[i] = check:result()
          if not keep then check:close() end
          done[i], open = true, open - 1
        end
      end
    end
    local ahead_keys
    if ahead and nq > 0 then ahead_keys, nq = add_ahead(ahead, names, types, index, nq) end
    local answers = {}
    if ask_many and nq > 0 then
      local left = time_left(deadline)
      if left > 0 then
        answers = ask_many(names, types, nq, left) -- may yield
      else
        for k = 1, nq do answers[k] = TIMEOUT end
      end
    end
    for k = #answers + 1, nq do
      local left = time_left(deadline)
      local a = TIMEOUT
      if left > 0 then
        a = ask(names[k], types[k], left) -- may yield
        if type(a) ~= "table" then a = SERVFAIL end
      end
      answers[k] = a
    end
    for p = 1, np do pcheck[p]:answer(pid[p], answers[pslot[p]], deadline) end
    if ahead then
      -- a TIMEOUT the deadline cut is not kept: it expires later, named
      local cut = time_left(deadline) <= 0
      for _, key in ipairs(ahead_keys or {}) do
        local a = answers[index[key]]
        if not (cut and a.rcode == "TIMEOUT") then kept[key] = a end
      end
      ahead:close()
      ahead = nil
    end
  end
  if ahead then ahead:close() end
  return results, kept
end

--- ahead_resolver(resolver, kept) -> a batch resolver that answers the
-- questions in kept (lua_loop_many's second value: asked ahead for this
-- message) from there and asks resolver (a batch one) the others; a
-- batch whose every question is kept asks nothing.
function M.ahead_resolver(resolver, kept)
  local ask_many = batch_asker(resolver, 2)
  return { query_many = function(_, questions, timeout)
    local answers, names, types, at, n = {}, {}, {}, {}, 0
    for k, q in ipairs(questions) do
      answers[k] = kept[question_key(q.type, q.name)]
      if not answers[k] then
        n = n + 1
        names[n], types[n], at[n] = q.name, q.type, k
      end
    end
    if n > 0 then
      local got = ask_many(names, types, n, timeout) -- may yield
      for j = 1, n do answers[at[j]] = got[j] end
    end
    return answers
  end }
end

-- One open check run to its end by the Lua loop, over a resolver that is
-- not a C one: rounds of one check for a batch resolver (query_many), else
-- a question at a time.  level: as error() counts it from loop_one's
-- caller, for a resolver that is neither (the public function's caller's
-- mistake).
local function loop_one(check, resolver, deadline, level)
  if is_batch_resolver(resolver) then
    return lua_loop_many({ check }, nil, deadline, false,
                         batch_asker(resolver, level + 1))[1]
  end
  return lua_loop(check, asker(resolver, level + 1), deadline)
end

--- run_checked(fname, resolver, deadline, kind, opts, decl, defaults) -> result
-- One check on the caller's own options table, read by C as it is (the
-- Lua-only names left out there) with defaults where opts has none: no
-- copy in Lua.  The core rejects unknown names; decl then words the error
-- as options.check does.
function M.run_checked(fname, resolver, deadline, kind, opts, decl, defaults)
  if deadline == nil and resolver ~= nil then deadline = M.deadline() end
  if resolver == nil or is_c_resolver(resolver) then
    local result, err = core.run(kind, opts, resolver, deadline, nil, defaults)
    if result == nil then check_error(fname, opts, err, 3, decl) end
    return result
  end
  local check, err = core.check(kind, opts, nil, defaults)
  if not check then check_error(fname, opts, err, 3, decl) end
  local result = loop_one(check, resolver, deadline, 2) -- not a tail call: level counts this frame
  return result
end

--- run(fname, resolver, deadline, kind, params [, message]) -> result
--- run(fname, resolver, deadline, jobs [, keep [, ahead]]) -> { result, ... }, checks [, kept]
-- The dispatcher (see the top of this file).  fname names the public
-- function in errors; message: a core.message handle for the kinds that
-- read one; jobs: { { kind, params [, message [, fname]] }, ... }.
-- keep: the checks stay open after their run (the second value), so
-- core.header can write from their C results; the caller closes them.
-- ahead: a check whose first questions go with the first round, their
-- answers kept (the third value) for ahead_resolver: see lua_loop_many.
-- Batch resolvers only: one that takes a question at a time has no round
-- to save, and asking ahead would only put DMARC's wait before the other
-- checks' later questions; over a C resolver core.run_check does this.
-- Misuse (bad options) raises naming fname, at the caller of the public
-- function that called run.
function M.run(fname, resolver, deadline, kind, params, message)
  -- the job form's keep is the fifth argument
  -- a loop over a resolver is always bounded: 20 s when the caller gave none
  if deadline == nil and resolver ~= nil then deadline = M.deadline() end
  if type(kind) == "table" then
    local jobs, checks = kind, {}
    for i = 1, #jobs do
      local job = jobs[i]
      checks[i] = new_check(job[4] or fname, job[1], job[2], job[3], 3)
    end
    local keep, ahead = params, message
    if is_c_resolver(resolver) then
      if ahead then ahead:close() end
      return core.run_many(checks, resolver, deadline, keep), checks
    end
    if is_batch_resolver(resolver) then
      local results, kept = lua_loop_many(checks, nil, deadline, keep,
                                          batch_asker(resolver, 2), ahead)
      return results, checks, kept
    end
    if ahead then ahead:close() end
    return lua_loop_many(checks, asker(resolver, 2), deadline, keep), checks
  end
  if resolver == nil or is_c_resolver(resolver) then
    local result, err = core.run(kind, params, resolver, deadline, message)
    if result == nil then check_error(fname, params, err, 3) end
    return result
  end
  local check = new_check(fname, kind, params, message, 3)
  local result = loop_one(check, resolver, deadline, 2) -- not a tail call, as above
  return result
end

--- query(resolver, deadline, name, qtype [, level]) -> answer
-- One question outside a check (mailauth.report's _report._dmarc TXT),
-- asked of each kind of resolver as run() asks it: a C resolver in its
-- own batch call, bounded by deadline; a batch one (query_many) as a
-- batch of one; anything else through asker, with the seconds left.  Past
-- the deadline the answer is TIMEOUT, not asked; one that is not a table
-- is SERVFAIL.  level: as error() counts it from the caller of query.
function M.query(resolver, deadline, name, qtype, level)
  local left = time_left(deadline)
  if left <= 0 then return TIMEOUT end
  local a
  if is_c_resolver(resolver) then
    a = resolver:query_many({ { name = name, type = qtype } }, deadline)[1]
  elseif is_batch_resolver(resolver) then
    a = batch_asker(resolver, (level or 1) + 1)({ name }, { qtype }, 1, left)[1] -- may yield
  else
    a = asker(resolver, (level or 1) + 1)(name, qtype, left) -- may yield
  end
  if type(a) ~= "table" then a = SERVFAIL end
  return a
end

-- RFC 4648 §4 base64 of s; wrap: a line length, lines joined by CRLF (a
-- MIME body, RFC 2045 §6.8), else one line (a DKIM key's p=).
local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
function M.base64(s, wrap)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local q = {}
    for j = 3, 0, -1 do
      local k = math.floor(n / 64 ^ j) % 64
      q[#q + 1] = B64:sub(k + 1, k + 1)
    end
    if not b then q[3], q[4] = "=", "=" elseif not c then q[4] = "=" end
    out[#out + 1] = table.concat(q)
  end
  local text = table.concat(out)
  if wrap then text = text:gsub(("."):rep(wrap), "%0\r\n"):gsub("\r\n$", "") end
  return text
end

return M
