-- mailauth inside a real HAProxy (Lua 5.3): an action checks the client's
-- reverse DNS with DNS carried over TCP by core.tcp() cosockets (HAProxy has
-- no resolver for Lua and no UDP), against the harness's Knot server.
-- Runs under Lua 5.3 only: that is the Lua Debian's HAProxy embeds.
local daemon = require "spec.support.daemon"

local HTTP, GATE, DNS = 18480, 18481, 18482

daemon.describe_if(_VERSION == "Lua 5.3", "#integration #haproxy mailauth in HAProxy", function()
  local dir, pid
  local root = os.getenv("PWD")

  setup(function()
    local NS = daemon.nameserver()
    dir = daemon.tmpdir("mailauth-haproxy")
    daemon.write(dir .. "/action.lua", ([[
package.path = "%s/lua/?.lua;%s/lua/?/init.lua;" .. package.path
package.cpath = "%s/build/lua5.3/?.so;" .. package.cpath
local mailauth = require "mailauth"
local adapter = require "mailauth.haproxy"
local resolve = adapter.resolver { nameservers = { "%s" }, timeout = 2 }

local function check(txn, ip)
  local r = mailauth.iprev(ip, { resolver = resolve })
  txn:set_var("txn.iprev", r.result)
  txn:set_var("txn.iprev_name", r.name or "-")
end

core.register_fetches("mailauth_lua", function() return mailauth._LUA_VERSION end)

core.register_action("mailauth_iprev", { "tcp-req", "http-req" }, function(txn)
  check(txn, txn.f:src())
end, 0)

core.register_action("mailauth_iprev_header", { "http-req" }, function(txn)
  local h = txn.http:req_get_headers()["x-client-ip"]
  check(txn, h and h[0] or txn.f:src())
end, 0)

-- A TXT answer as the adapter gives it: rcode, records and the CNAME chain.
core.register_action("mailauth_txt", { "http-req" }, function(txn)
  local h = txn.http:req_get_headers()["x-name"]
  local a = resolve(h and h[0] or "example.com", "TXT")
  txn:set_var("txn.txt", ("%%s %%d %%s"):format(a.rcode, #a.records,
              #a.cnames > 0 and table.concat(a.cnames, ",") or "-"))
end, 0)
]]):format(root, root, root, NS))
    daemon.write(dir .. "/haproxy.cfg", ([[
global
    lua-load %s/action.lua
defaults
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe_http
    mode http
    bind 127.0.0.1:%d
    http-request lua.mailauth_iprev_header
    http-request return status 200 content-type text/plain lf-string "%%[var(txn.iprev)] %%[var(txn.iprev_name)] %%[lua.mailauth_lua]\n" if TRUE
frontend fe_dns
    mode http
    bind 127.0.0.1:%d
    http-request lua.mailauth_txt
    http-request return status 200 content-type text/plain lf-string "%%[var(txn.txt)]\n" if TRUE
frontend fe_gate
    mode tcp
    bind 127.0.0.1:%d
    tcp-request inspect-delay 2s
    tcp-request content lua.mailauth_iprev
    tcp-request content reject if { var(txn.iprev) -m str fail }
    default_backend be_http
backend be_http
    mode tcp
    server s1 127.0.0.1:%d
]]):format(dir, HTTP, DNS, GATE, HTTP))
    local check = daemon.capture("haproxy -c -f " .. dir .. "/haproxy.cfg")
    assert(check:match("valid") or check:match("Configuration file is valid"), check)
    pid = daemon.start("haproxy -db -f " .. dir .. "/haproxy.cfg", dir .. "/haproxy.log")
    assert(daemon.wait(10, function()
      return daemon.capture(("curl -s -H 'X-Client-IP: 192.0.2.25' http://127.0.0.1:%d/"):format(HTTP)):match("pass")
    end), "haproxy did not start: " .. daemon.read(dir .. "/haproxy.log"))
  end)

  teardown(function() daemon.cleanup(dir, pid) end)

  local function get(port, header, iface)
    return daemon.capture(("curl -s --max-time 5 %s %s http://127.0.0.1:%d/"):format(
      header and ("-H 'X-Client-IP: " .. header .. "'") or "",
      iface and ("--interface " .. iface) or "", port))
  end

  it("checks an address over DNS-over-TCP from an HTTP action", function()
    assert.are.equal("pass mail.example.com Lua 5.3\n", get(HTTP, "192.0.2.25"))
    assert.matches("^pass mail%.example%.com", get(HTTP, "2001:db8::25"))
    assert.matches("^fail %-", get(HTTP, "192.0.2.27"))
    assert.matches("^permerror %-", get(HTTP, "192.0.2.29"))
    assert.matches("^temperror %-", get(HTTP, "192.0.2.30"))
  end)

  it("gives the CNAME chain of a reply read by parse_wire", function()
    local function txt(name)
      return daemon.capture(("curl -s --max-time 5 -H 'X-Name: %s' http://127.0.0.1:%d/"):format(name, DNS))
    end
    assert.are.equal("NOERROR 1 selector1-example-com._domainkey.tenant.example.com\n",
                     txt("selector1._domainkey.example.com"))
    assert.are.equal("NOERROR 1 chain2.example.com,chain3.example.com\n", txt("chain1.example.com"))
    assert.are.equal("SERVFAIL 0 loop2.example.com\n", txt("loop1.example.com"))
    assert.are.equal("NOERROR 1 -\n", txt("example.com"))
  end)

  it("gates TCP connections on the client's own reverse DNS", function()
    -- 127.0.0.1 is loopback.example.com and maps back: let through.
    assert.matches("^pass loopback%.example%.com", get(GATE, nil, "127.0.0.1"))
    -- 127.0.0.2 claims mail.example.com, which does not map back: rejected.
    assert.are.equal("", get(GATE, nil, "127.0.0.2"))
  end)
end)
