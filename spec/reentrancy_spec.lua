-- Re-entrancy of the binding: mailauth called again while one of its own C
-- calls is still running, from a __gc finalizer (the collector may run one
-- at any allocation, so inside result building too), from a resolver
-- callback, and from coroutines interleaving two checks.
--
-- On main (ceb2e1b) this spec fails on lua5.4, lua5.3 and LuaJIT, by a
-- segmentation fault of busted or by wrong results ("Expected 0" wrong
-- answers got 1-2): core.run kept its check in one run slot shared by every
-- call, so a finalizer that called mailauth while the outer core.run was
-- turning its result into tables freed that result under it (ASan:
-- heap-use-after-free in push_value, from l_run).  r:query had the same
-- defect with the resolver's answer array (a nested query freed the
-- answers the outer one was pushing).  Which of the two shows first
-- depends on where the collector's steps fall.
--
-- Data: the RFC 8463 appendix A message and keys, the RFC 7208 appendix A
-- zone; each expected value is the RFC's.
local mailauth = require "mailauth"
local F = require "dkimfix"

local NOW = 1528637909 -- the t= of the RFC 8463 signatures

-- RFC 7208 appendix A (the parts used) with appendix A.1's "mx" record.
local SPF_ZONE = [[
$ORIGIN example.com.
$TTL 300
@        IN MX 10 mx.example.com.
@        IN MX 20 mx2.example.com.
@        IN A   192.0.2.10
@        IN TXT "v=spf1 mx -all"
mx       IN A   192.0.2.11
mx2      IN A   192.0.2.12
amy      IN A   192.0.2.65
]]

