-- examples/haproxy/ run unchanged by a real HAProxy 2.6 (Lua 5.3): 200 SMTP
-- connections through its front, from two loopback clients, each sending
-- its EHLO.  The variables its action sets (iprev, SPF for the HELO) are
-- read from HAProxy's log line per connection; the resolver's counters
-- from the example's stats service.  DNS: the harness's Knot server, over
-- TCP.  Runs under Lua 5.3 only: the Lua Debian's HAProxy embeds.
local daemon = require "spec.support.daemon"

local SMTP, MTA, STATS = 18525, 18526, 18527

daemon.describe_if(_VERSION == "Lua 5.3", "#integration #haproxy examples/haproxy in HAProxy", function()
  local dir, pid, mta
  local root = os.getenv("PWD")
  local socket = require "socket"

  setup(function()
    local NS = daemon.nameserver()
    dir = daemon.tmpdir("mailauth-haproxy-example")
    -- the MTA behind the front: greets and closes
    mta = daemon.start(("/usr/bin/python3 -c 'import socket\ns=socket.socket()\n"
      .. "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind((\"127.0.0.1\", %d))\n"
      .. "s.listen(64)\nwhile True:\n  c, _ = s.accept()\n  c.sendall(b\"220 mta ready\\r\\n\")\n  c.close()'")
      :format(MTA), dir .. "/mta.log")
    local env = ("MAILAUTH_LUA_DIR=%s/lua MAILAUTH_LIB_DIR=%s/build/lua5.3 MAILAUTH_ACTION=%s/examples/haproxy/mailauth.lua"
                 .. " MAILAUTH_NS=%s MAILAUTH_LISTEN=127.0.0.1:%d MAILAUTH_MTA=127.0.0.1:%d MAILAUTH_STATS=127.0.0.1:%d")
                :format(root, root, root, NS, SMTP, MTA, STATS)
    local check = daemon.capture(env .. " haproxy -c -f examples/haproxy/haproxy.cfg")
    assert(check:match("Configuration file is valid"), check)
    pid = daemon.start(env .. " exec haproxy -db -f examples/haproxy/haproxy.cfg", dir .. "/haproxy.log")
    assert(daemon.wait(10, function()
      return daemon.capture(("curl -s http://127.0.0.1:%d/"):format(STATS)):match("connections")
    end), "haproxy did not start: " .. daemon.read(dir .. "/haproxy.log"))
  end)

  teardown(function() daemon.cleanup(dir, pid, mta) end)

  -- One SMTP client: connects from ip, sends its EHLO, reads until closed.
  local function smtp(ip, helo)
    local c = socket.tcp()
    c:settimeout(10)
    assert(c:bind(ip, 0))
    assert(c:connect("127.0.0.1", SMTP))
    if helo then c:send("EHLO " .. helo .. "\r\n") end
    local got = c:receive("*a") or ""
    c:close()
    return got
  end

  local cjson = require "cjson"
  local function stats()
    return cjson.decode(daemon.capture(("curl -s http://127.0.0.1:%d/"):format(STATS)))
  end

  it("checks 200 SMTP connections, setting the variables the ACLs use", function()
    local before = stats()
    local passed, rejected = 0, 0
    for i = 1, 200 do
      if i % 4 == 0 then
        -- 127.0.0.2 claims mail.example.com, which does not map back
        if smtp("127.0.0.2", "loopback.example.com") == "" then rejected = rejected + 1 end
      else
        if smtp("127.0.0.1", "loopback.example.com"):match("^220 mta") then passed = passed + 1 end
      end
    end
    assert.are.same({ 150, 50 }, { passed, rejected })
    -- the log line of each connection holds the variables
    assert(daemon.wait(5, function()
      local n = 0
      for _ in daemon.read(dir .. "/haproxy.log"):gmatch("mailauth client=") do n = n + 1 end
      return n >= 200
    end), daemon.read(dir .. "/haproxy.log"):sub(-2000))
    local log = daemon.read(dir .. "/haproxy.log")
    local good, bad = 0, 0
    for line in log:gmatch("mailauth client=[^\n]+") do
      if line:find("client=127.0.0.1 iprev=pass name=loopback.example.com helo=loopback.example.com spf_helo=pass", 1, true) then
        good = good + 1
      elseif line:find("client=127.0.0.2 iprev=fail name=- helo=loopback.example.com spf_helo=fail", 1, true) then
        bad = bad + 1
      end
    end
    assert.are.same({ 150, 50 }, { good, bad })
    -- Answers come from the process's cache after the first client of
    -- each address: the TCP connections opened to the nameserver stay at
    -- most one per check that missed the cache: here 2 (one per client
    -- address: the first check of each; a check asks all its rounds on
    -- one connection).  Measured: 2 connections, 5 queries, 795 hits.
    local after = stats()
    local opened = after.connections - before.connections
    if os.getenv("MAILAUTH_VERBOSE") then io.stderr:write(cjson.encode(before), " ", cjson.encode(after), "\n") end
    assert.is_true(opened >= 1 and opened <= 2, "connections opened: " .. opened)
    assert.is_true(after.cache_hits - before.cache_hits >= 190 * 3,
                   "cache hits: " .. (after.cache_hits - before.cache_hits))
    assert.is_true(after.queries - before.queries <= 8, "queries: " .. (after.queries - before.queries))
  end)

  it("checks a client that waits for the banner on iprev alone, after the inspect-delay", function()
    -- an SMTP client speaks after the server: nothing arrives, the rules
    -- run at WAIT_END (5 s in the example) with no HELO to check
    local t0 = socket.gettime()
    assert.matches("^220 mta", smtp("127.0.0.1", nil))
    assert.is_true(socket.gettime() - t0 >= 4.5)
    assert(daemon.wait(5, function()
      return daemon.read(dir .. "/haproxy.log"):find("iprev=pass name=loopback.example.com helo=- spf_helo=none", 1, true)
    end), daemon.read(dir .. "/haproxy.log"):sub(-1000))
  end)
end)
