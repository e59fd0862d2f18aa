-- check_mailauth.lua: mailauth.check on the interop messages, every DNS
-- answer from mailauth.resolver{ zones = {...} } (offline).
-- usage: lua5.4 check_mailauth.lua check|bench SECONDS ZONELIST MESSAGES NOW
-- check: "id spf dkim dmarc" a line.  bench: "BENCH best r1 r2 r3" in
-- messages per CPU second.
local mailauth = require "mailauth"
local util = dofile((arg[0]:match("^(.*)/") or ".") .. "/util.lua")

local mode, seconds, zonelist, msgfile, now = util.args()
now = tonumber(now)
local zones = {}
for path in util.read(zonelist):gmatch("[^\n]+") do zones[#zones + 1] = util.read(path) end
local resolver = assert(mailauth.resolver{ zones = zones })
local msgs = {}
for _, row in ipairs(util.tsv(util.read(msgfile), 5)) do
  msgs[#msgs + 1] = { id = row[1], text = util.read(row[2]),
                      opts = { ip = row[3], helo = row[4], sender = row[5], resolver = resolver,
                               now = now, authserv_id = "mx.interop.example", pct_roll = 0 } }
end

local check = mailauth.check
if mode == "check" then
  for _, m in ipairs(msgs) do
    local r = check(m.text, m.opts)
    local d = r.dkim and r.dkim[1]
    print(m.id, r.spf and r.spf.result or "none", d and d.result or "none",
          r.dmarc and r.dmarc.result or "none")
  end
  return
end
util.bench(seconds, function()
  for i = 1, #msgs do check(msgs[i].text, msgs[i].opts) end
  return #msgs
end)
