-- spf_lua_bench.lua - mailauth.spf calls per second through the Lua API with
-- the offline zone resolver, on the zone and question of spf_bench.c (CPU
-- time from os.clock; arg 1: calls, default 20000):
--   make LUA=lua5.4 && LUA_PATH='lua/?.lua;lua/?/init.lua' \
--     LUA_CPATH='build/lua5.4/?.so' lua5.4 bench/spf_lua_bench.lua
local mailauth = require "mailauth"
local zone = [[
$ORIGIN example.com.
$TTL 300
@ IN SOA ns hm 1 2 3 4 5
@ IN TXT "v=spf1 ip4:10.0.0.0/8 include:_spf.example.com mx a:mail.example.com -all"
_spf IN TXT "v=spf1 ip4:172.16.0.0/12 ip6:2001:db8::/32 ~all"
@ IN MX 10 mx1
@ IN MX 20 mx2
mx1 IN A 192.0.2.10
mx2 IN A 192.0.2.11
mail IN A 192.0.2.25
]]
local r = assert(mailauth.resolver{ zones = { zone } })
local n = tonumber(arg and arg[1]) or 20000
local opts = { ip = "192.0.2.25", sender = "a@example.com", helo = "mx.example.com", resolver = r }
local res
for _ = 1, 200 do res = mailauth.spf(opts) end
local t0 = os.clock()
for _ = 1, n do res = mailauth.spf(opts) end
local t = os.clock() - t0
assert(res.result == "pass")
print(("%s: %d mailauth.spf in %.3f s = %.0f/s (%s)"):format(_VERSION, n, t, n / t,
      res.received_spf:sub(1, 40)))
