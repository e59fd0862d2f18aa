-- dkim_mailauth.lua: mailauth.dkim_verify on one signed message, the key
-- answered by mailauth.resolver{ zones = {...} } (offline).
-- usage: lua5.4 dkim_mailauth.lua check|bench SECONDS MESSAGE ZONEFILE
-- check prints the first signature's result; bench "BENCH best r1 r2 r3" in
-- verifications per CPU second.  "UNAVAILABLE ..." without mailauth.dkim_verify.
local mailauth = require "mailauth"
local util = dofile((arg[0]:match("^(.*)/") or ".") .. "/util.lua")

local mode, seconds, msgfile, zonefile = util.args()
if type(mailauth.dkim_verify) ~= "function" then
  print("UNAVAILABLE mailauth.dkim_verify is not in this tree yet")
  return
end

local message = util.read(msgfile)
local resolver = assert(mailauth.resolver{ zones = { util.read(zonefile) } })
local opts = { resolver = resolver, now = os.time() }
local verify = mailauth.dkim_verify

if mode == "check" then
  local r = verify(message, opts)
  local s = r and r[1]
  print(s and s.result or "none", s and s.problem or "")
  return
end
util.bench(seconds, function()
  local r = verify(message, opts)
  if r[1].result ~= "pass" then error("mailauth: " .. tostring(r[1].problem)) end
  return 1
end)
