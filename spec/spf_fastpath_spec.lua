-- mailauth.spf's two ways through the binding give the same outcomes:
-- core.spf (a C resolver run in one C call, or a Lua function's check
-- for the Lua loop; src/lua/lmailauth.c l_spf) and spf.lua's own path
-- (taken for resolver objects, options with a metatable and whatever
-- core.spf refuses, which words the errors).  Zones and expected results
-- follow RFC 7208 §5 (ip4, mx, -all) and §9.1 (Received-SPF).
local mailauth = require "mailauth"
local core = require "mailauth.core"

local NOW = 1700000000
local ZONE = [[
$ORIGIN example.com.
$TTL 300
@ IN SOA ns hm 1 2 3 4 5
@ IN TXT "v=spf1 ip4:192.0.2.0/24 mx -all"
@ IN MX 10 mx1
mx1 IN A 198.51.100.7
]]

local c_resolver = assert(mailauth.resolver { zones = { ZONE } })
-- the same answers through Lua: a function, and an object with :query
local function lua_fn(name, qtype) return c_resolver:query(name, qtype) end
local object = { query = function(_, name, qtype) return c_resolver:query(name, qtype) end }

local function opts(ip, extra)
  local o = { ip = ip, sender = "a@example.com", helo = "mx.example.net", now = NOW }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

-- a result without its reader, as the caller sees it (pairs)
local function fields(r)
  local out = {}
  for k, v in pairs(r) do out[k] = v end
  return out
end

describe("mailauth.spf through core.spf and through spf.lua's path", function()
  local cases = {
    { "192.0.2.9", "pass", "ip4:192.0.2.0/24" },   -- §5.6 ip4
    { "198.51.100.7", "pass", "mx" },              -- §5.4 mx
    { "203.0.113.1", "fail", "-all" },             -- §5.1 all
  }
  for _, c in ipairs(cases) do
    it(("gives the same result for %s (%s)"):format(c[1], c[2]), function()
      local fast = mailauth.spf(opts(c[1], { resolver = c_resolver }))
      local viafn = mailauth.spf(opts(c[1], { resolver = lua_fn }))
      local slow = mailauth.spf(opts(c[1], { resolver = object }))
      local meta = mailauth.spf(setmetatable(opts(c[1], { resolver = c_resolver }), {}))
      assert.are.equal(c[2], fast.result)
      assert.are.equal(c[3], fast.mechanism)
      assert.are.same(fields(slow), fields(fast))
      assert.are.same(fields(slow), fields(viafn))
      assert.are.same(fields(slow), fields(meta))
      -- received_spf on first read, the same text either way (§9.1)
      assert.is_nil(rawget(fast, "received_spf"))
      assert.are.equal(slow.received_spf, fast.received_spf)
      assert.are.equal(slow.received_spf, viafn.received_spf)
      assert.are.equal(mailauth.spf_received(slow), fast.received_spf)
      assert.is_nil(getmetatable(fast))
    end)
  end

  it("keeps each call's receiver in received_spf", function()
    local a = mailauth.spf(opts("192.0.2.9", { resolver = c_resolver, receiver = "mx-a.example.org" }))
    local b = mailauth.spf(opts("192.0.2.9", { resolver = lua_fn, receiver = "mx-b.example.org" }))
    local none = mailauth.spf(opts("192.0.2.9", { resolver = c_resolver }))
    assert.truthy(a.received_spf:find("; receiver=mx-a.example.org;", 1, true))
    assert.truthy(b.received_spf:find("; receiver=mx-b.example.org;", 1, true))
    assert.is_nil(none.received_spf:find("receiver=", 1, true))
    assert.are.equal(mailauth.spf_received(a, { receiver = "mx-a.example.org" }), a.received_spf)
    -- other absent fields stay absent and leave the reader in place
    local c = mailauth.spf(opts("192.0.2.9", { resolver = c_resolver }))
    assert.is_nil(c.explanation)
    assert.is_not_nil(getmetatable(c))
  end)

  it("takes now from the clock when absent, and the default time budget", function()
    local o = opts("192.0.2.9", { resolver = c_resolver })
    o.now = nil
    local before = os.time()
    local r = mailauth.spf(o)
    assert.are.equal("pass", r.result)
    assert.is_true(os.time() - before <= 1)
    assert.are.equal("pass", mailauth.spf(opts("192.0.2.9", { resolver = c_resolver,
                                                              time_budget = 5 })).result)
  end)

  -- refused options take spf.lua's path: the same words as ever, as
  -- with a resolver object (which never goes through core.spf)
  local bad = {
    { { sendr = "a@example.com" }, "option 'sendr' is unknown %(did you mean 'sender'%?%)" },
    { { time_budget = 0 }, "option 'time_budget' must be a number of seconds in %(0, 3600%]" },
    { { time_budget = "5" }, "option 'time_budget' must be" },
    { { now = "x" }, "option 'now' must be an integer" },
    { { max_lookups = 1.5 }, "option 'max_lookups' must be an integer" },
  }
  local function err_of(res, extra)
    local o = opts("192.0.2.9", { resolver = res })
    for k, v in pairs(extra) do o[k] = v end
    local ok, err = pcall(mailauth.spf, o)
    assert.is_false(ok)
    return err
  end
  for _, b in ipairs(bad) do
    it(("words a refused option as spf.lua's path does (%s)"):format(next(b[1])), function()
      local slow = err_of(object, b[1])
      assert.matches("mailauth.spf: " .. b[2], slow)
      assert.are.equal(slow, err_of(c_resolver, b[1]))
      assert.are.equal(slow, err_of(lua_fn, b[1]))
    end)
  end

  it("reads only the options table's own fields", function()
    -- a metatable on the options: spf.lua's path, whose reads see __index
    local o = setmetatable(opts("192.0.2.9", { resolver = c_resolver }),
                           { __index = { receiver = "mx-i.example.org" } })
    assert.truthy(mailauth.spf(o).received_spf:find("receiver=mx-i.example.org", 1, true))
  end)

  it("returns nothing from core.spf for the calls it leaves to spf.lua", function()
    assert.is_nil(core.spf(opts("192.0.2.9", { resolver = object }), object))
    assert.is_nil(core.spf(opts("192.0.2.9"), nil))
    assert.is_nil(core.spf("not a table", c_resolver))
    assert.is_nil(core.spf(opts("192.0.2.9", { resolver = c_resolver, bogus = 1 }), c_resolver))
  end)
end)
