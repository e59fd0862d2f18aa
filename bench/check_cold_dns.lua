-- check_cold_dns.lua: client CPU of mailauth.check with every DNS answer
-- asked over the network (the ldns driver, cache off), against a real
-- server (Knot on loopback, serving spec/fixtures/zones).  The messages
-- and envelopes are the npm interop fixtures (spec/fixtures/interop).
-- usage: lua5.4 check_cold_dns.lua check|bench SECONDS NAMESERVER FIXTURES
-- check: one "id spf dkim dmarc" line per message, then "QUERIES n" (per
-- pass).  bench: "BENCH best r1 r2 r3" in checks per CPU second of this
-- process (os.clock: user + system time, so the sockets' system calls
-- count; the server's time does not).
local mailauth = require "mailauth"
local util = dofile((arg[0]:match("^(.*)/") or ".") .. "/util.lua")

local mode, seconds, ns, dir = util.args()

local manifest = dofile(dir .. "/manifest.lua")
local messages = {}
for _, m in ipairs(manifest.messages) do
  local f = io.open(dir .. "/" .. m.id .. ".eml", "rb")
  if f then
    messages[#messages + 1] = { m = m, text = f:read("a") }
    f:close()
  end
end

-- One resolver for the whole run, as a server keeps one: cache = 0, so
-- every question of every check goes to the server (a cold check).
local resolver = assert(mailauth.resolver{ nameservers = { ns }, timeout = 2,
                                           retries = 1, cache = 0 })
local function check(x)
  return mailauth.check(x.text, { ip = x.m.ip, helo = x.m.helo, sender = x.m.sender,
                                  resolver = resolver, now = manifest.now,
                                  authserv_id = "mx.interop.example" })
end

if mode == "check" then
  local before = resolver:stats().queries
  for _, x in ipairs(messages) do
    local r = check(x)
    local d = r.dkim and r.dkim[1]
    print(x.m.id, r.spf and r.spf.result, d and d.result or "none",
          r.dmarc and r.dmarc.result)
  end
  print("QUERIES " .. (resolver:stats().queries - before) .. " " .. #messages)
  return
end
util.bench_each(seconds, messages, check)
