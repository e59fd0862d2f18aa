-- sanitizer-smoke.lua: drives the C module through every public path once
-- (iprev/ptr over zones, a Lua resolver with odd answers and the network
-- resolver; r:query, query_many; query_wire/parse_wire on good and broken
-- bytes) so that ASan or valgrind can watch it.  Not a spec: it asserts
-- only that nothing raises unexpectedly.  From the repo root:
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/asan/?.so;;' \
--     LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \
--     lua5.4 spec/support/sanitizer-smoke.lua [127.0.0.1@PORT]
--   valgrind -q --leak-check=full --error-exitcode=9 lua5.4 spec/support/sanitizer-smoke.lua
-- With a nameserver argument (Knot from spec/support/knot.sh) it also runs
-- the network resolver.
local mailauth = require "mailauth"
local ns = arg and arg[1]

local zonefiles = {}
for _, z in ipairs { "example.com", "2.0.192.in-addr.arpa", "8.b.d.0.1.0.0.2.ip6.arpa" } do
  zonefiles[#zonefiles + 1] = "spec/fixtures/zones/" .. z .. ".zone"
end
local zr = assert(mailauth.resolver{ zonefiles = zonefiles })

local ips = { "192.0.2.25", "192.0.2.26", "192.0.2.27", "192.0.2.28", "192.0.2.30",
              "192.0.2.40", "192.0.2.99", "2001:db8::25", "2001:db8::99",
              "::ffff:192.0.2.25", "198.51.100.7" }
local names = { "example.com", "mail.example.com", "alias.example.com", "big.example.com",
                "huge.example.com", "nothere.example.com", "example.org", "a..b",
                ("x"):rep(64) .. ".example.com", ("\\065"):rep(63) .. ".example.com",
                "25.2.0.192.in-addr.arpa", "sel2048._domainkey.example.com" }
local types = { "A", "AAAA", "TXT", "MX", "PTR", "CNAME", "NS", "SOA", 99 }

local function exercise(r, label)
  for _, ip in ipairs(ips) do
    local res = mailauth.iprev(ip, { resolver = r })
    assert(res.result, label .. " iprev " .. ip)
    mailauth.ptr(ip, { resolver = r })
    mailauth.iprev(ip, { resolver = r, max_names = 1 })
  end
end

exercise(zr, "zone")
for _, n in ipairs(names) do
  for _, t in ipairs(types) do zr:query(n, t) end
end
local qs = {}
for i, n in ipairs(names) do qs[#qs + 1] = { name = n, type = types[i % #types + 1] } end
zr:query_many(qs)

-- A Lua resolver: first the zones, then answers of every odd shape.
exercise(function(name, qtype) return zr:query(name, qtype) end, "lua")
local odd = {
  { rcode = "NOERROR", records = { "mail.example.com", { "a", "b" }, "", ("y"):rep(3000) } },
  { rcode = "NOERROR", records = { { preference = 5, exchange = "mx.example" } } },
  { rcode = "SERVFAIL" }, { rcode = "TIMEOUT" }, { rcode = "BADNAME" }, { rcode = "NXDOMAIN" },
  { records = { "192.0.2.25", "2001:db8::25", "not an ip", "a\0b" }, ttl = -5, secure = true },
  "not a table", 42,
}
for i = 1, #odd do
  exercise(function() return odd[i] end, "odd " .. i)
end
local ok = pcall(mailauth.iprev, "192.0.2.25", { resolver = function() return { rcode = "BOGUS" } end })
assert(not ok, "unknown rcode must raise")
ok = pcall(mailauth.iprev, "not an ip", { resolver = zr })
assert(not ok, "a bad IP must raise")

-- Wire helpers: queries for odd names; replies whole, cut short and flipped.
for _, n in ipairs(names) do
  for _, t in ipairs(types) do
    local q = mailauth.dns.query_wire(n, t, 4242)
    if q then
      mailauth.dns.parse_wire(q)                          -- not a reply
      local reply = q:sub(1, 2) .. string.char(q:byte(3) % 128 + 128) .. q:sub(4)
      mailauth.dns.parse_wire(reply)
    end
  end
end
local seeds = io.popen("ls fuzz/seeds/parse_wire")
for f in seeds:lines() do
  local h = assert(io.open("fuzz/seeds/parse_wire/" .. f, "rb"))
  local wire = h:read("*a")
  h:close()
  -- regress-refused-*: replies that must be refused (a reply ldns would
  -- misread); every other seed is a reply that must parse.
  local a, err = mailauth.dns.parse_wire(wire)
  if f:match("^regress%-refused%-") then
    assert(a == nil and type(err) == "string", f .. " must be refused")
  else
    assert(a, f .. ": " .. tostring(err))
  end
  for cut = 0, #wire - 1 do mailauth.dns.parse_wire(wire:sub(1, cut)) end
  for at = 1, #wire, 3 do
    mailauth.dns.parse_wire(wire:sub(1, at - 1) .. string.char(255 - wire:byte(at)) .. wire:sub(at + 1))
  end
end
seeds:close()

if ns then
  local nr = assert(mailauth.resolver{ nameservers = { ns }, timeout = 1, retries = 0, cache = 100 })
  exercise(nr, "net")
  for _, n in ipairs(names) do
    for _, t in ipairs(types) do nr:query(n, t) end
  end
  nr:query_many(qs)
  assert(#nr:query("huge.example.com", "TXT").records == 1, "TCP fallback")
  assert(nr:stats().cache_hits > 0)
  nr:close()
  -- Nobody listens there: every question times out, nothing leaks.
  local dead = assert(mailauth.resolver{ nameservers = { "127.0.0.1@9" }, timeout = 0.2, retries = 0 })
  assert(mailauth.iprev("192.0.2.25", { resolver = dead }).result == "temperror")
end
zr:close()
collectgarbage()
io.stderr:write("sanitizer-smoke: ok\n")
