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

-- Two messages made here: signed by mailauth itself (dkimpy's test key,
-- selector1._domainkey.example.com, behind an in-zone CNAME), and that
-- message forwarded by example.com with an ARC set sealed by mailauth.
local NOW = os.time()
local function own_messages(dir)
  local mailauth = require "mailauth"
  local F = dofile("spec/support/dkimfix.lua")
  local key = F.read("dkimpy/test.private")
  local msg = "From: Megan <megan@example.com>\r\nTo: b@example.net\r\nSubject: q3\r\n"
              .. "Date: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <q3@example.com>\r\n\r\nThe figures.\r\n"
  local signed = assert(mailauth.dkim_sign(msg, { domain = "example.com", selector = "selector1",
                                                  key = key, now = NOW - 60 })) .. "\r\n" .. msg
  local arc = assert(mailauth.arc_seal(signed, { domain = "example.com", selector = "selector1", key = key,
    authserv_id = "mail.example.com", now = NOW - 30,
    authentication_results = "spf=pass smtp.mailfrom=example.com; dkim=pass header.d=example.com; arc=none" }))
  helpers.write(dir .. "/mailauth-signed.eml", signed)
  helpers.write(dir .. "/arc-forwarded.eml", arc .. "\r\n" .. signed)
  return {
    { id = "mailauth-signed", file = dir .. "/mailauth-signed.eml", ip = "192.0.2.25",
      helo = "mail.example.com", sender = "megan@example.com" },
    -- forwarded: the relay's address is not in example.com's SPF
    { id = "arc-forwarded", file = dir .. "/arc-forwarded.eml", ip = "198.51.100.10",
      helo = "mta.interop.example", sender = "megan@example.com" },
  }
end

