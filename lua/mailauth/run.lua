-- The driver loops: they answer the DNS questions of checks until the
-- checks are done.  A mailauth C resolver answers a whole batch in C (the
-- questions of a step go out in parallel); any other resolver is called
-- from Lua, one question at a time, so it may yield.
--
-- Every loop is bounded by one deadline: seconds on core.monotonic()'s
-- clock (CLOCK_MONOTONIC), taken once per public call, so a whole
-- mailauth.check shares it.  A Lua resolver is never interrupted inside a
-- call; it gets the seconds left as a third argument (a hint: use it as its
-- own timeout), and once the deadline has passed every question still open
-- is answered TIMEOUT without calling it.
local core = require "mailauth.core"

local M = {}

M.DEFAULT_BUDGET = 20 -- seconds per check (RFC 7208 §4.6.4: at least 20)
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

-- The problem of a check whose question q the deadline cut: the words and
-- the code of mauth_check_expire (src/core/check.c), so both loops say the
-- same.
local function expire(result, q)
  result.problem = ("time budget ran out waiting for %s %s"):format(q.type, q.name)
  result.code = "budget_expired"
end

-- Did the budget cut this question?  TIMEOUT once the deadline has passed
-- (a resolver that honours its timeout argument ends right then: give or
-- take the clocks' milliseconds, hence the 2 ms).
local function late(answer, deadline)
  return answer.rcode == "TIMEOUT" and clock() >= deadline - 0.002
end

-- A function(name, qtype, timeout) -> answer for whatever the caller gave.
local function asker(resolver, level)
  local kind = type(resolver)
  if kind == "function" then return resolver end
  if (kind == "table" or kind == "userdata") and resolver.query then
    return function(name, qtype, timeout) return resolver:query(name, qtype, timeout) end
  end
  error("mailauth: resolver must be mailauth.resolver(...), a function(name, qtype)"
        .. " or an object with :query(name, qtype)", level + 1)
end

--- run(check, resolver, deadline) -> result table; closes the check.
function M.run(check, resolver, deadline)
  deadline = deadline or M.deadline()
  if type(resolver) == "userdata" and resolver.query_many then
    local result = check:run(resolver, deadline)
    check:close()
    return result
  end
  local ask = asker(resolver, 3)
  local expired
  while check:step() == "dns" do
    for _, q in ipairs(check:questions()) do
      local answer = TIMEOUT
      local left = time_left(deadline)
      if left > 0 then
        -- This call may yield; no C frame is on the stack here.
        answer = ask(q.name, q.type, left)
        if type(answer) ~= "table" then answer = SERVFAIL end
      end
      if late(answer, deadline) then expired = expired or q end
      check:answer(q.id, answer)
    end
  end
  local result = check:result()
  check:close()
  if expired and type(result) == "table" then expire(result, expired) end
  return result
end

--- run_all({ check, ... }, resolver, deadline) -> { result, ... }
-- Steps every check together; the questions all of them have open are
-- asked as one batch (once each, when two checks ask the same thing).
function M.run_all(checks, resolver, deadline)
  deadline = deadline or M.deadline()
  local batch = type(resolver) == "userdata" and resolver.query_many
  local ask = not batch and asker(resolver, 3)
  local results, open, expired = {}, {}, {}
  for i = 1, #checks do open[i] = true end
  while true do
    local pending, index, questions = {}, {}, {}
    for i, check in ipairs(checks) do
      if open[i] then
        if check:step() == "dns" then
          for _, q in ipairs(check:questions()) do
            local key = q.type .. " " .. q.name:lower()
            if not index[key] then
              questions[#questions + 1] = { name = q.name, type = q.type }
              index[key] = #questions
            end
            pending[#pending + 1] = { at = i, check = check, id = q.id, slot = index[key] }
          end
        else
          results[i] = check:result()
          check:close()
          open[i] = false
          if expired[i] and type(results[i]) == "table" then
            expire(results[i], expired[i])
          end
        end
      end
    end
    if #pending == 0 then break end
    local answers, cut = {}, {}
    if batch then
      if clock() < deadline then answers = resolver:query_many(questions, deadline) end
      -- TIMEOUT once the deadline has passed: the budget cut it
      for k = 1, #questions do
        answers[k] = answers[k] or TIMEOUT
        cut[k] = late(answers[k], deadline)
      end
    else
      for k, q in ipairs(questions) do
        local left = time_left(deadline)
        local a = TIMEOUT
        if left > 0 then
          a = ask(q.name, q.type, left) -- may yield
          if type(a) ~= "table" then a = SERVFAIL end
        end
        answers[k], cut[k] = a, late(a, deadline)
      end
    end
    for _, p in ipairs(pending) do
      if cut[p.slot] and not expired[p.at] then expired[p.at] = questions[p.slot] end
      p.check:answer(p.id, answers[p.slot])
    end
  end
  return results
end

return M
