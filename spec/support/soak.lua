-- make soak: mailauth.check over and over on the demo's connections
-- (examples/, DNS answered offline from examples/zones), sampling the
-- process's resident memory.  RSS must be flat once warm: the growth from
-- the first tenth of the run to its end must stay under SOAK_MAX_GROWTH_KB
-- (default 4096).  Not part of make test: it takes about a minute per Lua.
--
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/lua5.4/?.so;;' \
--     lua5.4 spec/support/soak.lua [N]
local mailauth = require "mailauth"

local N = tonumber(arg and arg[1]) or tonumber(os.getenv("SOAK_N")) or 200000
local MAX_GROWTH = tonumber(os.getenv("SOAK_MAX_GROWTH_KB")) or 4096

local function rss_kb()
  local f = io.open("/proc/self/status", "r")
  if not f then return nil end
  local kb
  for line in f:lines() do
    kb = kb or tonumber(line:match("^VmRSS:%s*(%d+)"))
  end
  f:close()
  return kb
end

local read = require("spec.support.helpers").read

local dir = "examples"
local demo = assert(loadfile(dir .. "/demo.lua"))()
local zonefiles = {}
local p = io.popen('ls "' .. dir .. '"/zones/*.zone')
for line in p:lines() do zonefiles[#zonefiles + 1] = line end
p:close()
local resolver = assert(mailauth.resolver { zonefiles = zonefiles })
local exchange = require "mailauth.exchange"

local cases = {}
for i, c in ipairs(demo.connections) do
  cases[i] = { message = read(dir .. "/" .. c.message),
               opts = { ip = c.ip, helo = c.helo, sender = c.sender, resolver = resolver,
                        authserv_id = demo.authserv_id, now = demo.now } }
end

local warm_at = math.max(1, math.floor(N / 10))
local warm, peak, results = nil, 0, {}
local t0 = os.clock()
for i = 1, N do
  local c = cases[(i - 1) % #cases + 1]
  local rep = mailauth.check(c.message, c.opts)
  local v = exchange.trust(rep, { tenants = demo.tenants, message = c.message })
  -- the same inputs must give the same answers on every pass
  local key = (i - 1) % #cases + 1
  local seen = rep.dmarc.result .. "/" .. tostring(v.trusted)
  if results[key] == nil then results[key] = seen end
  assert(results[key] == seen, ("pass %d: case %d gave %s, first %s"):format(i, key, seen, results[key]))
  if i == warm_at then collectgarbage(); warm = rss_kb() end
  if i % 20000 == 0 then
    local kb = rss_kb()
    if kb and kb > peak then peak = kb end
    io.stdout:write(("soak %s: %d checks, RSS %d kB\n"):format(_VERSION, i, kb or -1))
    io.stdout:flush()
  end
end
collectgarbage()
local final = rss_kb()
local secs = os.clock() - t0
print(("soak %s: %d checks in %.1f s CPU (%.0f/s); RSS %d kB after %d, %d kB at the end, peak %d kB")
      :format(_VERSION, N, secs, N / secs, warm or -1, warm_at, final or -1, math.max(peak, final or 0)))
if warm and final and final - warm > MAX_GROWTH then
  print(("soak: FAILED: RSS grew %d kB (bound %d kB)"):format(final - warm, MAX_GROWTH))
  os.exit(1)
end
print("soak: ok")