-- Every message with its envelope: the interop set, the demo's and two of ours.
local the_dir
local function messages()
  local list = {}
  for _, m in ipairs(own_messages(the_dir)) do list[#list + 1] = m end
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

daemon.describe_if(jit, "#integration #rspamd examples/rspamd in Rspamd", function()
  local dir, pid
  local root = os.getenv("PWD")
  local mailauth = require "mailauth"

  local function knot(cmd)
    return os.execute(("MAILAUTH_TEST_DNS_PORT=%d MAILAUTH_TEST_ZONES=%s/zones sh spec/support/knot.sh %s %s/knot")
                      :format(DNS_PORT, dir, cmd, dir))
  end

  setup(function()
    dir = daemon.tmpdir("mailauth-rspamd-check")
    the_dir = dir
    merged_zones(dir .. "/zones")
    local started = knot("start")
    assert(started == true or started == 0, "knot did not start: " .. daemon.read(dir .. "/knot/knot.log"))
    daemon.write(dir .. "/rspamd.conf", daemon.rspamd_conf(dir, "127.0.0.1:" .. DNS_PORT, PORT, {
      options = '  task_timeout = 6s;\n  filters = "dkim";',
      rest = ([[
# Rspamd's own SPF, DKIM, DMARC and ARC, to compare verdicts with
modules { path = "/usr/share/rspamd/plugins"; }
spf { }
dkim { }
dmarc { }
arc { }
actions { reject = 15; add_header = 6; greylist = 4; }
mailauth {
  .include "%s/examples/rspamd/mailauth.conf"
  lua_path = "%s/lua/?.lua;%s/lua/?/init.lua";
  lua_cpath = "%s/build/luajit/?.so";
}
lua = "%s/examples/rspamd/mailauth.lua";
lua = "%s/local/nocoro.lua";
]]):format(root, root, root, root, root, dir) }))
    -- A symbol registered without flags = "coro": adapter.check must
    -- raise a Lua error (in Rspamd's log), not take the worker down.
    daemon.write(dir .. "/local/nocoro.lua", [[
local adapter = require "mailauth.rspamd"
rspamd_config:register_symbol { name = "MAILAUTH_NOCORO", score = 0.0, type = "normal",
  callback = function(task)
    if task:get_request_header("X-Nocoro") then adapter.check(task) end
  end }
]])
    -- The adapter's round trips for one message, with no cache.
    daemon.write(dir .. "/local/nocoro.lua", daemon.read(dir .. "/local/nocoro.lua") .. [[
rspamd_config:register_symbol { name = "MAILAUTH_RT", score = 0.0, type = "normal", flags = "coro",
  callback = function(task)
    if not task:get_request_header("X-RT") then return end
    local report = adapter.check(task, { cache = 0 })
    task:insert_result("MAILAUTH_RT", 1.0, tostring(report.rspamd.round_trips),
                       tostring(report.rspamd.queries))
  end }
-- The same over rspamd_tcp's callbacks (adapter.check with a callback).
rspamd_config:register_symbol { name = "MAILAUTH_RT_ASYNC", score = 0.0, type = "normal",
  callback = function(task)
    if not task:get_request_header("X-RT") then return end
    assert(adapter.check(task, { cache = 0 }, function(report, err)
      assert(report, err)
      task:insert_result("MAILAUTH_RT_ASYNC", 1.0, tostring(report.rspamd.round_trips),
                         tostring(report.rspamd.queries))
    end))
  end }
-- A nameserver that takes the connection and never answers.
rspamd_config:register_symbol { name = "MAILAUTH_DEAD", score = 0.0, type = "normal", flags = "coro",
  callback = function(task)
    local port = task:get_request_header("X-Dead-Port")
    if not port then return end
    local t0 = require("rspamd_util").get_time()
    local report = adapter.check(task, { nameservers = { "127.0.0.1@" .. tostring(port) },
                                         timeout = 1, time_budget = 2, cache = 0 })
    -- one option: Rspamd keeps each distinct option once
    task:insert_result("MAILAUTH_DEAD", 1.0, ("%s %s %s %.1f"):format(report.iprev.result,
                       report.spf.result, report.dmarc.result, require("rspamd_util").get_time() - t0))
  end }
-- The same through the callback form: its budget holds for a server
-- that takes the connection and never answers.
rspamd_config:register_symbol { name = "MAILAUTH_DEAD_ASYNC", score = 0.0, type = "normal",
  callback = function(task)
    local port = task:get_request_header("X-Dead-Async-Port")
    if not port then return end
    local t0 = require("rspamd_util").get_time()
    assert(adapter.check(task, { nameservers = { "127.0.0.1@" .. tostring(port) },
                                 timeout = 1, time_budget = 2, cache = 0 }, function(report, err)
      assert(report, err)
      task:insert_result("MAILAUTH_DEAD_ASYNC", 1.0, ("%s %s %s %d %.1f"):format(report.iprev.result,
                         report.spf.result, report.dmarc.result, report.rspamd.round_trips,
                         require("rspamd_util").get_time() - t0))
    end))
  end }
]])
    pid = daemon.start_rspamd(dir, PORT)
  end)

  teardown(function()
    if dir then knot("stop") end
    daemon.cleanup(dir, pid)
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

  -- Rspamd's own verdict symbols for each mailauth result.
  local RSPAMD = {
    spf = { pass = "R_SPF_ALLOW", fail = "R_SPF_FAIL", softfail = "R_SPF_SOFTFAIL",
            neutral = "R_SPF_NEUTRAL", none = "R_SPF_NA", temperror = "R_SPF_DNSFAIL",
            permerror = "R_SPF_PERMFAIL" },
    dkim = { pass = "R_DKIM_ALLOW", fail = "R_DKIM_REJECT", none = "R_DKIM_NA",
             temperror = "R_DKIM_TEMPFAIL", permerror = "R_DKIM_PERMFAIL" },
    arc = { pass = "ARC_ALLOW", fail = "ARC_REJECT", none = "ARC_NA" },
  }
  local function dmarc_rspamd(d)
    if d.result == "fail" then
      local p = d.disposition or d.policy
      return p == "reject" and "DMARC_POLICY_REJECT" or p == "quarantine" and
             "DMARC_POLICY_QUARANTINE" or "DMARC_POLICY_SOFTFAIL"
    end
    return ({ pass = "DMARC_POLICY_ALLOW", none = "DMARC_NA", temperror = "DMARC_DNSFAIL",
              permerror = "DMARC_BAD_POLICY" })[d.result]
  end
  local function dkim_summary(sigs)
    local best = "none"
    for _, sig in ipairs(sigs) do
      if sig.result == "pass" then return "pass" end
      if sig.result == "fail" or best == "none" then best = sig.result end
    end
    return best
  end

  -- Where Rspamd's modules and mailauth disagree, and the RFC that says
  -- why: { id pattern, protocol, Rspamd's symbol, reason }.  Every other
  -- difference fails the spec.
  local EXPLAINED = {
    { "^spf%-", "dmarc", "DMARC_NA", "RFC 7489 §3.2: the Organizational Domain of a name under a"
      .. " TLD missing from the PSL comes from its default rule \"*\" (so _dmarc.interop.example"
      .. " with sp= applies); Rspamd finds no org domain and looks no further" },
    { "^dmarc%-sp$", "dmarc", "DMARC_NA", "RFC 7489 §3.2 and §6.6.3: as above, sp= of the org domain" },
    { "^dmarc%-relaxed%-", "dmarc", "DMARC_POLICY_REJECT", "RFC 7489 §3.1.1/§3.1.2: relaxed"
      .. " alignment compares Organizational Domains (§3.2's default rule), which Rspamd lacks here" },
    { "^spf%-syntax$", "spf", "R_SPF_ALLOW", "RFC 7208 §4.6: a record with any syntax error"
      .. " (an unknown mechanism, §5) is permerror before any term is evaluated" },
    { "^spf%-badcidr$", "spf", "R_SPF_FAIL", "RFC 7208 §5.6: ip4-cidr-length above 32 is a syntax error (§4.6: permerror)" },
    { "^spf%-loop$", "spf", "R_SPF_ALLOW", "RFC 7208 §4.6.4: more than 10 DNS-querying terms is permerror" },
    { "^spf%-include%-none$", "spf", "R_SPF_FAIL", "RFC 7208 §5.2: include of a domain with no record is permerror" },
    { "^spf%-twice$", "spf", "R_SPF_FAIL", "RFC 7208 §4.5: two SPF records are permerror" },
    { "^spf%-void$", "spf", "R_SPF_FAIL", "RFC 7208 §4.6.4: more than 2 void lookups is permerror" },
    { "^spoof%-no%-signature$", "spf", "R_SPF_DNSFAIL", "RFC 7208 §4.3: HELO \"localhost\" is no"
      .. " multi-label domain, so check_host() returns none without asking DNS" },
    { "^m365%-contoso$", "dkim", "R_DKIM_PERMFAIL", "RFC 1034 §5.3.3: the key sits behind a CNAME"
      .. " into another zone; the test server is authoritative and answers the alias alone, which"
      .. " mailauth follows by asking again at the canonical name and Rspamd's stub resolver does not" },
    { "^m365%-onmicrosoft%-spoof$", "dmarc", "DMARC_POLICY_ALLOW", "RFC 7489 §3.2: every"
      .. " tenant.onmicrosoft.com is a separate registrant, so mailauth treats onmicrosoft.com as a"
      .. " public suffix and evil.onmicrosoft.com does not align with contoso.onmicrosoft.com;"
      .. " Rspamd's PSL has no such entry and aligns them" },
  }
  local function explained(id, proto, got)
    for _, e in ipairs(EXPLAINED) do
      if id:find(e[1]) and proto == e[2] and got == e[3] then return e[4] end
    end
    return nil
  end

  it("checks 50+ messages as mailauth.check does offline, header included, and explains each verdict Rspamd's modules differ on", function()
    -- the reference: the same zones offline (mailauth's zone driver
    -- follows CNAMEs across zones, as a recursive server would)
    local texts = {}
    local p = io.popen("ls " .. dir .. "/zones")
    for f in p:lines() do texts[#texts + 1] = helpers.split_long_strings(helpers.read(dir .. "/zones/" .. f)) end
    p:close()
    local r = assert(mailauth.resolver { zones = texts })
    local n, diffs, unexplained = 0, {}, {}
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
      if m.id == "arc-forwarded" then assert.are.equal("pass", want.arc.result) end
      if m.id == "mailauth-signed" then assert.are.equal("pass", want.dkim[1].result) end
      -- Rspamd's own modules, from the same scan
      local theirs = res.symbols or res
      local mine = { spf = RSPAMD.spf[want.spf.result], dkim = RSPAMD.dkim[dkim_summary(want.dkim)] or "R_DKIM_PERMFAIL",
                     dmarc = dmarc_rspamd(want.dmarc), arc = RSPAMD.arc[want.arc.result] }
      for _, proto in ipairs { "spf", "dkim", "dmarc", "arc" } do
        if not theirs[mine[proto]] then
          local got = {}
          for name in pairs(theirs) do
            if name:find(({ spf = "^R_SPF_", dkim = "^R_DKIM_", dmarc = "^DMARC_", arc = "^ARC_" })[proto])
               and name ~= "DKIM_TRACE" then got[#got + 1] = name end
          end
          table.sort(got)
          local key = m.id .. " " .. proto
          diffs[#diffs + 1] = key .. ": mailauth " .. mine[proto] .. ", rspamd " .. table.concat(got, ",")
          if not explained(m.id, proto, table.concat(got, ",")) then
            unexplained[#unexplained + 1] = diffs[#diffs]
          end
        end
      end
      n = n + 1
    end
    if os.getenv("MAILAUTH_VERBOSE") then io.stderr:write(table.concat(diffs, "\n"), "\n") end
    assert.are.same({}, unexplained)
    -- and they agree on the rest: 4 verdicts a message
    assert.is_true(n * 4 - #diffs >= 150, "agreeing verdicts: " .. (n * 4 - #diffs))
    assert.is_true(n >= 50, "messages: " .. n)
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
    -- delays every query 50 ms and logs queries and replies; a round is
    -- a run of queries after a reply (spec/support/delay_proxy.py).
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
    -- rounds: runs of queries, each after a reply (or first)
    local function clusters(from)
      local n, replied, i = 0, true, 0
      for line in io.lines(plog) do
        i = i + 1
        if i > from then
          if line == "Q" then
            if replied then n, replied = n + 1, false end
          elseif line == "R" then
            replied = true
          end
        end
      end
      return n, i
    end
    local seen, compared = 0, 0
    local ok, err = pcall(function()
      for _, m in ipairs(messages()) do
        -- the demo's tenant keys sit behind cross-zone CNAMEs (which only
        -- the adapter follows); every other message, up to 24 (time)
        if not m.file:find("^examples/") and compared < 24 then
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
          local syms = symbols_of(scan(m, "--header 'X-RT: 1'"))
          local rt, rt_async = syms.MAILAUTH_RT, syms.MAILAUTH_RT_ASYNC
          assert(rt, m.id .. ": no MAILAUTH_RT")
          assert(rt_async, m.id .. ": no MAILAUTH_RT_ASYNC")
          assert.are.same({ c_rounds, batches, batches }, { batches, tonumber(rt[1]), tonumber(rt_async[1]) }, m.id)
          -- and the same questions asked, with and without callbacks
          assert.are.equal(rt[2], rt_async[2], m.id)
          compared = compared + 1
        end
      end
    end)
    daemon.stop(ppid)
    assert(ok, err)
    assert.is_true(compared >= 20, "compared: " .. compared)
  end)

  -- RFC 8601 §5: a forged field naming our authserv-id is removed through
  -- the milter reply (adapter.remove_claims).  Without it the reply asks
  -- nothing removed, and the forger's dkim=pass reaches the mailbox.
  it("removes a forged Authentication-Results field that names our authserv-id", function()
    local m = messages()[1] -- mailauth-signed
    local forged = os.tmpname()
    helpers.write(forged, "Authentication-Results: gw.other.example; spf=pass smtp.mailfrom=x\r\n"
                          .. "Authentication-Results: " .. AUTHSERV
                          .. "; dkim=pass header.d=bank.example; dmarc=pass header.from=bank.example\r\n"
                          .. helpers.read(m.file))
    local _, doc, raw = scan({ id = m.id, file = forged, ip = m.ip, helo = m.helo, sender = m.sender })
    os.remove(forged)
    local milter = doc.milter or {}
    assert(milter.remove_headers, "no remove_headers in " .. raw)
    assert.are.equal(2, milter.remove_headers["Authentication-Results"])
    local ar = milter.add_headers and milter.add_headers["Authentication-Results"]
    assert(ar, "no header added in " .. raw)
    -- the same message without the forged field: nothing removed
    local _, plain = scan(m)
    assert.is_nil((plain.milter or {}).remove_headers)
  end)

  it("gives defined results for hosts' bad input: no HELO, IPv6, a dead nameserver, no message", function()
    local m = messages()[1] -- mailauth-signed, from megan@example.com
    assert.are.equal("mailauth-signed", m.id)
    -- no HELO: SPF for MAIL FROM still runs, no HELO result
    local flags = ("-i %s -F %s"):format(m.ip, m.sender)
    local out = daemon.capture(("rspamc -h 127.0.0.1:%d %s -j symbols %s"):format(PORT, flags, m.file))
    local doc = cjson.decode(out)
    local ar = doc.milter.add_headers["Authentication-Results"]
    ar = type(ar) == "table" and ar.value or ar
    assert.matches("spf=pass smtp.mailfrom=", ar)
    assert.is_nil(ar:find("smtp.helo", 1, true))
    -- an IPv6 client, confirmed over ip6.arpa
    local v6 = { id = "v6", file = m.file, ip = "2001:db8::25", helo = "mail.example.com", sender = m.sender }
    local res6, doc6 = scan(v6)
    local ar6 = doc6.milter.add_headers["Authentication-Results"]
    ar6 = type(ar6) == "table" and ar6.value or ar6
    assert.matches('iprev=pass %(mail%.example%.com%) policy%.iprev="2001:db8::25"', ar6)
    -- example.com's "v=spf1 mx -all": its MX has AAAA 2001:db8::25 (RFC 7208 §5.4)
    assert(symbols_of(res6).MAILAUTH_SPF_PASS, cjson.encode(symbols_of(res6)))
    assert.matches("spf=pass smtp.mailfrom=megan@example.com", ar6, 1, true)
    -- a nameserver port where nothing listens: temperror within the 2 s
    -- budget, and the worker keeps serving
    local socket = require "socket"
    local probe = assert(socket.bind("127.0.0.1", 0))
    local _, free_port = probe:getsockname()
    probe:close()
    local sd = symbols_of(scan(m, "--header 'X-Dead-Port: " .. free_port .. "'")).MAILAUTH_DEAD
    assert(sd, "no MAILAUTH_DEAD")
    local iprev, spf, _, took = sd[1]:match("^(%S+) (%S+) (%S+) (%S+)$")
    assert.are.same({ "temperror", "temperror" }, { iprev, spf }, sd[1])
    assert.is_true(tonumber(took) <= 2.5, "took " .. took)
    -- one that takes the connection and never answers (socket.bind
    -- listens; the kernel completes the handshake and nobody reads).
    -- Through the callback form: temperror within time_budget = 2 (each
    -- batch bounded by timeout = 1, rspamd_tcp.request's own timer), and
    -- the worker keeps serving.  Without the defence (the synchronous
    -- form, below) the scan takes task_timeout.
    local silent = assert(socket.bind("127.0.0.1", 0))
    local _, silent_port = silent:getsockname()
    local t1 = socket.gettime()
    local sa = symbols_of(scan(m, "--header 'X-Dead-Async-Port: " .. silent_port .. "'")).MAILAUTH_DEAD_ASYNC
    local waited = socket.gettime() - t1
    assert(sa, "no MAILAUTH_DEAD_ASYNC")
    local a_iprev, a_spf, a_dmarc, a_rounds, a_took = sa[1]:match("^(%S+) (%S+) (%S+) (%d+) (%S+)$")
    assert.are.same({ "temperror", "temperror" }, { a_iprev, a_spf }, sa[1])
    assert.are.equal("temperror", a_dmarc, sa[1]) -- _dmarc unanswered (RFC 7489 §6.6.3)
    assert.is_true(tonumber(a_rounds) >= 1, sa[1])
    assert.is_true(tonumber(a_took) >= 0.9, "took " .. a_took) -- it did wait for the server
    assert.is_true(tonumber(a_took) <= 2.5, "took " .. a_took)
    assert.is_true(waited < 4, "the scan took " .. waited)
    assert.is_true(daemon.alive(pid))
    assert(next(symbols_of(scan(m))))
    -- the synchronous form: Rspamd 3.4's rspamd_tcp.connect_sync drops its
    -- timeout (no timer on the read), so the task's own task_timeout (6 s
    -- here) ends the scan; the worker survives it and serves the next message
    local t0 = socket.gettime()
    local res = scan(m, "--header 'X-Dead-Port: " .. silent_port .. "'")
    silent:close()
    assert.is_true(socket.gettime() - t0 < 12, "took " .. (socket.gettime() - t0))
    assert.is_table(res)
    assert.is_true(daemon.alive(pid))
    assert(next(symbols_of(scan(m))))
    -- an empty message: a defined result (MAILAUTH_ERROR or a check of nothing), no crash
    local empty = dir .. "/empty.eml"
    helpers.write(empty, "")
    local eo = daemon.capture(("rspamc -h 127.0.0.1:%d -i 192.0.2.25 -j symbols %s"):format(PORT, empty))
    assert.is_true(pcall(cjson.decode, eo), eo)
    assert.is_true(daemon.alive(pid))
    assert(next(symbols_of(scan(m))))
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
