-- bench/authres_format.lua [OLD_AUTHRES_LUA]: the cost per message of
-- writing Authentication-Results (mailauth.authres.format, C since the
-- formatter moved to src/authres/authres_format.c) and of reading an SPF
-- result's received_spf, over the reports of the demo connections
-- (examples/, their zones).  With OLD_AUTHRES_LUA (e.g. the file
-- `git show bf0c018:lua/mailauth/authres.lua` gives, the Lua formatter)
-- that module's format is timed on the same reports, side by side.
--   lua5.4 -e 'package.cpath="build/lua5.4/?.so;"..package.cpath' bench/authres_format.lua
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
local mailauth = require "mailauth"

local util = dofile((arg[0]:match("^(.*)/") or ".") .. "/util.lua")

local files = {}
local p = io.popen("ls examples/zones/*.zone")
for f in p:lines() do files[#files + 1] = f end
p:close()
local r = assert(mailauth.resolver { zonefiles = files })
local demo = dofile("examples/demo.lua")
local reports = {}
for _, c in ipairs(demo.connections) do
  reports[#reports + 1] = mailauth.check(util.read("examples/" .. c.message), {
    ip = c.ip, helo = c.helo, sender = c.sender, resolver = r,
    authserv_id = demo.authserv_id, now = demo.now })
end

local N = tonumber(os.getenv("N") or "") or 20000
local function per_message(label, fn)
  local t0 = os.clock()
  for i = 1, N do fn(reports[i % #reports + 1]) end
  print(("%-42s %8.2f us/message"):format(label, (os.clock() - t0) / N * 1e6))
end

per_message("Authentication-Results (C writer)", function(rep)
  return mailauth.authres.format(rep, demo.authserv_id)
end)
if arg[1] then
  local old = dofile(arg[1])
  per_message("Authentication-Results (" .. arg[1] .. ")", function(rep)
    return old.format(rep, demo.authserv_id)
  end)
end
per_message("spf_received(result)", function(rep)
  return mailauth.spf_received(rep.spf, { receiver = demo.authserv_id })
end)
local c = demo.connections[1]
local t0 = os.clock()
for _ = 1, math.floor(N / 10) do
  local s = mailauth.spf { ip = c.ip, sender = c.sender, helo = c.helo, resolver = r, now = demo.now }
  local _ = s.received_spf
end
local with = (os.clock() - t0) / (math.floor(N / 10)) * 1e6
t0 = os.clock()
for _ = 1, math.floor(N / 10) do
  mailauth.spf { ip = c.ip, sender = c.sender, helo = c.helo, resolver = r, now = demo.now }
end
print(("%-42s %8.2f us/check (%.2f without reading it)"):format("mailauth.spf + reading received_spf",
  with, (os.clock() - t0) / (math.floor(N / 10)) * 1e6))
