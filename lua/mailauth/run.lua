-- The driver loops: they answer the DNS questions of checks until the
-- checks are done.  A mailauth C resolver answers a whole batch in C (the
-- questions of a step go out in parallel); any other resolver is called
-- from Lua, one question at a time, so it may yield.
local M = {}

M.DEFAULT_BUDGET = 20 -- seconds per check (RFC 7208 §4.6.4: at least 20)

local TIMEOUT = { rcode = "TIMEOUT" }
local SERVFAIL = { rcode = "SERVFAIL" }

-- A function(name, qtype) -> answer for whatever the caller gave.
local function asker(resolver, level)
  local kind = type(resolver)
  if kind == "function" then return resolver end
  if (kind == "table" or kind == "userdata") and resolver.query then
    return function(name, qtype) return resolver:query(name, qtype) end
  end
  error("mailauth: resolver must be mailauth.resolver(...), a function(name, qtype)"
        .. " or an object with :query(name, qtype)", level + 1)
end

--- run(check, resolver, budget) -> result table; closes the check.
function M.run(check, resolver, budget)
  budget = budget or M.DEFAULT_BUDGET
  if type(resolver) == "userdata" and resolver.query_many then
    local result = check:run(resolver, math.floor(budget * 1000))
    check:close()
    return result
  end
  local ask = asker(resolver, 3)
  local deadline = os.time() + budget
  while check:step() == "dns" do
    local late = os.time() > deadline
    for _, q in ipairs(check:questions()) do
      local answer = TIMEOUT
      if not late then
        -- This call may yield; no C frame is on the stack here.
        answer = ask(q.name, q.type)
        if type(answer) ~= "table" then answer = SERVFAIL end
      end
      check:answer(q.id, answer)
    end
  end
  local result = check:result()
  check:close()
  return result
end

--- run_all({ check, ... }, resolver, budget) -> { result, ... }
-- Steps every check together; the questions all of them have open are
-- asked as one batch (once each, when two checks ask the same thing).
function M.run_all(checks, resolver, budget)
  budget = budget or M.DEFAULT_BUDGET
  local batch = type(resolver) == "userdata" and resolver.query_many
  local ask = not batch and asker(resolver, 3)
  local deadline = os.time() + budget
  local results, open = {}, {}
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
            pending[#pending + 1] = { check = check, id = q.id, slot = index[key] }
          end
        else
          results[i] = check:result()
          check:close()
          open[i] = false
        end
      end
    end
    if #pending == 0 then break end
    local answers = {}
    if os.time() > deadline then
      for k = 1, #questions do answers[k] = TIMEOUT end
    elseif batch then
      answers = resolver:query_many(questions)
    else
      for k, q in ipairs(questions) do
        local a = ask(q.name, q.type) -- may yield
        answers[k] = type(a) == "table" and a or SERVFAIL
      end
    end
    for _, p in ipairs(pending) do p.check:answer(p.id, answers[p.slot]) end
  end
  return results
end

return M
