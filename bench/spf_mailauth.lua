-- spf_mailauth.lua: mailauth.spf{...} on the synthetic zone.
-- usage: lua5.4 spf_mailauth.lua check|bench SECONDS VARIANT ZONEFILE CASEFILE RRFILE
-- VARIANT: plain      answered by mailauth.resolver{ zones = {...} } (offline, C)
--          received   the same, and each result's received_spf read (built
--                     on first read; libspf2 always builds its header)
--          luafn      answered by a Lua function over a table of the same
--                     records (RRFILE), for the cost of the Lua resolver path
-- check: one result a line.  bench: "BENCH best r1 r2 r3" in evaluations
-- per CPU second (os.clock), best of 3 rounds after a warm-up pass.
-- Prints "UNAVAILABLE ..." when this tree has no mailauth.spf yet.
local mailauth = require "mailauth"
local util = dofile((arg[0]:match("^(.*)/") or ".") .. "/util.lua")

local mode, seconds, variant, zonefile, casefile, rrfile = util.args()
if type(mailauth.spf) ~= "function" then
  print("UNAVAILABLE mailauth.spf is not in this tree yet")
  return
end

-- The records of RRFILE (name, type, data) as the answers a Lua resolver
-- gives: NOERROR with the records, NOERROR and none for a name with other
-- types only, NXDOMAIN for a name not there.  The answers are made once,
-- before timing, and kept by type then by name as mailauth asks (lower
-- case, no final dot), so an answer costs the resolver two table reads,
-- as a host's cache would; a name asked in another form is brought to
-- that one first (the same answer, more work).
local function table_resolver(path)
  local by_type, names = {}, {}
  for _, row in ipairs(util.tsv(util.read(path), 3)) do
    local name, qtype, data = row[1]:lower(), row[2], row[3]
    local answers = by_type[qtype]
    if not answers then
      answers = {}
      by_type[qtype] = answers
    end
    local a = answers[name]
    if not a then
      a = { rcode = "NOERROR", ttl = 300, records = {} }
      answers[name] = a
    end
    if qtype == "MX" then
      local pref, host = data:match("^(%d+)%s+(%S+)$")
      data = { preference = tonumber(pref), exchange = host }
    end
    a.records[#a.records + 1] = data
    names[name] = true
  end
  local NODATA = { rcode = "NOERROR", ttl = 300, records = {} }
  local NXDOMAIN = { rcode = "NXDOMAIN", ttl = 300, records = {} }
  -- every type asked of an existing name: the record's answer or NODATA
  for _, qtype in ipairs { "A", "AAAA", "MX", "TXT", "PTR", "CNAME" } do
    local answers = by_type[qtype] or {}
    by_type[qtype] = answers
    for name in pairs(names) do
      if not answers[name] then answers[name] = NODATA end
    end
  end
  local EMPTY = {}
  return function(name, qtype)
    local a = (by_type[qtype] or EMPTY)[name]
    if a then return a end
    -- a name not in the table as asked: its canonical form, once more
    name = name:lower()
    if name:byte(-1) == 46 then name = name:sub(1, -2) end -- the final "."
    a = (by_type[qtype] or EMPTY)[name]
    return a or (names[name] and NODATA or NXDOMAIN)
  end
end

local resolver
if variant == "luafn" then
  resolver = table_resolver(rrfile)
else
  resolver = assert(mailauth.resolver{ zones = { util.read(zonefile) } })
end
local cases = util.tsv(util.read(casefile), 3)
local NOW = 1764158400 -- fixed %{t}, as the C driver

local spf = mailauth.spf
local read_received = variant == "received"
local function evaluate(c)
  local r = spf{ ip = c[1], sender = c[2], helo = c[3], resolver = resolver, now = NOW }
  if read_received then assert(r.received_spf) end
  return r
end

if mode == "check" then
  local out = {}
  for i, c in ipairs(cases) do out[i] = evaluate(c).result end
  print(table.concat(out, "\n"))
  return
end
util.bench_each(seconds, cases, evaluate)
