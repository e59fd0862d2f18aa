-- spf_mailauth.lua: mailauth.spf{...} on the synthetic zone, answered by
-- mailauth.resolver{ zones = {...} } (offline).
-- usage: lua5.4 spf_mailauth.lua check|bench SECONDS ZONEFILE CASEFILE
-- check: one result a line.  bench: "BENCH best r1 r2 r3" in evaluations
-- per CPU second (os.clock), best of 3 rounds after a warm-up pass.
-- Prints "UNAVAILABLE ..." when this tree has no mailauth.spf yet.
local mailauth = require "mailauth"
local util = dofile((arg[0]:match("^(.*)/") or ".") .. "/util.lua")

local mode = arg[1]
local seconds, zonefile, casefile
if mode == "bench" then
  seconds, zonefile, casefile = tonumber(arg[2]), arg[3], arg[4]
else
  zonefile, casefile = arg[2], arg[3]
end
if type(mailauth.spf) ~= "function" then
  print("UNAVAILABLE mailauth.spf is not in this tree yet")
  return
end

local resolver = assert(mailauth.resolver{ zones = { util.read(zonefile) } })
local cases = util.tsv(util.read(casefile), 3)
local NOW = 1764158400 -- fixed %{t}, as the C driver

local spf = mailauth.spf
local function evaluate(c)
  return spf{ ip = c[1], sender = c[2], helo = c[3], resolver = resolver, now = NOW }
end

if mode == "check" then
  local out = {}
  for i, c in ipairs(cases) do out[i] = evaluate(c).result end
  print(table.concat(out, "\n"))
  return
end
util.bench(seconds, function()
  for i = 1, #cases do evaluate(cases[i]) end
  return #cases
end)
