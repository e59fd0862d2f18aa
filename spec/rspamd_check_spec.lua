-- examples/rspamd/ loaded unchanged into a real Rspamd 3.4 (LuaJIT): the
-- rule's one symbol runs mailauth.rspamd's adapter.check on every message
-- (DNS pipelined over TCP to Rspamd's own nameserver, a Knot server this
-- spec starts on loopback with the fixture and demo zones), inserts its
-- MAILAUTH_* symbols and adds Authentication-Results through the milter
-- reply.  Each message's header is compared with mailauth.check run here
-- with mailauth's own zone driver on the same zones: the same text, so
-- the adapter, its batches and its cache change nothing.  Messages: the
-- dkimpy-signed interop set (spec/fixtures/interop) and the Microsoft 365
-- demo messages (examples/).  Runs under LuaJIT only: Rspamd's Lua.
local daemon = require "spec.support.daemon"
local helpers = require "spec.support.helpers"

local PORT, DNS_PORT = 11533, 15453
local AUTHSERV = "mx.example.org" -- examples/rspamd/mailauth.conf

local function with_rspamd(body)
  if not jit then return end
  describe("#integration #rspamd examples/rspamd in Rspamd", body)
end

-- The fixture zones and the demo zones in one folder: a zone both have
-- gets the demo's records (not its SOA and NS) for names the fixture's
-- does not have (so no RRset has an order to disagree on: RFC 2181 §5).
local function merged_zones(dir)
  os.execute("mkdir -p " .. dir)
  local have = {}
  for _, src in ipairs { "spec/fixtures/zones", "examples/zones" } do
    local p = io.popen("ls " .. src)
    for f in p:lines() do
      local text = helpers.read(src .. "/" .. f)
      if have[f] then
        local extra, owners = {}, {}
        for line in have[f]:gmatch("[^\n]+") do owners[line:match("^(%S+)") or ""] = true end
        for line in text:gmatch("[^\n]+") do
          if not line:find("^%$") and not line:find("^;") and not line:find("%sSOA%s")
             and not line:find("%sNS%s") and not owners[line:match("^(%S+)") or ""] then
            extra[#extra + 1] = line
          end
        end
        text = have[f] .. "\n" .. table.concat(extra, "\n") .. "\n"
      end
      have[f] = text
    end
    p:close()
  end
  for f, text in pairs(have) do helpers.write(dir .. "/" .. f, text) end
end

-- Every message with its envelope: the interop set and the demo's.
local function messages()
  local list = {}
  local manifest = dofile("spec/fixtures/interop/manifest.lua")
  for _, m in ipairs(manifest.messages) do
    list[#list + 1] = { id = m.id, file = "spec/fixtures/interop/" .. m.id .. ".eml",
                        ip = m.ip, helo = m.helo, sender = m.sender }
  end
  local demo = dofile("examples/demo.lua")
  for _, c in ipairs(demo.connections) do
    list[#list + 1] = { id = c.message:match("([^/]+)%.eml$"), file = "examples/" .. c.message,
                        ip = c.ip, helo = c.helo, sender = c.sender, expect = c.expect }
  end
  return list
end

with_rspamd(function()
  local dir, pid
  local root = os.getenv("PWD")
  local mailauth = require "mailauth"

  local function knot(cmd)
    return os.execute(("MAILAUTH_TEST_DNS_PORT=%d MAILAUTH_TEST_ZONES=%s/zones sh spec/support/knot.sh %s %s/knot")
                      :format(DNS_PORT, dir, cmd, dir))
  end

  setup(function()
    dir = daemon.tmpdir("mailauth-rspamd-check")
    for _, d in ipairs { "run", "db", "log", "local" } do os.execute("mkdir -p " .. dir .. "/" .. d) end
    merged_zones(dir .. "/zones")
    local started = knot("start")
    assert(started == true or started == 0, "knot did not start: " .. daemon.read(dir .. "/knot/knot.log"))
    -- A symbol registered without flags = "coro": adapter.check must
    -- raise a Lua error (in Rspamd's log), not take the worker down.
    daemon.write(dir .. "/local/nocoro.lua", [[
local adapter = require "mailauth.rspamd"
rspamd_config:register_symbol { name = "MAILAUTH_NOCORO", score = 0.0, type = "normal",
  callback = function(task)
    if task:get_request_header("X-Nocoro") then adapter.check(task) end
  end }
]])
    daemon.write(dir .. "/rspamd.conf", ([[
options {
  pidfile = "%s/run/rspamd.pid";
  dns { nameserver = ["127.0.0.1:%d"]; timeout = 1s; retransmits = 1; }
  control_socket = "%s/run/rspamd.sock mode=0600";
  history_file = "%s/db/rspamd.history";
  dynamic_conf = "%s/db/rspamd_dynamic";
  url_tld = "/usr/share/rspamd/effective_tld_names.dat";
}
logging { type = "file"; filename = "%s/log/rspamd.log"; level = "info"; }
worker "normal" { bind_socket = "127.0.0.1:%d"; count = 1; }
actions { reject = 15; add_header = 6; greylist = 4; }
mailauth {
  .include "%s/examples/rspamd/mailauth.conf"
  lua_path = "%s/lua/?.lua;%s/lua/?/init.lua";
  lua_cpath = "%s/build/luajit/?.so";
}
lua = "%s/examples/rspamd/mailauth.lua";
lua = "%s/local/nocoro.lua";
]]):format(dir, DNS_PORT, dir, dir, dir, dir, PORT, root, root, root, root, root, dir))
    -- The adapter's round trips for one message, with no cache.
    daemon.write(dir .. "/local/nocoro.lua", daemon.read(dir .. "/local/nocoro.lua") .. [[
rspamd_config:register_symbol { name = "MAILAUTH_RT", score = 0.0, type = "normal", flags = "coro",
  callback = function(task)
    if not task:get_request_header("X-RT") then return end
    local report = adapter.check(task, { cache = 0 })
    task:insert_result("MAILAUTH_RT", 1.0, tostring(report.rspamd.round_trips),
                       tostring(report.rspamd.queries))
  end }
]])
    local conf = daemon.capture(("rspamadm configtest -c %s/rspamd.conf"):format(dir))
    assert(conf:match("syntax OK"), conf)
    pid = daemon.start(("rspamd -f -i -u root -g root -c %s/rspamd.conf"):format(dir), dir .. "/log/stdout")
    assert(daemon.wait(60, function()
      return daemon.capture(("curl -s http://127.0.0.1:%d/ping"):format(PORT)):match("pong")
    end), "rspamd did not start: " .. daemon.read(dir .. "/log/stdout")
          .. daemon.read(dir .. "/log/rspamd.log"):sub(-3000))
  end)

  teardown(function()
    daemon.stop(pid)
    if dir then knot("stop"); if not os.getenv("MAILAUTH_KEEP") then os.execute("rm -rf " .. dir) end end
  end)

  local cjson = require "cjson"
  local function scan(m, extra)
    local flags = ("-i %s --helo %s"):format(m.ip, m.helo)
    if m.sender and m.sender ~= "" then flags = flags .. " -F " .. m.sender end
    local out = daemon.capture(("rspamc -h 127.0.0.1:%d %s %s -j symbols %s")
                               :format(PORT, flags, extra or "", m.file))
    local ok, doc = pcall(cjson.decode, out)
    assert(ok, "rspamc said: " .. out)
    return doc.default or doc, doc, out
  end

  local function symbols_of(res)
    local out = {}
    for name, s in pairs(res.symbols or res) do
      if type(s) == "table" and name:find("^MAILAUTH_") then out[name] = s.options or {} end
    end
    return out
  end

  -- The DMARC symbol the rule inserts for a report.
  local function dmarc_symbol(d)
    if d.result == "fail" then
      local p = d.disposition or d.policy or "none"
      return p == "reject" and "MAILAUTH_DMARC_REJECT" or p == "quarantine"
             and "MAILAUTH_DMARC_QUARANTINE" or "MAILAUTH_DMARC_FAIL"
    end
    return "MAILAUTH_DMARC_" .. ({ pass = "PASS", none = "NONE", temperror = "TEMPFAIL",
                                   permerror = "PERMFAIL" })[d.result]
  end

  it("checks 40+ messages as mailauth.check with the C resolver does, header included", function()
    -- the reference: the same zones offline (mailauth's zone driver
    -- follows CNAMEs across zones, as a recursive server would)
    local texts = {}
    local p = io.popen("ls " .. dir .. "/zones")
    for f in p:lines() do texts[#texts + 1] = helpers.split_long_strings(helpers.read(dir .. "/zones/" .. f)) end
    p:close()
    local r = assert(mailauth.resolver { zones = texts })
    local n = 0
    for _, m in ipairs(messages()) do
      local res, doc, raw = scan(m)
      local syms = symbols_of(res)
      local want = mailauth.check(helpers.read(m.file), {
        ip = m.ip, helo = m.helo, sender = m.sender or "", resolver = r, authserv_id = AUTHSERV })
      local milter = doc.milter or res.milter or {}
      local added = milter.add_headers and milter.add_headers["Authentication-Results"]
      assert(added, m.id .. ": no header in " .. raw)
      local value = type(added) == "table" and (added.value or (added[1] and added[1].value)) or added
      assert.are.equal(want.authentication_results, "Authentication-Results: " .. value, m.id)
      assert(syms[dmarc_symbol(want.dmarc)], m.id .. ": want " .. dmarc_symbol(want.dmarc) .. " in " .. raw)
      if m.expect and m.expect.dmarc then
        assert.are.equal(m.expect.dmarc, want.dmarc.result, m.id)
      end
      n = n + 1
    end
    assert.is_true(n >= 40, "messages: " .. n)
  end)

  it("inserts MAILAUTH_M365_TRUSTED for the tenant, and not for the cross-tenant spoof", function()
    local by = {}
    for _, m in ipairs(messages()) do by[m.id] = m end
    local trusted = symbols_of(scan(by["m365-contoso"]))
    assert(trusted.MAILAUTH_M365_TRUSTED, "contoso's own mail is trusted")
    assert.are.equal("contoso.onmicrosoft.com", trusted.MAILAUTH_M365_TRUSTED[1])
    assert(trusted.MAILAUTH_DMARC_PASS)
    for _, id in ipairs { "m365-cross-tenant-spoof", "m365-onmicrosoft-spoof" } do
      local s = symbols_of(scan(by[id]))
      assert.is_nil(s.MAILAUTH_M365_TRUSTED, id)
      assert(s.MAILAUTH_DMARC_REJECT, id .. " is rejected by DMARC")
    end
  end)

  it("costs the same DNS round trips per message as mailauth's C resolver and a batch Lua resolver", function()
    -- The C resolver's round trips, seen from the server side: a proxy
    -- delays every query 50 ms, so one round's queries arrive together
    -- and the next round 50 ms later (spec/support/delay_proxy.py).
    local pfile, plog = dir .. "/proxy.port", dir .. "/proxy.log"
    helpers.write(plog, "")
    local ppid = daemon.start(("/usr/bin/python3 spec/support/delay_proxy.py --upstream 127.0.0.1:%d"
                               .. " --delay 0.05 --port-file %s --log %s --lifetime 300")
                              :format(DNS_PORT, pfile, plog), dir .. "/proxy.out")
    assert(daemon.wait(10, function() return helpers.read_if(pfile) end), daemon.read(dir .. "/proxy.out"))
    local c = assert(mailauth.resolver { nameservers = { "127.0.0.1@" .. helpers.read(pfile) },
                                         timeout = 2, retries = 1, cache = 0 })
    local texts = {}
    local p = io.popen("ls " .. dir .. "/zones")
    for f in p:lines() do texts[#texts + 1] = helpers.split_long_strings(helpers.read(dir .. "/zones/" .. f)) end
    p:close()
    local zone = assert(mailauth.resolver { zones = texts })
    local function clusters(from)
      local n, last, i = 0, nil, 0
      for line in io.lines(plog) do
        i = i + 1
        if i > from then
          local t = tonumber(line)
          if not last or t - last > 0.025 then n = n + 1 end
          last = t
        end
      end
      return n, i
    end
    local seen, compared = 0, 0
    local ok, err = pcall(function()
      for _, m in ipairs(messages()) do
        if not m.file:find("^examples/") then -- the demo's tenant keys sit behind cross-zone CNAMEs
          local text = helpers.read(m.file)
          local opts = { ip = m.ip, helo = m.helo, sender = m.sender or "", authserv_id = AUTHSERV }
          opts.resolver = c
          mailauth.check(text, opts)
          local c_rounds
          c_rounds, seen = clusters(seen)
          local batches = 0
          opts.resolver = { query_many = function(_, qs)
            batches = batches + 1
            local out = {}
            for i, q in ipairs(qs) do out[i] = zone:query(q.name, q.type) end
            return out
          end }
          mailauth.check(text, opts)
          local rt = symbols_of(scan(m, "--header 'X-RT: 1'")).MAILAUTH_RT
          assert(rt, m.id .. ": no MAILAUTH_RT")
          assert.are.same({ c_rounds, batches }, { batches, tonumber(rt[1]) }, m.id)
          compared = compared + 1
        end
      end
    end)
    daemon.stop(ppid)
    assert(ok, err)
    assert.is_true(compared >= 40, "compared: " .. compared)
  end)

  it("raises a Lua error naming flags = \"coro\" outside a coroutine; the worker lives", function()
    local m = messages()[1]
    local res = scan(m, "--header 'X-Nocoro: 1'")
    assert(symbols_of(res).MAILAUTH_DMARC_PASS or next(symbols_of(res)), "the scan still answered")
    local log = daemon.read(dir .. "/log/rspamd.log")
    assert.matches('flags = "coro"', log, 1, true)
    assert.is_true(daemon.alive(pid))
    -- and it keeps serving
    assert(next(symbols_of(scan(m))))
  end)
end)
