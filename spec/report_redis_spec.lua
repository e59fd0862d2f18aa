-- mailauth.report's Redis store against a real redis-server started here
-- (127.0.0.1, a free port, a temp dir; stopped at the end): two "hosts"
-- (two processes, two connections) record into it at once and one
-- aggregate report covers both, nothing lost; with the server down,
-- recording returns an error value and mailauth.check is unaffected.
local mailauth = require "mailauth"
local redis = require "spec.support.redis"

local LUA = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
local function sh(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

describe("mailauth.report's Redis store", function()
  if not redis.available() then
    pending("skipped: redis-server (Debian redis-server) is not installed")
    return
  end
  if not pcall(require, "socket") or not pcall(require, "zlib") then
    pending("skipped: lua-socket or lua-zlib is not installed for " .. LUA)
    return
  end
  local server
  setup(function() server = assert(redis.start()) end)
  teardown(function() if server then server.stop() end end)

  it("aggregates what two hosts recorded at once into one report", function()
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write(([[
      package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
      package.cpath = %q .. package.cpath
      local report = require "mailauth.report"
      local store = assert(report.store { redis = %q, prefix = "t1", retention = 86400 })
      local ip = arg[1]
      for i = 1, 300 do
        assert(store:add({ time = 1700006400 + i * 7, policy_domain = "example.org",
          rua = { "mailto:dmarc@example.org" },
          policy_published = { domain = "example.org", p = "none", discovery_method = "psl" },
          row = { source_ip = ip, policy_evaluated = { disposition = "none", dkim = "fail",
                  spf = "pass", reason = {} } },
          identifiers = { header_from = "example.org" },
          auth_results = { dkim = {}, spf = { { domain = "example.org", scope = "mfrom",
                                                result = "pass" } } } }))
      end
      store:close()
    ]]):format(package.cpath:match("^[^;]*;") or "", server.address))
    f:close()
    local err = os.tmpname()
    assert(os.execute(("(%s %s 192.0.2.1 & %s %s 192.0.2.2 & wait) 2>%s"):format(
      LUA, sh(script), LUA, sh(script), sh(err))))
    local ef = io.open(err)
    assert.are.equal("", ef:read("*a"))
    ef:close()
    os.remove(script)
    os.remove(err)
    local store = assert(mailauth.report.store { redis = server.address, prefix = "t1" })
    local reps = assert(mailauth.report.aggregate(store, { org_name = "Receiver",
      email = "dmarc@receiver.example", period = { begin = 1700006400, ["end"] = 1700092800 },
      now = 1700092900 }))
    assert.are.equal(1, #reps)
    assert.are.equal(2, reps[1].records)
    assert.are.equal(600, reps[1].messages)
    assert.are.same({ "dmarc@example.org" }, reps[1].rua)
    local back = assert(mailauth.report.parse(reps[1].xml_gz))
    local counts = {}
    for _, r in ipairs(back.records) do counts[r.source_ip] = r.count end
    assert.are.same({ ["192.0.2.1"] = 300, ["192.0.2.2"] = 300 }, counts)
    store:close()
  end)

  it("writes the same store through a client whose commands arrive in no fixed order (one EVAL)", function()
    -- Rspamd's report_client shape: each command its own request,
    -- replies not awaited; here over a LuaSocket store's own client, each
    -- pipeline's commands sent last first (as a pool's requests may
    -- overtake each other), and the client does not say so: with
    -- add's commands sent apart, EXPIRE before HINCRBY left the bucket
    -- without a TTL
    local plain = assert(mailauth.report.store { redis = server.address, prefix = "t3" })
    local sent = {}
    local unordered = { close = function() end, pipeline = function(cmds)
      for i = #cmds, 1, -1 do
        sent[#sent + 1] = cmds[i][1]
        assert(plain.client.pipeline({ cmds[i] }))
      end
      local out = {}
      for i = 1, #cmds do out[i] = true end
      return out
    end }
    local scripted = assert(mailauth.report.store { client = unordered, prefix = "t2" })
    local r = mailauth.resolver { zones = { [[
example.org. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
_dmarc.example.org. 300 IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.org"
]] } }
    local rep = mailauth.check("From: a@example.org\r\n\r\nx\r\n",
                               { ip = "192.0.2.1", sender = "b@example.org", resolver = r })
    local rec = assert(mailauth.report.record(rep, { now = 1700010000 }))
    -- each key expires from the first add on, as the pipelined commands set them
    local function ttls()
      local keys = assert(plain.client.pipeline({ { "KEYS", "t2:*" } }))[1]
      assert.are.equal(3, #keys)
      for _, k in ipairs(keys) do
        local ttl = assert(plain.client.pipeline({ { "TTL", k } }))[1]
        assert.is_true(ttl > 86400 * 7 and ttl <= 86400 * 7 + 3600, k .. " " .. tostring(ttl))
      end
    end
    for i = 1, 3 do
      assert.is_true(scripted:add(rec))
      assert.is_true(plain:add(rec))
      if i == 1 then ttls() end
    end
    assert.are.same({ "EVAL", "EVAL", "EVAL" }, sent)
    local opts = { org_name = "Receiver", email = "dmarc@receiver.example",
                   period = { begin = 1700006400, ["end"] = 1700092800 }, now = 1700092900 }
    local a = assert(mailauth.report.aggregate(plain, opts))
    local b = assert(mailauth.report.aggregate(assert(mailauth.report.store {
      redis = server.address, prefix = "t2" }), opts))
    assert.are.equal(1, #b)
    assert.are.same({ 1, 3, "example.org" }, { b[1].records, b[1].messages, b[1].domain })
    assert.are.equal(a[1].xml, b[1].xml)
    ttls()
    plain:close()
  end)

  it("keeps the keys 7 days by default (the SQLite store's default), for ever with retention = false", function()
    local rec = { time = 1700010000, policy_domain = "example.org", rua = {},
      policy_published = { domain = "example.org", p = "none", discovery_method = "psl" },
      row = { source_ip = "192.0.2.1", policy_evaluated = { disposition = "none", dkim = "fail",
              spf = "pass", reason = {} } },
      identifiers = { header_from = "example.org" }, auth_results = { dkim = {}, spf = {} } }
    local function ttls(prefix)
      local store = assert(mailauth.report.store { redis = server.address, prefix = prefix })
      local keys = assert(store.client.pipeline({ { "KEYS", prefix .. ":*" } }))[1]
      assert.are.equal(3, #keys)
      local out = {}
      for _, k in ipairs(keys) do out[#out + 1] = assert(store.client.pipeline({ { "TTL", k } }))[1] end
      store:close()
      return out
    end
    local default = assert(mailauth.report.store { redis = server.address, prefix = "t4" })
    assert.is_true(default:add(rec))
    default:close()
    for _, ttl in ipairs(ttls("t4")) do
      assert.is_true(ttl > 7 * 86400 and ttl <= 7 * 86400 + 3600, tostring(ttl))
    end
    local forever = assert(mailauth.report.store { redis = server.address, prefix = "t5",
                                                   retention = false })
    assert.is_true(forever:add(rec))
    assert.is_true(forever:expire(rec.time + 20 * 365 * 86400))
    assert.are.equal(1, assert(forever:collect(1700006400, 1700092800))["example.org"].rows[1].count)
    forever:close()
    assert.are.same({ -1, -1, -1 }, ttls("t5"))
  end)

  it("returns an error value when Redis is down, and the check goes on", function()
    local gone = assert(redis.start())
    local store = assert(mailauth.report.store { redis = gone.address, timeout = 1 })
    gone.stop()
    local r = mailauth.resolver { zones = { [[
example.org. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
_dmarc.example.org. 300 IN TXT "v=DMARC1; p=reject"
]] } }
    local rep = mailauth.check("From: a@example.org\r\n\r\nx\r\n",
                               { ip = "192.0.2.1", sender = "b@example.org", resolver = r })
    assert.are.equal("pass", rep.dmarc.result)
    local ok, err = store:add(assert(mailauth.report.record(rep)))
    assert.is_nil(ok)
    assert.matches("^redis", err)
    -- a store that cannot connect at all: nil and the problem, not an error
    local none, why = mailauth.report.store { redis = gone.address, timeout = 1 }
    assert.is_nil(none)
    assert.matches("redis 127%.0%.0%.1:%d+", why)
  end)
end)
