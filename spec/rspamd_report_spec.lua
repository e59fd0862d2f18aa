-- examples/rspamd/ in a real Rspamd 3.4 with report_redis pointed at a
-- real redis-server this spec starts (127.0.0.1, a free port, a temp
-- dir): each checked message's DMARC report record goes into Redis
-- through rspamd_redis (mailauth.rspamd's report_client), and
-- mailauth.report.aggregate over the LuaSocket client, outside Rspamd,
-- reads the same store back.  The expected records come from
-- mailauth.check and mailauth.report.record run here on the same zones
-- (spec/fixtures/zones) and the interop messages.  With redis-server
-- stopped, the scan gives the same symbols and the worker lives.
-- Runs under LuaJIT only: Rspamd's Lua.  Knot and Rspamd on free ports.
local daemon = require "spec.support.daemon"
local helpers = require "spec.support.helpers"
local redis = require "spec.support.redis"

local free_port = redis.free_port

-- The interop messages under a DMARC policy domain of interop.example
-- (spec/fixtures/interop/manifest.lua: the dmarc-* set).
local function messages()
  local list = {}
  for _, m in ipairs(dofile("spec/fixtures/interop/manifest.lua").messages) do
    if m.id:find("^dmarc%-") then
      list[#list + 1] = { id = m.id, file = "spec/fixtures/interop/" .. m.id .. ".eml",
                          ip = m.ip, helo = m.helo, sender = m.sender }
    end
  end
  return list
end

local RCPT = "postmaster@example.net"

daemon.describe_if(jit and redis.available(), "#integration #rspamd examples/rspamd records reports into Redis", function()
  local dir, pid, server
  local root = os.getenv("PWD")
  local mailauth = require "mailauth"
  local cjson = require "cjson"
  local PORT, DNS_PORT = free_port(), free_port()

  local function knot(cmd)
    return os.execute(("MAILAUTH_TEST_DNS_PORT=%d sh spec/support/knot.sh %s %s/knot"):format(DNS_PORT, cmd, dir))
  end

  setup(function()
    dir = daemon.tmpdir("mailauth-rspamd-report")
    server = assert(redis.start())
    local started = knot("start")
    assert(started == true or started == 0, "knot did not start: " .. daemon.read(dir .. "/knot/knot.log"))
    daemon.write(dir .. "/rspamd.conf", daemon.rspamd_conf(dir, "127.0.0.1:" .. DNS_PORT, PORT, {
      options = "  task_timeout = 6s;",
      rest = ([[
mailauth {
  .include "%s/examples/rspamd/mailauth.conf"
  lua_path = "%s/lua/?.lua;%s/lua/?/init.lua";
  lua_cpath = "%s/build/luajit/?.so";
  report_redis = "%s";
  report_prefix = "rspamd-spec";
}
lua = "%s/examples/rspamd/mailauth.lua";
]]):format(root, root, root, root, server.address, root) }))
    pid = daemon.start_rspamd(dir, PORT)
  end)

  teardown(function()
    if server then server.stop() end
    if dir then knot("stop") end
    daemon.cleanup(dir, pid)
  end)

  local function scan(m)
    local out = daemon.capture(("rspamc -h 127.0.0.1:%d -i %s --helo %s -F %s -r %s -j symbols %s")
                               :format(PORT, m.ip, m.helo, m.sender, RCPT, m.file))
    local ok, doc = pcall(cjson.decode, out)
    assert(ok, "rspamc said: " .. out)
    local res = doc.default or doc
    local syms = {}
    for name, s in pairs(res.symbols or {}) do
      if name:find("^MAILAUTH_") then syms[name] = s.options or {} end
    end
    return syms, doc
  end

  -- What the store should hold: per policy domain, the records (distinct
  -- source IP, disposition, DKIM and SPF alignment) and their messages,
  -- from mailauth.check here on the same zones.
  local function expected(list, times)
    local texts = {}
    local p = io.popen("ls spec/fixtures/zones")
    for f in p:lines() do texts[#texts + 1] = helpers.split_long_strings(helpers.read("spec/fixtures/zones/" .. f)) end
    p:close()
    local r = assert(mailauth.resolver { zones = texts })
    local want, n = {}, 0
    for _, m in ipairs(list) do
      local rep = mailauth.check(helpers.read(m.file), { ip = m.ip, helo = m.helo, sender = m.sender,
                                                          resolver = r, authserv_id = "mx.example.org" })
      local rec = mailauth.report.record(rep, { recipients = { RCPT } })
      if rec then
        local d = want[rec.policy_domain] or { rows = {}, messages = 0 }
        want[rec.policy_domain] = d
        local pe = rec.row.policy_evaluated
        local key = table.concat({ rec.row.source_ip, pe.disposition, pe.dkim, pe.spf }, " ")
        d.rows[key] = (d.rows[key] or 0) + times
        d.messages = d.messages + times
        n = n + times
      end
    end
    return want, n
  end

  -- The same shape read back from Redis by the LuaSocket client.
  local function stored(t0)
    local store = assert(mailauth.report.store { redis = server.address, prefix = "rspamd-spec" })
    local reps = assert(mailauth.report.aggregate(store, { org_name = "Receiver",
      email = "dmarc@example.net", period = { begin = t0 - t0 % 3600, ["end"] = os.time() + 7200 } }))
    store:close()
    local got, n = {}, 0
    for _, rep in ipairs(reps) do
      local back = assert(mailauth.report.parse(rep.xml_gz))
      assert.are.equal(rep.domain, back.policy_published.domain)
      local d = { rows = {}, messages = rep.messages }
      for _, rec in ipairs(back.records) do
        local pe = rec.policy_evaluated
        local key = table.concat({ rec.source_ip, pe.disposition, pe.dkim, pe.spf }, " ")
        d.rows[key] = (d.rows[key] or 0) + rec.count
      end
      got[rep.domain] = d
      n = n + rep.messages
    end
    return got, n
  end

  it("records every scanned message under its policy domain; aggregate outside Rspamd reads them back", function()
    local t0 = os.time()
    local list = messages()
    assert.is_true(#list >= 10, "messages: " .. #list)
    for _ = 1, 2 do
      for _, m in ipairs(list) do
        local syms = scan(m)
        assert(next(syms), m.id .. ": no MAILAUTH_* symbol")
        assert.is_nil(syms.MAILAUTH_ERROR, m.id)
      end
    end
    local want, n = expected(list, 2)
    assert.is_true(n >= 20, "records expected: " .. n)
    assert(want["dm-rej.interop.example"], "dm-rej.interop.example has a p=reject policy")
    -- rspamd_redis's requests are not awaited by the scan: give the last ones a moment
    local got, stored_n
    daemon.wait(10, function()
      got, stored_n = stored(t0)
      return stored_n >= n
    end)
    assert.are.equal(n, stored_n)
    assert.are.same(want, got)
    -- every key expires (add's EXPIREs ran after the writes they bound)
    local store = assert(mailauth.report.store { redis = server.address, prefix = "rspamd-spec" })
    local keys = assert(store.client.pipeline({ { "KEYS", "rspamd-spec:*" } }))[1]
    assert.is_true(#keys >= 3, "keys: " .. #keys)
    local cmds = {}
    for i, k in ipairs(keys) do cmds[i] = { "TTL", k } end
    local ttls = assert(store.client.pipeline(cmds))
    store:close()
    for i, k in ipairs(keys) do
      assert.is_true(ttls[i] > 7 * 86400 and ttls[i] <= 7 * 86400 + 3600, k .. " TTL " .. tostring(ttls[i]))
    end
  end)

  it("gives the same symbols with redis-server stopped, logs why, and the worker lives", function()
    local m
    for _, x in ipairs(messages()) do if x.id == "dmarc-fail-reject" then m = x end end
    assert(m, "dmarc-fail-reject is in the interop set")
    local before = scan(m)
    assert(before.MAILAUTH_DMARC_REJECT, cjson.encode(before))
    server.stop()
    server = nil
    local socket = require "socket"
    local t = socket.gettime()
    local after = scan(m)
    assert.is_true(socket.gettime() - t < 3, "the scan waited on Redis")
    assert.are.same(before, after)
    assert.is_true(daemon.alive(pid))
    assert(daemon.wait(5, function()
      return daemon.read(dir .. "/log/rspamd.log"):find("mailauth: report to redis", 1, true) ~= nil
    end), "no log line for the Redis that is down")
    assert.are.same(before, scan(m))
  end)
end)
