-- gen_zone.lua OUTDIR: writes the synthetic SPF world every implementation
-- is benchmarked on, from a fixed seed (Lua 5.4's xoshiro256**), so every run
-- and every implementation sees the same bytes:
--   OUTDIR/spf.zone   master-file text (mailauth's offline zone resolver)
--   OUTDIR/spf.rr     name TAB type TAB data, one record a line (libspf2, pyspf)
--   OUTDIR/spf.cases  ip TAB sender TAB helo, one evaluation a line
-- The shape follows real senders: ip4/ip6 lists, ESP includes 2-3 deep,
-- a and mx, a few macros (%{ir}, %{l}, %{d}, %{h}), redirect, all of
-- -all/~all/?all.  Every record stays within the RFC 7208 limits (10
-- DNS-querying terms, 2 void lookups) so the results are not limit edge cases.
assert(_VERSION == "Lua 5.4", "run with lua5.4: the seed must give the same stream")
local outdir = assert(arg[1], "usage: lua5.4 gen_zone.lua OUTDIR")
math.randomseed(20261126, 7)
local R = math.random

local records = {}   -- { name, type, data }
local function rr(name, t, data) records[#records + 1] = { name, t, data } end

-- Authorized space: first octet 11..99 and 2001:db8:0..fe::/48.  Strangers
-- come from 192.0.2.0/24, 198.51.100.0/24 and 2001:db8:ffff::/48, never
-- covered by any record.
local used4 = {}
local function net4(bits)
  local a, b, c
  repeat a, b, c = R(11, 99), R(0, 255), R(0, 255) until not used4[a .. "." .. b]
  used4[a .. "." .. b] = true
  -- the network address itself: host bits clear, as operators write them
  local v = ((a << 24) | (b << 16) | (c << 8) | R(0, 255)) & ((0xffffffff << (32 - bits)) & 0xffffffff)
  return { v >> 24 & 255, v >> 16 & 255, v >> 8 & 255, v & 255, bits = bits }
end
local function fmt4(n) return ("%d.%d.%d.%d"):format(n[1], n[2], n[3], n[4]) end
local function host_in4(n)
  local host = n.bits >= 32 and 0 or R(1, (1 << math.min(32 - n.bits, 16)) - 2)
  local v = ((n[1] << 24) | (n[2] << 16) | (n[3] << 8) | n[4]) + host
  return ("%d.%d.%d.%d"):format(v >> 24 & 255, v >> 16 & 255, v >> 8 & 255, v & 255)
end
local used6 = {}
local function net6(bits)
  local w
  repeat w = R(0, 0xfe) until not used6[w]
  used6[w] = true
  local x = R(0, 0xffff)
  if bits < 64 then x = x & ((0xffff << (64 - bits)) & 0xffff) end
  return { w = w, x = x, bits = bits }
end
local function fmt6(n)
  if n.bits <= 48 then return ("2001:db8:%x::"):format(n.w) end
  return ("2001:db8:%x:%x::"):format(n.w, n.x)
end
local function host_in6(n)
  if n.bits <= 48 then return ("2001:db8:%x:%x::%x"):format(n.w, R(0, 0xffff), R(1, 0xfff)) end
  return ("2001:db8:%x:%x::%x:%x"):format(n.w, n.x, R(0, 0xff), R(1, 0xfff))
end

-- A host name with A and AAAA (IPv6 clients ask AAAA for a/mx: no void lookups).
local function host(name)
  local n4, n6 = net4(32), net6(64)
  rr(name, "A", fmt4(n4))
  rr(name, "AAAA", fmt6(n6):gsub("::$", "::1"))
  return { fmt4(n4), (fmt6(n6):gsub("::$", "::1")) }
end

local function txt(name, terms) rr(name, "TXT", "v=spf1 " .. table.concat(terms, " ")) end

local function ip4_terms(list, n, bitsset)
  local terms = {}
  for _ = 1, n do
    local nt = net4(bitsset[R(#bitsset)])
    list[#list + 1] = { 4, nt }
    terms[#terms + 1] = "ip4:" .. fmt4(nt) .. (nt.bits < 32 and "/" .. nt.bits or "")
  end
  return terms
end
local function ip6_terms(list, n)
  local terms = {}
  for _ = 1, n do
    local nt = net6(({ 48, 48, 56, 64 })[R(4)])
    list[#list + 1] = { 6, nt }
    terms[#terms + 1] = "ip6:" .. fmt6(nt) .. "/" .. nt.bits
  end
  return terms
end
local function append(t, more) for _, v in ipairs(more) do t[#t + 1] = v end return t end

-- ESPs: what an include: of them costs in DNS-querying terms, and the
-- addresses they authorize.
local esps = {}
do -- esp1: 3 deep, esp1 -> _spf.esp1 -> _nb1/_nb2 (cost 4)
  local auth = {}
  txt("esp1.example", { "include:_spf.esp1.example", "~all" })
  txt("_spf.esp1.example", { "include:_nb1.esp1.example", "include:_nb2.esp1.example", "-all" })
  txt("_nb1.esp1.example", append(ip4_terms(auth, 12, { 16, 19, 20, 22, 24 }), { "-all" }))
  txt("_nb2.esp1.example", append(append(ip4_terms(auth, 8, { 20, 24, 28 }), ip6_terms(auth, 4)), { "-all" }))
  esps[1] = { name = "esp1.example", cost = 4, auth = auth }
end
do -- esp2: 2 deep with ip6 (cost 2)
  local auth = {}
  local t = ip4_terms(auth, 6, { 22, 24, 25 })
  t[#t + 1] = "include:_v6.esp2.example"
  t[#t + 1] = "?all"
  txt("esp2.example", t)
  txt("_v6.esp2.example", append(ip6_terms(auth, 5), { "-all" }))
  esps[2] = { name = "esp2.example", cost = 2, auth = auth }
end
do -- esp3: ip4 plus a: of its relays (cost 2)
  local auth = {}
  local relay = host("relay.esp3.example")
  rr("relay.esp3.example", "A", (relay[1]:gsub("%d+$", function(x) return tostring((tonumber(x) + 1) % 256) end)))
  auth[#auth + 1] = { "a", relay }
  txt("esp3.example", append(ip4_terms(auth, 4, { 24, 27, 32 }), { "a:relay.esp3.example", "-all" }))
  esps[3] = { name = "esp3.example", cost = 2, auth = auth }
end
do -- esp4: redirect inside an include, then mx (cost 3)
  local auth = {}
  txt("esp4.example", { "redirect=_spf.esp4.example" })
  rr("esp4.example", "MX", "10 mx1.esp4.example")
  rr("esp4.example", "MX", "20 mx2.esp4.example")
  auth[#auth + 1] = { "a", host("mx1.esp4.example") }
  auth[#auth + 1] = { "a", host("mx2.esp4.example") }
  txt("_spf.esp4.example", append(ip4_terms(auth, 3, { 24, 26 }), { "mx", "-all" }))
  esps[4] = { name = "esp4.example", cost = 3, auth = auth }
end

local LOCALS = { "alice", "bob", "carol", "dave", "news", "billing", "noreply" }
local ALLS = { "-all", "-all", "-all", "~all", "~all", "~all", "?all", "?all" }
local domains = {}
for i = 1, 50 do
  local d = ("d%02d.example"):format(i)
  local dom = { name = d, auth = {}, helo = "mail." .. d }
  local auth, terms, cost = dom.auth, {}, 0
  host(dom.helo)
  -- With "v=spf1 redirect=_spf.<d>" the policy is evaluated for _spf.<d>,
  -- so its a/mx/%{d} must name <d> explicitly, as operators write them.
  local redirected = R() < 0.2
  local self = redirected and ":" .. d or ""
  local mself = redirected and d or "%{d}"
  -- ip lists of the domain's own servers
  append(terms, ip4_terms(auth, R(0, 6), { 24, 24, 27, 28, 29, 32 }))
  append(terms, ip6_terms(auth, R(0, 2)))
  if R() < 0.4 then
    auth[#auth + 1] = { "a", host(d) }
    terms[#terms + 1] = "a" .. self
    cost = cost + 1
  end
  if R() < 0.4 then
    rr(d, "MX", "10 mx1." .. d)
    rr(d, "MX", "20 mx2." .. d)
    auth[#auth + 1] = { "a", host("mx1." .. d) }
    auth[#auth + 1] = { "a", host("mx2." .. d) }
    terms[#terms + 1] = (R() < 0.2 and "?" or "") .. "mx" .. self
    dom.mx_qual = terms[#terms]:sub(1, 1) == "?" and "neutral" or nil
    cost = cost + 1
  end
  -- includes of ESPs (never the same twice)
  local picked = {}
  for _ = 1, R(0, 2) do
    local e = esps[R(#esps)]
    if not picked[e.name] and cost + e.cost <= 7 then
      picked[e.name] = true
      terms[#terms + 1] = "include:" .. e.name
      cost = cost + e.cost
      for _, a in ipairs(e.auth) do auth[#auth + 1] = a end
    end
  end
  -- one macro term at most per domain (void lookups stay <= 1)
  local m = R()
  if m < 0.15 then
    terms[#terms + 1] = "exists:%{ir}._allow." .. mself
    for _ = 1, 2 do
      local ip = host_in4(net4(24))
      local rev = ip:gsub("(%d+)%.(%d+)%.(%d+)%.(%d+)", "%4.%3.%2.%1")
      rr(rev .. "._allow." .. d, "A", "127.0.0.2")
      auth[#auth + 1] = { "ip", ip }
    end
    cost = cost + 1
  elseif m < 0.27 then
    terms[#terms + 1] = "exists:%{l}._u." .. mself
    for _, l in ipairs({ "alice", "bob" }) do rr(l .. "._u." .. d, "A", "127.0.0.2") end
    dom.locals_ok = true
    cost = cost + 1
  elseif m < 0.35 then
    terms[#terms + 1] = "a:%{h}"    -- the HELO host itself (helo is mail.<d> below)
    dom.helo_ok = true
    cost = cost + 1
  end
  if redirected then
    -- the policy lives elsewhere: v=spf1 redirect=_spf.<d>
    txt("_spf." .. d, append(terms, { ALLS[R(#ALLS)] }))
    txt(d, { "redirect=_spf." .. d })
    dom.record = "_spf." .. d
  elseif R() < 0.15 and not picked["esp2.example"] and cost + 2 <= 9 then
    -- own servers, then the ESP decides the rest (its ?all)
    terms[#terms + 1] = "redirect=esp2.example"
    for _, a in ipairs(esps[2].auth) do auth[#auth + 1] = a end
    txt(d, terms)
  else
    terms[#terms + 1] = ALLS[R(#ALLS)]
    txt(d, terms)
  end
  -- unrelated TXT records at the apex, as real domains have
  if R() < 0.5 then rr(d, "TXT", "google-site-verification=" .. ("%08x%08x"):format(R(0, 0x7fffffff), R(0, 0x7fffffff))) end
  domains[i] = dom
end

-- Cases: an address the domain authorizes (about 45%) or a stranger.
local cases = {}
local function stranger()
  local k = R(3)
  if k == 1 then return ("192.0.2.%d"):format(R(1, 254)) end
  if k == 2 then return ("198.51.100.%d"):format(R(1, 254)) end
  return ("2001:db8:ffff:%x::%x"):format(R(0, 0xffff), R(1, 0xffff))
end
local function authorized(dom)
  local a = dom.auth[R(#dom.auth)]
  if a == nil then return stranger() end
  if a[1] == 4 then return host_in4(a[2]) end
  if a[1] == 6 then return host_in6(a[2]) end
  if a[1] == "a" then return a[2][R(2)] end
  return a[2]
end
for _ = 1, 200 do
  local dom = domains[R(#domains)]
  local lp = LOCALS[R(#LOCALS)]
  local ip = R() < 0.45 and authorized(dom) or stranger()
  local helo = dom.helo
  if dom.helo_ok and R() < 0.5 then
    local hosts = {}
    for _, rec in ipairs(records) do
      if rec[1] == helo and (rec[2] == "A" or rec[2] == "AAAA") then hosts[#hosts + 1] = rec[3] end
    end
    ip = hosts[R(#hosts)]
  end
  local sender = lp .. "@" .. dom.name
  if R() < 0.05 then sender, helo = "", dom.name end -- null sender: postmaster@helo
  cases[#cases + 1] = { ip, sender, helo }
end

local function write(name, text)
  local f = assert(io.open(outdir .. "/" .. name, "wb"))
  f:write(text)
  f:close()
end
local zone, flat, lines = { "$TTL 300" }, {}, {}
for _, r in ipairs(records) do
  local data = r[3]
  if r[2] == "TXT" then
    local parts = {}
    for k = 1, #data, 255 do parts[#parts + 1] = '"' .. data:sub(k, k + 254) .. '"' end
    data = table.concat(parts, " ")
  elseif r[2] == "MX" then
    data = data .. "."
  end
  zone[#zone + 1] = ("%s.\t300\tIN\t%s\t%s"):format(r[1], r[2], data)
  flat[#flat + 1] = ("%s\t%s\t%s"):format(r[1], r[2], r[3])
end
for _, c in ipairs(cases) do lines[#lines + 1] = table.concat(c, "\t") end
write("spf.zone", table.concat(zone, "\n") .. "\n")
write("spf.rr", table.concat(flat, "\n") .. "\n")
write("spf.cases", table.concat(lines, "\n") .. "\n")
io.stderr:write(("gen_zone: %d records, %d domains, %d cases\n"):format(#records, #domains, #cases))
