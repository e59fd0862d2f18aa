-- time_budget: one reading of the option for every public call (RFC 7208
-- §4.6.4's 20 s by default), and the Lua loop's deadline on a monotonic
-- sub-second clock, offline (the network side is spec/fault_matrix_spec.lua).
--
-- Fails on ceb2e1b, all 18 cases, measured with this file against its
-- build: time_budget = 0 or -1 was accepted (-1: no bound with a C
-- resolver, temperror with a Lua one), NaN, inf or 1e300 raised "bad
-- argument #4 to 'run'" with a C resolver and nothing with a Lua one, and
-- there was no core.monotonic (the Lua loop timed in whole seconds with
-- os.time, a Lua resolver got no time left, a cut question was reported
-- as a plain "TIMEOUT").
local mailauth = require "mailauth"
local core = mailauth.core
local clock = core.monotonic
local fakedns = require "fakedns"

local ZONE = [[
$ORIGIN chain.test.
@ 300 IN SOA ns.chain.test. h.chain.test. 1 3600 600 86400 300
a 300 IN TXT "v=spf1 include:b.chain.test -all"
b 300 IN TXT "v=spf1 include:c.chain.test -all"
c 300 IN TXT "v=spf1 include:d.chain.test -all"
d 300 IN TXT "v=spf1 include:e.chain.test -all"
e 300 IN TXT "v=spf1 include:f.chain.test -all"
f 300 IN TXT "v=spf1 include:g.chain.test -all"
g 300 IN TXT "v=spf1 include:h.chain.test -all"
h 300 IN TXT "v=spf1 ip4:192.0.2.1 -all"
_dmarc 300 IN TXT "v=DMARC1; p=reject"
mx 300 IN A 192.0.2.1
]]
local REVERSE = [[
$ORIGIN 2.0.192.in-addr.arpa.
@ 300 IN SOA ns.chain.test. h.chain.test. 1 3600 600 86400 300
1 300 IN PTR mx.chain.test.
]]
local MESSAGE = "From: a@chain.test\r\nTo: b@example.org\r\nSubject: x\r\n\r\nbody\r\n"

local function busy_wait(seconds)
  local stop = clock() + seconds
  while clock() < stop do end
end

describe("time_budget", function()
  local zone = assert(mailauth.resolver { zones = { ZONE, REVERSE } })
  local lua_zone = fakedns.new({}, { over = zone }).resolve
  local calls = {
    -- (parenthesised: no tail call, so the error has a caller to name)
    iprev = function(o) return (mailauth.iprev("192.0.2.1", o)) end,
    ptr = function(o) return (mailauth.ptr("192.0.2.1", o)) end,
    spf = function(o) o.ip, o.sender = "192.0.2.1", "a@a.chain.test"; return (mailauth.spf(o)) end,
    dkim_verify = function(o) return (mailauth.dkim_verify(MESSAGE, o)) end,
    dmarc = function(o) o.from = "chain.test"; return (mailauth.dmarc(o)) end,
    arc_verify = function(o) return (mailauth.arc_verify(MESSAGE, o)) end,
    check = function(o)
      o.ip, o.sender = "192.0.2.1", "a@a.chain.test"
      return (mailauth.check(MESSAGE, o))
    end,
  }
  local names = { "iprev", "ptr", "spf", "dkim_verify", "dmarc", "arc_verify", "check" }

  for _, which in ipairs { "C", "Lua" } do
    local resolver = which == "C" and zone or lua_zone
    for _, fname in ipairs(names) do
      it(("is refused when not in (0, 3600]: mailauth.%s, %s resolver"):format(fname, which),
         function()
        for _, bad in ipairs { 0, -1, 0 / 0, math.huge, -math.huge, 3600.5, 1e300, "5", true } do
          local ok, err = pcall(calls[fname], { resolver = resolver, time_budget = bad })
          assert.is_false(ok, ("time_budget = %s accepted"):format(tostring(bad)))
          assert.are.equal(("mailauth.%s: option 'time_budget' must be a number of seconds"
                            .. " in (0, 3600]"):format(fname),
                           tostring(err):gsub("^[^:]*:%d+: ", ""), tostring(err))
          -- the error names the caller's line, not one inside mailauth
          assert.is_truthy(tostring(err):find("time_budget_spec.lua", 1, true), tostring(err))
        end
        for _, good in ipairs { 3600, 0.25, 20 } do
          assert.has_no.errors(function() calls[fname]({ resolver = resolver, time_budget = good }) end)
        end
        assert.has_no.errors(function() calls[fname]({ resolver = resolver }) end)
      end)
    end
  end
end)

describe("the Lua loop's deadline", function()
  local zone = assert(mailauth.resolver { zones = { ZONE, REVERSE } })

  it("is kept on core.monotonic(), a sub-second monotonic clock", function()
    local t0 = clock()
    assert.are.equal("number", type(t0))
    busy_wait(0.05)
    local dt = clock() - t0
    assert.is_true(dt >= 0.049 and dt < 1, tostring(dt))
    assert.is_true(clock() >= t0 + dt)
  end)

  -- A resolver that takes 0.25 s a call and ignores its timeout: the loop
  -- cannot interrupt it, but asks nothing more once the budget is gone.
  it("stops asking after the budget, names the question it cut, and gives the time left",
     function()
    local dns = fakedns.new({}, { over = zone, fault = { delay = 0.25, ignore_timeout = true } })
    local seen, slow = dns.timeouts, dns.resolve
    local t0 = clock()
    local r = mailauth.spf { ip = "192.0.2.1", sender = "a@a.chain.test", resolver = slow,
                             time_budget = 0.6 }
    local dt = clock() - t0
    assert.are.equal("temperror", r.result)
    assert.is_truthy(r.problem:match("^time budget ran out waiting for TXT [a-h]%.chain%.test$"),
                     r.problem)
    -- 3 calls (0.75 s) at most: the budget plus the one call in progress
    assert.is_true(#seen <= 3, tostring(#seen))
    assert.is_true(dt <= 0.6 * 1.1 + 0.25 + 0.3, tostring(dt))
    for i, t in ipairs(seen) do
      assert.is_true(type(t) == "number" and t > 0 and t <= 0.6, tostring(t))
      if i > 1 then assert.is_true(t < seen[i - 1]) end
    end
  end)

  -- One that honours it (waits no longer, then says TIMEOUT): the call
  -- ends at the deadline, the cut question named.
  it("ends at the deadline with a resolver that honours its timeout", function()
    local hangs = fakedns.new({}, { fault = { delay = 5, rcode = "TIMEOUT" } }).resolve
    for _, call in ipairs {
      function(o) return mailauth.spf { ip = "192.0.2.1", sender = "a@a.chain.test",
                                        resolver = o.resolver, time_budget = o.time_budget } end,
      function(o) return mailauth.check(MESSAGE, { ip = "192.0.2.1", sender = "a@a.chain.test",
                                                  resolver = o.resolver,
                                                  time_budget = o.time_budget }).dmarc end,
    } do
      local t0 = clock()
      local r = call { resolver = hangs, time_budget = 0.4 }
      local dt = clock() - t0
      assert.are.equal("temperror", r.result)
      assert.is_truthy(r.problem:find("time budget ran out waiting for TXT ", 1, true), r.problem)
      assert.is_true(dt <= 0.4 * 1.1 + 0.3, tostring(dt))
    end
  end)

  it("keeps check's results found before the deadline (SPF), DMARC cut", function()
    -- answers at once until the DMARC question, which never comes back in time
    local resolver = fakedns.new({}, { over = zone,
      patterns = { ["^_dmarc%."] = { delay = 5, rcode = "TIMEOUT" } } }).resolve
    local r = mailauth.check(MESSAGE, { ip = "192.0.2.1", sender = "a@a.chain.test",
                                        resolver = resolver, time_budget = 0.4 })
    assert.are.equal("pass", r.spf.result, r.spf.problem)
    assert.are.equal("pass", r.iprev.result)
    assert.are.equal("temperror", r.dmarc.result)
    assert.are.equal("time budget ran out waiting for TXT _dmarc.chain.test", r.dmarc.problem)
    assert.is_truthy(r.authentication_results:find("spf=pass", 1, true))
  end)
end)
