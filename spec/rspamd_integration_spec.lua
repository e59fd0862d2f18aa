-- mailauth inside a real Rspamd (LuaJIT): a rule registered with
-- flags = "coro" runs mailauth.iprev with DNS through Rspamd's own resolver,
-- which yields the symbol's coroutine.  Rspamd asks the Knot server of the
-- test harness.  Runs under LuaJIT only: that is the Lua Rspamd embeds.
local daemon = require "spec.support.daemon"

local PORT = 11433
local NOW = 1764000000

daemon.describe_if(jit, "#integration #rspamd mailauth in Rspamd", function()
  local dir, pid
  local root = os.getenv("PWD")

  setup(function()
    local host, port = daemon.nameserver():match("^(.-)@(%d+)$")
    dir = daemon.tmpdir("mailauth-rspamd")
    daemon.write(dir .. "/rspamd.conf", daemon.rspamd_conf(dir, host .. ":" .. port, PORT,
                                                           { rest = ('lua = "%s/local/rule.lua";'):format(dir) }))
    daemon.write(dir .. "/local/rule.lua", ([[
package.path = "%s/lua/?.lua;%s/lua/?/init.lua;" .. package.path
package.cpath = "%s/build/luajit/?.so;" .. package.cpath
local mailauth = require "mailauth"
local adapter = require "mailauth.rspamd"
rspamd_config:register_symbol{
  name = "MAILAUTH_IPREV", score = 0.0, type = "normal", flags = "coro",
  callback = function(task)
    local r = mailauth.iprev(adapter.client_ip(task), { resolver = adapter.resolver(task) })
    task:insert_result("MAILAUTH_IPREV", 1.0, r.result, r.name or "-", mailauth._LUA_VERSION)
  end,
}
-- DKIM over Rspamd's DNS: the key's CNAME chain comes from the adapter.
rspamd_config:register_symbol{
  name = "MAILAUTH_DKIM", score = 0.0, type = "normal", flags = "coro",
  callback = function(task)
    local r = mailauth.dkim_verify(tostring(task:get_content()),
                                   { resolver = adapter.resolver(task), now = %d })
    local s = r[1] or {}
    task:insert_result("MAILAUTH_DKIM", 1.0, s.result or "none",
                       table.concat(s.key_cnames or { "-" }, ","))
  end,
}
]]):format(root, root, root, NOW))
    pid = daemon.start_rspamd(dir, PORT)
  end)

  teardown(function() daemon.cleanup(dir, pid) end)

  local function scan(ip, text, symbol)
    symbol = symbol or "MAILAUTH_IPREV"
    local msg = dir .. "/msg.eml"
    daemon.write(msg, text or "From: a@example.com\r\nTo: b@example.com\r\nSubject: t\r\n\r\nhello\r\n")
    local out = daemon.capture(("rspamc -h 127.0.0.1:%d -i %s -j symbols %s"):format(PORT, ip, msg))
    local cjson = require "cjson"
    local ok, doc = pcall(cjson.decode, out)
    assert(ok, "rspamc said: " .. out)
    local sym = doc.default and doc.default[symbol] or doc.symbols and doc.symbols[symbol]
    assert(sym, "no " .. symbol .. " in " .. out .. daemon.read(dir .. "/log/rspamd.log"):sub(-2000))
    return sym.options
  end

  it("confirms a client whose PTR maps back, over Rspamd's DNS", function()
    assert.are.same({ "pass", "mail.example.com", "Lua 5.1" }, scan("192.0.2.25"))
    assert.are.same({ "pass", "mail.example.com", "Lua 5.1" }, scan("2001:db8::25"))
  end)

  it("reports fail, permerror and temperror from the same rule", function()
    assert.are.equal("fail", scan("192.0.2.27")[1])
    assert.are.equal("permerror", scan("192.0.2.29")[1])
    assert.are.equal("temperror", scan("192.0.2.30")[1])
  end)

  it("verifies DKIM through a CNAME'd selector and reports key_cnames", function()
    -- selector1._domainkey.example.com is a CNAME to the key (dkimpy's
    -- test.txt) in spec/fixtures/zones/example.com.zone; rspamd_dns gives
    -- no chain with the TXT, so the adapter asks the CNAME itself.
    local mailauth = require "mailauth"
    local F = dofile("spec/support/dkimfix.lua")
    local msg = "From: Megan <megan@example.com>\r\nTo: b@example.net\r\nSubject: q3\r\n"
                .. "Date: Tue, 25 Nov 2025 10:00:00 +0000\r\n\r\nThe figures.\r\n"
    local h = assert(mailauth.dkim_sign(msg, { domain = "example.com", selector = "selector1",
      key = F.read("dkimpy/test.private"), algorithm = "rsa-sha256", now = NOW - 60 }))
    assert.are.same({ "pass", "selector1-example-com._domainkey.tenant.example.com" },
                    scan("192.0.2.25", h .. "\r\n" .. msg, "MAILAUTH_DKIM"))
  end)

  it("keeps the worker alive across many yielding checks", function()
    for _ = 1, 20 do assert.are.equal("pass", scan("192.0.2.26")[1]) end
    assert.is_true(daemon.alive(pid))
  end)
end)