-- The RFC 8463 keys as a zone (TXT split into 255-byte strings).
local function key_zone()
  local lines = { "$TTL 300" }
  for owner, value in pairs(F.records(F.read("rfc8463/dns.txt"))) do
    local parts = {}
    for i = 1, #value, 255 do parts[#parts + 1] = '"' .. value:sub(i, i + 254) .. '"' end
    lines[#lines + 1] = owner .. ". IN TXT " .. table.concat(parts, " ")
  end
  return table.concat(lines, "\n") .. "\n"
end

local MSG = F.crlf(F.read("rfc8463/signed.eml"))
local zone = assert(mailauth.resolver { zones = { SPF_ZONE, key_zone() } })

local function spf_ok(r)
  return r.result == "pass" and r.domain == "example.com" and r.mechanism == "mx"
end
local function spf_fail_ok(r)
  return r.result == "fail" and r.mechanism == "-all"
end
local function dkim_ok(list)
  return #list == 2 and list[1].result == "pass" and list[2].result == "pass"
    and list[1].algorithm == "ed25519-sha256" and list[2].algorithm == "rsa-sha256"
    and list[1].domain == "football.example.com" and #list[1].headers == 8
end
local function check_ok(rep)
  return dkim_ok(rep.dkim) and rep.spf.result == "pass" and rep.dmarc.result == "none"
    and type(rep.authentication_results) == "string"
end

-- Jobs a finalizer (or a resolver callback) runs; each returns whether the
-- answer was right.  The budget is generous: a full collection that runs
-- finalizers which verify signatures may take seconds inside a large busted
-- heap, and this spec is about results, not time.
local BUDGET = 600
local JOBS = {
  spf = function(resolver)
    return spf_ok(mailauth.spf { ip = "192.0.2.11", sender = "a@example.com",
                                 resolver = resolver or zone, time_budget = BUDGET })
  end,
  spf_fail = function(resolver)
    return spf_fail_ok(mailauth.spf { ip = "192.0.2.65", sender = "a@example.com",
                                      resolver = resolver or zone, time_budget = BUDGET })
  end,
  dkim = function(resolver)
    return dkim_ok(mailauth.dkim_verify(MSG, { resolver = resolver or zone, now = NOW,
                                                   time_budget = BUDGET }))
  end,
  check = function(resolver)
    return check_ok(mailauth.check(MSG, { ip = "192.0.2.11", helo = "mx.example.com",
                                          sender = "joe@example.com", authserv_id = "mx.test",
                                          resolver = resolver or zone, now = NOW,
                                          time_budget = BUDGET }))
  end,
  query = function()
    local a = zone:query("example.com", "MX")
    return a.rcode == "NOERROR" and #a.records == 2
  end,
}

-- A finalizer that runs job and arms a new one (one per collection cycle)
-- while stats.armed is true and stats.limit runs are not reached.
-- 5.1/LuaJIT: newproxy; 5.2+: a table's __gc.
local function arm(job, stats)
  local function fin()
    if not stats.armed or stats.runs >= stats.limit then return end
    stats.runs = stats.runs + 1
    local ok, good = pcall(job)
    if not ok or not good then stats.bad[#stats.bad + 1] = tostring(good) end
    arm(job, stats)
  end
  if newproxy then
    local p = newproxy(true)
    getmetatable(p).__gc = fin
  else
    setmetatable({}, { __gc = fin })
  end
end

local function new_stats(limit)
  return { runs = 0, bad = {}, armed = true, limit = limit or 100 }
end

-- Runs f with the collector in small, eager steps, so that pending
-- finalizers run at nearly any allocation (inside the binding's result
-- building too), then restores the defaults.  A full collection first
-- puts the settings in force at once: the old pause would otherwise hold
-- the first eager cycle back for a heap's worth of allocation, and in
-- most cases the armed finalizers ran only in the closing collection.
-- Each step's work is bounded, so the cost per allocation does not grow
-- with busted's heap (which holds every spec file run before this one):
-- Lua 5.3 does not clamp the debt that a pause under 100 leaves (5.4
-- does), so setpause 10 there made every allocation check a whole
-- collection, and after the other specs (a 27 MB heap) this file took
-- minutes of CPU instead of 4 s.  Under 5.3 the next cycle starts as soon
-- as one ends (pause 100) and each step does a large, fixed amount of
-- work (stepmul 100000: about 100 KB), which runs the finalizers inside a
-- few calls, as 5.4's settings do.
--
-- A LuaJIT older than its commit 119fd1fa (2023-08-13, "Ensure forward
-- progress on trace exit to BC_ITERN", LuaJIT issue #1000), such as
-- Debian 12's 2.1.0~beta3+git20220320, can spin for ever in a trace that
-- exits to its own start: inside a __gc finalizer no side trace may be
-- recorded, so nothing breaks the cycle.  Here it hung the finalizers
-- that run mailauth.check, one run in a few; that LuaJIT built from
-- 119fd1fa's parent hung 8 times in 10 on the same case, 119fd1fa itself
-- never.  With such a LuaJIT the section runs interpreted (jit.off and
-- jit.flush): the binding's re-entrancy, which is what this spec is
-- about, is the same C code either way.
local function old_luajit()
  local jit = rawget(_G, "jit")
  if not jit then return false end
  local stamp = tonumber(jit.version:match("^LuaJIT 2%.1%.(%d+)$"))
  -- rolling releases (2.1.<seconds since the epoch>) began after the fix
  return not (stamp and stamp >= 1691884800) and not jit.version:match("^LuaJIT 2%.[2-9]")
end

local function eager_gc(f)
  local mode
  local interpreted = old_luajit() and jit.status()
  if interpreted then jit.off(); jit.flush() end
  if _VERSION == "Lua 5.4" then -- (lua.c starts it generational)
    mode = collectgarbage("incremental", 10, 100, 0)
  elseif _VERSION == "Lua 5.3" then
    collectgarbage("setpause", 100)
    collectgarbage("setstepmul", 100000)
  else -- LuaJIT: a step's work is bounded by the step multiplier
    collectgarbage("setpause", 10)
    collectgarbage("setstepmul", 1000)
  end
  collectgarbage("collect")
  local ok, err = pcall(f)
  if mode then
    collectgarbage("incremental", 200, 100, 13)
    collectgarbage(mode)
  else
    collectgarbage("setpause", 200)
    collectgarbage("setstepmul", 200)
  end
  collectgarbage("collect")
  if interpreted then jit.on() end
  assert(ok, err)
end

describe("re-entrancy: __gc finalizers that call mailauth", function()
  for _, outer in ipairs { "spf", "dkim", "check", "query" } do
    for _, inner in ipairs { "spf_fail", "dkim", "check", "query" } do
      it(("keeps %s right while finalizers run %s inside it"):format(outer, inner), function()
        local stats = new_stats()
        local wrong, calls = 0, 0
        eager_gc(function()
          for _ = 1, 4 do arm(JOBS[inner], stats) end
          -- until the finalizers have had their runs (or 200 calls, or
          -- 0.4 s of CPU: an eager collector over busted's heap is slow)
          local t0 = os.clock()
          while stats.runs < stats.limit and calls < 200 and os.clock() - t0 < 0.4 do
            calls = calls + 1
            if not JOBS[outer]() then wrong = wrong + 1 end
          end
        end)
        stats.armed = false
        collectgarbage("collect")
        assert.equal(0, wrong)
        assert.same({}, stats.bad)
        assert.is_true(stats.runs > 0, "no finalizer ran")
      end)
    end
  end

  it("survives collectgarbage() called from finalizers and a Lua resolver", function()
    local stats = new_stats(60)
    local function collecting()
      collectgarbage("collect")
      return JOBS.dkim()
    end
    local asked = 0
    local function lua_resolver(name, qtype)
      local junk = {}
      for i = 1, 200 do junk[i] = { name, qtype, i } end
      asked = asked + 1
      if asked % 3 == 0 then collectgarbage("collect") end
      return zone:query(name, qtype)
    end
    local wrong = 0
    eager_gc(function()
      arm(collecting, stats)
      for _ = 1, 4 do
        if not JOBS.check(lua_resolver) then wrong = wrong + 1 end
        if not JOBS.spf(lua_resolver) then wrong = wrong + 1 end
      end
    end)
    stats.armed = false
    assert.equal(0, wrong)
    assert.same({}, stats.bad)
    assert.is_true(stats.runs > 0)
  end)
end)

describe("re-entrancy: a resolver callback that calls mailauth", function()
  it("gives right results at both depths, with the C and a Lua resolver inside", function()
    local inner_ok, calls = {}, 0
    local function nesting(name, qtype)
      calls = calls + 1
      -- A nested check per question: one over the C zone resolver, one
      -- over a Lua resolver (the Lua driver loop inside the Lua loop).
      inner_ok[#inner_ok + 1] = JOBS.spf_fail()
      inner_ok[#inner_ok + 1] = JOBS.dkim(function(n, t) return zone:query(n, t) end)
      return zone:query(name, qtype)
    end
    assert.is_true(JOBS.check(nesting))
    assert.is_true(JOBS.dkim(nesting))
    assert.is_true(calls >= 4)
    for i, ok in ipairs(inner_ok) do assert.is_true(ok, "nested call " .. i) end
  end)

  it("keeps a check right when the callback runs the same kind of check recursively", function()
    local depth = 0
    local function recursive(name, qtype)
      if depth < 3 then
        depth = depth + 1
        local ok = JOBS.spf(recursive)
        depth = depth - 1
        if not ok then error("nested spf went wrong at depth " .. depth) end
      end
      return zone:query(name, qtype)
    end
    assert.is_true(JOBS.spf(recursive))
  end)
end)

describe("re-entrancy: coroutines interleaving checks", function()
  it("finishes two checks whose resolvers yield in turn, each with its own answer", function()
    local function yielding(name, qtype)
      coroutine.yield(name)
      return zone:query(name, qtype)
    end
    local a = coroutine.create(function() return JOBS.check(yielding) end)
    local b = coroutine.create(function() return JOBS.spf_fail(yielding) end)
    local c = coroutine.create(function() return JOBS.dkim(yielding) end)
    local done, results, steps = {}, {}, 0
    while not (done.a and done.b and done.c) do
      for key, co in pairs { a = a, b = b, c = c } do
        if not done[key] then
          local ok, v = coroutine.resume(co)
          assert(ok, v)
          steps = steps + 1
          if coroutine.status(co) == "dead" then done[key], results[key] = true, v end
          collectgarbage("step")
        end
      end
    end
    assert.is_true(steps > 6, "the resolvers did not yield")
    assert.same({ a = true, b = true, c = true }, results)
  end)

  it("stays right with finalizers calling mailauth between the resumes", function()
    local stats = new_stats()
    local function yielding(name, qtype)
      coroutine.yield()
      return zone:query(name, qtype)
    end
    eager_gc(function()
      arm(JOBS.spf_fail, stats)
      arm(JOBS.query, stats)
      for _ = 1, 5 do
        local cos = { coroutine.create(function() return JOBS.check(yielding) end),
                      coroutine.create(function() return JOBS.dkim(yielding) end) }
        local out = {}
        repeat
          local live = 0
          for i, co in ipairs(cos) do
            if coroutine.status(co) ~= "dead" then
              local ok, v = coroutine.resume(co)
              assert(ok, v)
              if coroutine.status(co) == "dead" then out[i] = v else live = live + 1 end
            end
          end
        until live == 0
        assert.same({ true, true }, out)
      end
    end)
    stats.armed = false
    assert.same({}, stats.bad)
    assert.is_true(stats.runs > 0)
  end)
end)
