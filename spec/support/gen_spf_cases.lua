-- Generates the differential SPF cases (mailauth vs pyspf), reproducibly.
-- spec/spf_pyspf_spec.lua runs it at test time (dofile returns the JSON
-- text); to look at the cases:
--   lua5.4 spec/support/gen_spf_cases.lua > /tmp/pyspf-cases.json
-- A fixed seed and an own PRNG (math.random differs between Lua versions)
-- make every Lua produce the same bytes.  Each zone is a synthetic domain
-- tree under example.test with random records; each case a client IP,
-- MAIL FROM and HELO checked against one zone.
local SEED = 7208
local ZONES = 24
local CASES_PER_ZONE = 10

local state = SEED
local function rnd(n) -- 1..n
  -- MINSTD (Park-Miller): products stay below 2^47, exact in doubles too
  state = state * 48271 % 2147483647
  return math.floor(state / 256) % n + 1
end
local function pick(list) return list[rnd(#list)] end
local function chance(p) return rnd(1000) <= p * 1000 end

local V4 = { "192.0.2.1", "192.0.2.2", "192.0.2.77", "198.51.100.5", "198.51.100.200", "203.0.113.9" }
local V6 = { "2001:db8::1", "2001:db8::2", "2001:db8:1::77", "2001:db8:ffff::5" }
local CLIENTS = { "192.0.2.1", "192.0.2.2", "192.0.2.77", "198.51.100.5", "203.0.113.9",
                  "2001:db8::1", "2001:db8:1::77", "::ffff:192.0.2.2" }
local LOCALS = { "user", "a.b-c", "x+y", "postmaster", "Mixed.Case" }
local EXP_TEXTS = { "Not allowed: %{i} for %{s}", "See %{d} about %{l} via %{h}",
                    "%{c} is not a sender of %{o}", "plain text", "bad %{z} macro", "%{ir}.%{v}.arpa %{d2}" }

local function host(i) return "h" .. i .. ".example.test" end
local function spfname(i) return "s" .. i .. ".example.test" end

local function reverse_name(ip)
  if ip:find(":") then
    -- expand the IPv6 address to 32 nibbles
    local head, tail = ip:match("^(.-)::(.*)$")
    local groups = {}
    local function split(s, out)
      for g in s:gmatch("[^:]+") do out[#out + 1] = g end
      return out
    end
    local h, t = split(head or ip, {}), split(tail or "", {})
    local all = {}
    for _, g in ipairs(h) do all[#all + 1] = g end
    for _ = 1, 8 - #h - #t do all[#all + 1] = "0" end
    for _, g in ipairs(t) do all[#all + 1] = g end
    for _, g in ipairs(all) do groups[#groups + 1] = ("0000" .. g):sub(-4) end
    local nib = table.concat(groups):reverse()
    return (nib:gsub(".", "%0.")) .. "ip6.arpa"
  end
  local a, b, c, d = ip:match("(%d+)%.(%d+)%.(%d+)%.(%d+)")
  return ("%s.%s.%s.%s.in-addr.arpa"):format(d, c, b, a)
end

local function qualifier()
  return pick({ "", "", "", "+", "-", "~", "?" })
end

local function cidr4() return pick({ "", "", "/24", "/16", "/32", "/8", "/0", "/30" }) end
local function dualcidr() return pick({ "", "", "", "/24", "//64", "/24//64", "/16//32", "//0" }) end

local function term(nspf, nhosts)
  local k = rnd(14)
  local q = qualifier()
  if k == 1 then return q .. "ip4:" .. pick(V4) .. cidr4() end
  if k == 2 then return q .. "ip6:" .. pick({ "2001:db8::", "2001:db8::1", "2001:db8:1::" }) .. pick({ "", "/32", "/64", "/128", "/48" }) end
  if k == 3 then return q .. "a" .. dualcidr() end
  if k == 4 then return q .. "a:" .. host(rnd(nhosts)) .. dualcidr() end
  if k == 5 then return q .. "mx" .. dualcidr() end
  if k == 6 then return q .. "mx:" .. spfname(rnd(nspf)) .. dualcidr() end
  if k == 7 then return q .. pick({ "ptr", "ptr:example.test", "ptr:" .. host(rnd(nhosts)) }) end
  if k == 8 then return q .. "exists:" .. pick({ "%{ir}.bl.example.test", "%{l}.%{d}.ok.example.test",
                                                 "%{d2}.ok.example.test", "%{l1r+.}.x.example.test",
                                                 "%{v}.%{h}.ok.example.test", "%{o}.ok.example.test" }) end
  if k == 9 or k == 10 then return q .. "include:" .. spfname(rnd(nspf)) end
  if k == 11 then return q .. "a:void" .. rnd(5) .. ".example.test" end
  if k == 12 then return q .. "all" end
  if k == 13 then
    -- %{d1r}: the leftmost label of <domain>, so this includes itself
    if chance(0.25) then return q .. "include:%{d1r}.example.test" end
    return q .. "ip4:" .. pick(V4) .. "/" .. (16 + rnd(16))
  end
  return q .. "a:" .. host(rnd(nhosts)) .. "/" .. rnd(32)
end

local function record(i, nspf, nhosts)
  if chance(0.04) then return nil end -- no record
  local parts = { "v=spf1" }
  local n = rnd(6)
  -- a long record now and then, to reach the lookup limit
  if chance(0.08) then n = 9 + rnd(6) end
  for _ = 1, n do parts[#parts + 1] = term(nspf, nhosts) end
  if chance(0.25) then parts[#parts + 1] = "redirect=" .. spfname(rnd(nspf)) end
  if chance(0.5) then parts[#parts + 1] = "exp=" .. pick({ "exp1.example.test", "exp2.example.test", "%{d}.exp.example.test", "nx.exp.example.test" }) end
  if chance(0.4) then parts[#parts + 1] = pick({ "-all", "-all", "-all", "~all", "?all" }) end
  if chance(0.03) then parts[#parts + 1] = pick({ "foo=bar", "x-unknown=%{d}", "a:bad/99", "ip4:1.2.3", "bogus:x" }) end
  local text = table.concat(parts, " ")
  if i == 0 and chance(0.05) then return { text, "v=spf1 -all" } end -- two records: permerror
  return { text }
end

local function gen_zone(zi)
  local nspf = 4 + rnd(5)
  local nhosts = 3 + rnd(5)
  local z = {}
  local function add(name, t, v)
    z[name] = z[name] or {}
    z[name][t] = z[name][t] or {}
    table.insert(z[name][t], v)
  end
  for i = 1, nspf do
    local rec = record(i, nspf, nhosts)
    if rec then for _, r in ipairs(rec) do add(spfname(i), "TXT", r) end end
    if chance(0.6) then
      local nmx = chance(0.08) and 11 or rnd(3)
      for m = 1, nmx do add(spfname(i), "MX", { m * 10, host(rnd(nhosts + 2)) }) end
    end
    if chance(0.3) then add(spfname(i), "A", pick(V4)) end
    if chance(0.05) then z[spfname(i)] = z[spfname(i)] or {}; z[spfname(i)].TIMEOUT = true end
  end
  for i = 1, nhosts do
    if chance(0.85) then
      for _ = 1, rnd(2) do add(host(i), "A", pick(V4)) end
      if chance(0.5) then add(host(i), "AAAA", pick(V6)) end
    end
    if chance(0.04) then z[host(i)] = z[host(i)] or {}; z[host(i)].TIMEOUT = true end
  end
  for _, ip in ipairs(CLIENTS) do
    if chance(0.6) then
      local rev = reverse_name(ip:gsub("^::ffff:", ""))
      for _ = 1, rnd(3) do add(rev, "PTR", host(rnd(nhosts))) end
    end
  end
  -- exists targets and explanation texts
  for _, ip in ipairs(V4) do
    if chance(0.3) then
      local a, b, c, d = ip:match("(%d+)%.(%d+)%.(%d+)%.(%d+)")
      add(("%s.%s.%s.%s.bl.example.test"):format(d, c, b, a), "A", "127.0.0.2")
    end
  end
  for _, l in ipairs(LOCALS) do
    if chance(0.3) then add(l:lower() .. "." .. spfname(rnd(nspf)) .. ".ok.example.test", "A", "127.0.0.2") end
  end
  if chance(0.5) then add("example.test.ok.example.test", "A", "127.0.0.2") end
  if chance(0.5) then add("in-addr." .. host(1) .. ".ok.example.test", "A", "127.0.0.2") end
  add("exp1.example.test", "TXT", pick(EXP_TEXTS))
  add("exp2.example.test", "TXT", pick(EXP_TEXTS))
  if chance(0.3) then add("exp2.example.test", "TXT", "second record") end
  for i = 1, nspf do
    if chance(0.3) then add(spfname(i) .. ".exp.example.test", "TXT", pick(EXP_TEXTS)) end
  end
  return z, nspf, nhosts
end

-- JSON with sorted keys, so the file is the same bytes on every run.
local function json(v)
  local t = type(v)
  if t == "string" then
    return '"' .. v:gsub('[%c"\\]', function(ch)
      if ch == '"' then return '\\"' elseif ch == "\\" then return "\\\\" end
      return ("\\u%04x"):format(ch:byte())
    end) .. '"'
  elseif t == "number" then
    return ("%d"):format(v)
  elseif t == "boolean" then
    return tostring(v)
  end
  if #v > 0 or next(v) == nil then
    local out = {}
    for i, x in ipairs(v) do out[i] = json(x) end
    return "[" .. table.concat(out, ",") .. "]"
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys)
  local out = {}
  for i, k in ipairs(keys) do out[i] = json(k) .. ":" .. json(v[k]) end
  return "{" .. table.concat(out, ",") .. "}"
end

local zones, cases = {}, {}
for zi = 1, ZONES do
  local z, nspf, nhosts = gen_zone(zi)
  zones[zi] = z
  for _ = 1, CASES_PER_ZONE do
    local sender
    if chance(0.05) then
      sender = ""
    else
      sender = pick(LOCALS) .. "@" .. spfname(rnd(nspf))
    end
    cases[#cases + 1] = {
      id = #cases + 1,
      zone = zi,
      ip = pick(CLIENTS),
      sender = sender,
      helo = chance(0.5) and spfname(rnd(nspf)) or host(rnd(nhosts)),
    }
  end
end
local text = json({ seed = SEED, now = 1700000000, zones = zones, cases = cases }) .. "\n"
-- Run as a script (not through dofile from a spec): print it.
if arg and arg[0] and arg[0]:match("gen_spf_cases%.lua$") then io.write(text) end
return text
