-- The process-wide cache of parsed SPF records (src/spf/spf_cache.c) must never
-- change a result.  Every expectation here follows from RFC 7208 applied to
-- the small records below (which network holds the client, §5.6; the first
-- matching term decides and its qualifier is the result, §4.6.2; include
-- matches only on the included record's pass, §5.2; redirect= hands over the
-- whole evaluation, §6.1; exp= text with its macros for a fail, §6.2, §7.3;
-- a syntax error anywhere is a permerror, §4.6) and is cross-checked with
-- pyspf (Debian python3-spf, offline, spec/support/pyspf_oracle.py) for the
-- fixed-zone sections.  The cache is keyed by the record text: the same text
-- under many domains, texts whose terms sit at different offsets, a text
-- changing under one name, more texts than the cache's 2048 entries (1024 slots of two), texts
-- it does not keep (over 1024 bytes, over 64 terms, permerrors), and
-- per-check macros in a shared text.  A C program then checks from several
-- threads while the cache is emptied in a loop, also under ThreadSanitizer.
local cjson = require "cjson"
local mailauth = require "mailauth"
local F = require "dkimfix"

local DEFAULT = "DEFAULT"

-- The fake DNS over { name = { TXT = {...}, A = {...}, AAAA = {...},
-- MX = { { pref, host } } } }: an absent name is NXDOMAIN, a listed name
-- without the type has no records (the rules of spf_pyspf_spec.lua).
local fakedns = require "fakedns"
local function resolver(zone)
  return fakedns.new(zone).resolve
end

local function spf(res, ip, sender)
  return mailauth.spf{ ip = ip, sender = sender, helo = "helo.example", resolver = res,
                       receiver = "receiver.example", default_explanation = DEFAULT }
end

-- want = { result, mechanism or nil, explanation or nil }
local function expect(res, ip, sender, want, label)
  local r = spf(res, ip, sender)
  if r.result ~= want[1] or r.mechanism ~= want[2] or r.explanation ~= want[3] then
    local where = ("%s: %s from %s"):format(label, sender, ip)
    assert.are.equal(want[1], r.result, where .. ": " .. tostring(r.problem))
    assert.are.equal(want[2], r.mechanism, where .. " (mechanism)")
    assert.are.equal(want[3], r.explanation, where .. " (explanation)")
  end
  return r
end

local function txt(zone, name, text) zone[name] = zone[name] or {}; zone[name].TXT = { text } end
local function add(zone, name, qtype, value)
  zone[name] = zone[name] or {}
  zone[name][qtype] = zone[name][qtype] or {}
  table.insert(zone[name][qtype], value)
end

-- Cases also given to pyspf: { zone, ip, sender, want } (a zone is a table).
local oracle_cases = {}
local function for_oracle(zone, ip, sender, want)
  oracle_cases[#oracle_cases + 1] = { zone = zone, ip = ip, sender = sender, want = want }
end

---------------------------------------------------------------------------
-- 1. One text under many domains; terms at many offsets.
local SHARED = {}       -- the zone
local shared_cases = {} -- { ip, sender, want, label }
do
  local z = SHARED
  txt(z, "_spf.redirect.example", "v=spf1 ip4:203.0.113.0/26 ?all")
  txt(z, "_spf.include.example", "v=spf1 ip4:192.0.2.128/25 ip6:2001:db8:c::/48 -all")
  txt(z, "_exp.shared.example", "%{c} is not allowed for %{o}")
  local templates = {
    { text = "v=spf1 ip4:192.0.2.0/24 -all",
      cases = function()
        return { { "192.0.2.7", { "pass", "ip4:192.0.2.0/24" } },
                 { "198.51.100.1", { "fail", "-all", DEFAULT } } }
      end },
    { text = "v=spf1 x-pad=padding.%{d} ip4:192.0.2.0/25 ~all",
      cases = function()
        return { { "192.0.2.7", { "pass", "ip4:192.0.2.0/25" } },
                 { "192.0.2.200", { "softfail", "~all" } } }
      end },
    { text = "v=spf1 redirect=_spf.redirect.example",
      cases = function()
        return { { "203.0.113.9", { "pass", "ip4:203.0.113.0/26" } },
                 { "203.0.113.200", { "neutral", "?all" } } }
      end },
    { text = "v=spf1 -ip4:198.51.100.0/24 ip6:2001:db8:a::/48 -all exp=why.%{d}",
      zone = function(d) txt(z, "why." .. d, "%{c} may not send mail for %{d} as %{l}") end,
      cases = function(d, l)
        return { { "2001:db8:a::1", { "pass", "ip6:2001:db8:a::/48" } },
                 { "198.51.100.1", { "fail", "-ip4:198.51.100.0/24",
                                     "198.51.100.1 may not send mail for " .. d .. " as " .. l } },
                 { "2001:db8:b::1", { "fail", "-all",
                                      "2001:db8:b::1 may not send mail for " .. d .. " as " .. l } } }
      end },
    { text = "v=spf1 a:%{d}/30 mx/24 -all",
      zone = function(d, k)
        add(z, d, "A", "198.51.100." .. 4 * k)
        add(z, d, "MX", { 10, "mx." .. d })
        add(z, "mx." .. d, "A", "203.0.113." .. k)
      end,
      cases = function(_, _, k)
        return { { "198.51.100." .. (4 * k + 3), { "pass", "a:%{d}/30" } },
                 { "198.51.100." .. (4 * k + 4), { "fail", "-all", DEFAULT } },
                 { "203.0.113.250", { "pass", "mx/24" } } }
      end },
    { text = "v=spf1 include:_spf.include.example ~all",
      cases = function()
        return { { "192.0.2.200", { "pass", "include:_spf.include.example" } },
                 { "192.0.2.100", { "softfail", "~all" } },
                 { "2001:db8:c::9", { "pass", "include:_spf.include.example" } } }
      end },
    { text = "v=spf1 ip6:2001:db8:d::/64 ip6:2001:db8:e::/48 -all exp=_exp.shared.example",
      cases = function(d)
        return { { "2001:db8:e::5", { "pass", "ip6:2001:db8:e::/48" } },
                 { "2001:db8:f::1", { "fail", "-all", "2001:db8:f::1 is not allowed for " .. d } },
                 { "2001:db8:d::1", { "pass", "ip6:2001:db8:d::/64" } },
                 { "192.0.2.7", { "fail", "-all", "192.0.2.7 is not allowed for " .. d } } }
      end },
  }
  for k = 1, 40 do
    for t, tpl in ipairs(templates) do
      local d = ("t%d-%d.example"):format(t, k)
      local l = "u" .. k
      txt(z, d, tpl.text)
      if tpl.zone then tpl.zone(d, k) end
      for _, c in ipairs(tpl.cases(d, l, k)) do
        shared_cases[#shared_cases + 1] = { c[1], l .. "@" .. d, c[2], ("template %d, %s"):format(t, d) }
        for_oracle(z, c[1], l .. "@" .. d, c[2])
      end
    end
  end
end

---------------------------------------------------------------------------
-- 5. Per-check macros inside a shared text.
local MACROS = {}
local macro_cases = {}
do
  local z = MACROS
  txt(z, "_e.example.org", "%{s} from %{c} is not permitted")
  add(z, "7.2.0.192.alice._x.example.org", "A", "127.0.0.2")
  add(z, "1.100.51.198.bob._x.example.org", "A", "127.0.0.2")
  txt(z, "alice._u.example.org", "v=spf1 ip4:192.0.2.0/24 -all")
  txt(z, "bob._u.example.org", "v=spf1 ip4:198.51.100.0/24 -all")
  local EXISTS = "exists:%{ir}.%{l}._x.example.org"
  local INCLUDE = "include:%{l}._u.example.org"
  for k = 1, 20 do
    local m, n = ("m%d.example"):format(k), ("n%d.example"):format(k)
    txt(z, m, "v=spf1 " .. EXISTS .. " -all exp=_e.example.org")
    txt(z, n, "v=spf1 " .. INCLUDE .. " -all")
    local function c(ip, who, dom, want)
      macro_cases[#macro_cases + 1] = { ip, who .. "@" .. dom, want, dom }
      for_oracle(z, ip, who .. "@" .. dom, want)
    end
    local function why(who, ip) return { "fail", "-all", ("%s@%s from %s is not permitted"):format(who, m, ip) } end
    c("192.0.2.7", "alice", m, { "pass", EXISTS })
    c("192.0.2.7", "bob", m, why("bob", "192.0.2.7"))
    c("198.51.100.1", "bob", m, { "pass", EXISTS })
    c("198.51.100.1", "alice", m, why("alice", "198.51.100.1"))
    c("192.0.2.7", "alice", n, { "pass", INCLUDE })
    c("192.0.2.7", "bob", n, { "fail", "-all", DEFAULT })
    c("198.51.100.1", "bob", n, { "pass", INCLUDE })
    c("198.51.100.1", "alice", n, { "fail", "-all", DEFAULT })
  end
end

---------------------------------------------------------------------------
-- 4. Texts the cache does not keep, or keeps only when they parse.
local UNCACHED = {}
local uncached_cases = {}
do
  local z = UNCACHED
  local function c(d, ip, want, oracle)
    uncached_cases[#uncached_cases + 1] = { ip, "postmaster@" .. d, want, d }
    if oracle ~= false then for_oracle(z, ip, "postmaster@" .. d, want) end
  end
  -- §4.6: a syntax error anywhere makes the record a permerror
  local bad = {
    "v=spf1 ip4:192.0.2.0/33 -all",                 -- §5.6 ip4-cidr-length up to 32
    "v=spf1 foo:bar.example -all",                  -- not a mechanism
    "v=spf1 redirect=a.example redirect=b.example", -- §6: at most once
    "v=spf1 a:%{x}.example -all",                   -- §7.1: no such macro letter
    "v=spf1 ip4:192.0.2.0/24 -al",                  -- the last term broken
  }
  for i, text in ipairs(bad) do
    local d = ("bad%d.example"):format(i)
    txt(z, d, text)
    c(d, "192.0.2.7", { "permerror" })
  end
  -- the valid neighbours, evaluated in between
  txt(z, "good1.example", "v=spf1 ip4:192.0.2.0/32 -all")
  c("good1.example", "192.0.2.0", { "pass", "ip4:192.0.2.0/32" })
  c("good1.example", "192.0.2.7", { "fail", "-all", DEFAULT })
  txt(z, "good5.example", "v=spf1 ip4:192.0.2.0/24 -all")
  c("good5.example", "192.0.2.7", { "pass", "ip4:192.0.2.0/24" })
  -- lengths around the cache's 1024 bytes, and 4096 (mailauth's limit)
  for _, total in ipairs { 1000, 1023, 1024, 1025, 1100, 2000, 4096 } do
    local tail = " ip4:192.0.2.0/24 -all"
    local head = "v=spf1 x-pad="
    local text = head .. ("a"):rep(total - #head - #tail) .. tail
    assert(#text == total)
    local d = ("len%d.example"):format(total)
    txt(z, d, text)
    c(d, "192.0.2.7", { "pass", "ip4:192.0.2.0/24" })
    c(d, "198.51.100.1", { "fail", "-all", DEFAULT })
  end
  -- mailauth bounds a record at 4096 bytes (documented in lua/mailauth/spf.lua)
  local long = "v=spf1 x-pad=" .. ("a"):rep(4097 - 13 - 22) .. " ip4:192.0.2.0/24 -all"
  assert(#long == 4097)
  txt(z, "len4097.example", long)
  c("len4097.example", "192.0.2.7", { "permerror" }, false)
  -- term counts around the cache's 64: the match on the last ip4 term
  for _, nterms in ipairs { 63, 64, 65, 100 } do
    local parts = { "v=spf1" }
    for i = 1, nterms - 1 do parts[#parts + 1] = ("ip4:10.0.%d.%d"):format(math.floor(i / 250), i % 250) end
    parts[#parts + 1] = "-all"
    local d = ("terms%d.example"):format(nterms)
    txt(z, d, table.concat(parts, " "))
    local last = nterms - 1
    c(d, ("10.0.%d.%d"):format(math.floor(last / 250), last % 250),
      { "pass", ("ip4:10.0.%d.%d"):format(math.floor(last / 250), last % 250) })
    c(d, "10.0.3.3", { "fail", "-all", DEFAULT })
  end
end

describe("spf record cache: results never depend on it", function()
  it("one text under 40 domains each, seven texts, alternating matching and other clients", function()
    local res = resolver(SHARED)
    local n = 0
    for _ = 1, 2 do
      for _, c in ipairs(shared_cases) do
        expect(res, c[1], c[2], c[3], c[4])
        n = n + 1
      end
    end
    assert.are.equal(2 * 40 * (2 + 2 + 2 + 3 + 3 + 3 + 4), n)
  end)

  it("a record that changes under one name: each result follows the current text", function()
    local z = {}
    local res = resolver(z)
    local R = {
      R1 = "v=spf1 ip4:192.0.2.0/24 -all",
      R2 = "v=spf1 ip4:192.0.3.0/24 -all",   -- same length, one byte apart
      R3 = "v=spf1 -ip4:192.0.2.0/24 +all",
      BAD = "v=spf1 ip4:192.0.2.0/24 -al",
    }
    local WANT = {
      R1 = { { "pass", "ip4:192.0.2.0/24" }, { "fail", "-all", DEFAULT } },
      R2 = { { "fail", "-all", DEFAULT }, { "pass", "ip4:192.0.3.0/24" } },
      R3 = { { "fail", "-ip4:192.0.2.0/24", DEFAULT }, { "pass", "+all" } },
      BAD = { { "permerror" }, { "permerror" } },
      NONE = { { "none" }, { "none" } },   -- §4.5: no SPF record at the name
    }
    local order = { "R1", "R2", "R1", "R3", "R1", "BAD", "R1", "NONE", "R2", "R2", "BAD", "R3", "R1" }
    local n = 0
    for round = 1, 10 do
      for i, name in ipairs(order) do
        if name == "NONE" then
          z["changing.example"] = { TXT = { "not spf" } }
        else
          txt(z, "changing.example", R[name])
        end
        for j, ip in ipairs { "192.0.2.7", "192.0.3.7" } do
          local r = expect(res, ip, "a@changing.example", WANT[name][j],
                           ("round %d step %d (%s)"):format(round, i, name))
          if name ~= "NONE" then assert.are.equal(R[name], r.record) end
          n = n + 1
        end
      end
    end
    assert.are.equal(10 * #order * 2, n)
  end)

  it("3000 texts (more than the 2048 entries), round robin, two rounds", function()
    local z = {}
    local N = 3000
    for i = 0, N - 1 do
      txt(z, ("n%d.example"):format(i),
          ("v=spf1 ip4:10.%d.%d.0/24 -all"):format(math.floor(i / 250), i % 250))
    end
    local res = resolver(z)
    local n = 0
    for round = 1, 2 do
      for j = 0, N - 1 do
        -- another order in the second round: other texts meet in a slot
        local i = round == 1 and j or (j * 7) % N
        local x, y = math.floor(i / 250), i % 250
        local d = "a@n" .. i .. ".example"
        expect(res, ("10.%d.%d.9"):format(x, y), d, { "pass", ("ip4:10.%d.%d.0/24"):format(x, y) },
               "round " .. round)
        -- the neighbouring /24 (y xor 1) is another record's network
        expect(res, ("10.%d.%d.9"):format(x, y % 2 == 0 and y + 1 or y - 1), d,
               { "fail", "-all", DEFAULT }, "round " .. round)
        n = n + 2
      end
    end
    assert.are.equal(4 * N, n)
  end)

  it("permerrors stay permerrors; texts over 1024 bytes or 64 terms evaluate right every time", function()
    local res = resolver(UNCACHED)
    local n = 0
    for round = 1, 10 do
      for _, c in ipairs(uncached_cases) do
        local r = expect(res, c[1], c[2], c[3], ("round %d, %s"):format(round, c[4]))
        if c[3][1] == "permerror" then assert.is_string(r.problem) end
        n = n + 1
      end
    end
    assert.are.equal(10 * #uncached_cases, n)
  end)

  it("a shared text still expands %{i}, %{ir}, %{l}, %{s}, %{c} per check", function()
    local res = resolver(MACROS)
    local n = 0
    for _ = 1, 3 do
      for _, c in ipairs(macro_cases) do
        expect(res, c[1], c[2], c[3], c[4])
        n = n + 1
      end
    end
    assert.are.equal(3 * 20 * 8, n)
  end)

  it("pyspf gives the same results and explanations for the fixed-zone cases", function()
    local dir = F.tmpdir()
    local zones, zone_id, cases = {}, {}, {}
    for i, c in ipairs(oracle_cases) do
      if not zone_id[c.zone] then
        zones[#zones + 1] = c.zone
        zone_id[c.zone] = #zones
      end
      cases[i] = { id = i, zone = zone_id[c.zone], ip = c.ip, sender = c.sender, helo = "helo.example" }
    end
    F.write(dir .. "/cases.json", cjson.encode { now = 1700000000, zones = zones, cases = cases })
    local pipe = assert(io.popen("/usr/bin/python3 spec/support/pyspf_oracle.py " .. dir .. "/cases.json 2>&1"))
    local out = pipe:read("*a")
    pipe:close()
    F.rmdir(dir)
    local ok, oracle = pcall(cjson.decode, out)
    assert.is_true(ok and type(oracle) == "table", "pyspf oracle failed: " .. out:sub(1, 300))
    for i, c in ipairs(oracle_cases) do
      local o = oracle[tostring(i)]
      local where = ("%s from %s"):format(c.sender, c.ip)
      assert.are.equal(c.want[1], o[1], where)
      if c.want[1] == "fail" then
        assert.are.equal(c.want[3], o[2], where .. " (explanation)")
      end
    end
    assert.is_true(#oracle_cases > 800)
  end)
end)

---------------------------------------------------------------------------
-- The cache from several threads: spec/support/spfcache_threads.c, linked
-- with the core objects of the module under test, checks the cases below
-- from 6 threads, 20 passes each (each thread with its own offline zone
-- resolver over one zone: 377 SPF records, about 200 distinct texts, so
-- some share one of the 1024 two-entry slots) while its main thread empties the
-- cache every 0.1 ms.  It first computes
-- every result once, single-threaded with the cache emptied before each
-- check, and requires it to be the expectation written here.
local C = require "cstress"

-- Master-file text of a zone table, TXT in strings of at most 200 bytes.
local function zone_text(zone)
  local names = {}
  for name in pairs(zone) do names[#names + 1] = name end
  table.sort(names)
  local out = {}
  for _, name in ipairs(names) do
    for _, qtype in ipairs { "TXT", "A", "AAAA", "MX" } do
      for _, v in ipairs(zone[name][qtype] or {}) do
        local data
        if qtype == "TXT" then
          local parts = {}
          for i = 1, #v, 200 do parts[#parts + 1] = '"' .. v:sub(i, i + 199) .. '"' end
          data = table.concat(parts, " ")
        elseif qtype == "MX" then
          data = v[1] .. " " .. v[2] .. "."
        else
          data = v
        end
        out[#out + 1] = ("%s. 300 IN %s %s"):format(name, qtype, data)
      end
    end
  end
  return table.concat(out, "\n") .. "\n"
end

-- The zone and the cases: { ip, sender, "result|mechanism|explanation" }.
local function threads_data()
  local z, cases = {}, {}
  local function c(ip, sender, want)
    cases[#cases + 1] = { ip, sender, ("%s|%s|%s"):format(want[1], want[2] or "", want[3] or "") }
  end
  for j = 0, 9 do txt(z, ("r%d.example"):format(j), ("v=spf1 ip4:172.16.%d.0/24 -all"):format(j)) end
  for j = 0, 6 do txt(z, ("inc%d.example"):format(j), ("v=spf1 ip4:192.168.%d.0/24 ?all"):format(j)) end
  txt(z, "_exp.example", "%{l} may not use %{d}")
  for k = 1, 360 do
    local d = ("w%d.example"):format(k)
    local x, y = math.floor(k / 100), k % 100
    local net = ("10.%d.%d.0/24"):format(x, y)
    local s = "a@" .. d
    local kind = k % 6
    if kind == 0 then
      txt(z, d, "v=spf1 ip4:" .. net .. " -all")
      c(("10.%d.%d.9"):format(x, y), s, { "pass", "ip4:" .. net })
      c(("10.%d.%d.9"):format(x, y + 100), s, { "fail", "-all", DEFAULT })
    elseif kind == 1 then
      local v6 = ("2001:db8:%x::"):format(k)
      txt(z, d, ("v=spf1 -ip4:%s ip6:%s/48 ~all exp=why.%%{d}"):format(net, v6))
      txt(z, "why." .. d, "%{c} refused by %{d}")
      c(v6 .. "1", s, { "pass", "ip6:" .. v6 .. "/48" })
      c(("10.%d.%d.9"):format(x, y), s, { "fail", "-ip4:" .. net, ("10.%d.%d.9 refused by %s"):format(x, y, d) })
      c("2001:db8:ffff::1", s, { "softfail", "~all" })
    elseif kind == 2 then
      local j = k % 10
      txt(z, d, ("v=spf1 redirect=r%d.example"):format(j))
      c(("172.16.%d.1"):format(j), s, { "pass", ("ip4:172.16.%d.0/24"):format(j) })
      c(("172.16.%d.1"):format(j + 10), s, { "fail", "-all", DEFAULT })
    elseif kind == 3 then
      local v6 = ("2001:db8:ffff:%x"):format(k)
      txt(z, d, ("v=spf1 a/24 mx:mx%d.example//64 -all"):format(k))
      add(z, d, "A", ("10.%d.%d.1"):format(x, y))
      add(z, ("mx%d.example"):format(k), "MX", { 10, ("h%d.example"):format(k) })
      add(z, ("h%d.example"):format(k), "AAAA", v6 .. "::1")
      c(("10.%d.%d.77"):format(x, y), s, { "pass", "a/24" })
      c(v6 .. "::abc", s, { "pass", ("mx:mx%d.example//64"):format(k) })
      c(("2001:db8:fffe:%x::1"):format(k), s, { "fail", "-all", DEFAULT })   -- another /64
    elseif kind == 4 then
      local j = k % 7
      txt(z, d, ("v=spf1 include:inc%d.example -all"):format(j))
      c(("192.168.%d.1"):format(j), s, { "pass", ("include:inc%d.example"):format(j) })
      c(("192.168.%d.1"):format(j + 50), s, { "fail", "-all", DEFAULT })
    else
      -- one text under 60 domains, macros expanded per check
      txt(z, d, "v=spf1 exists:%{l}.%{d}._e.example -all exp=_exp.example")
      add(z, "ok." .. d .. "._e.example", "A", "127.0.0.2")
      c("192.0.2.1", "ok@" .. d, { "pass", "exists:%{l}.%{d}._e.example" })
      c("192.0.2.1", "no@" .. d, { "fail", "-all", "no may not use " .. d })
    end
  end
  return z, cases
end

describe("spf record cache under threads (spfcache_threads.c)", function()
  local dir, ncases, zone, cases

  setup(function()
    dir = F.tmpdir()
    zone, cases = threads_data()
    ncases = #cases
    F.write(dir .. "/zone.txt", zone_text(zone))
    local lines = {}
    for i, c in ipairs(cases) do lines[i] = table.concat(c, "\t") end
    F.write(dir .. "/cases.txt", table.concat(lines, "\n") .. "\n")
  end)

  teardown(function() if os.getenv("KEEP_SPFCACHE_DIR") then io.stderr:write(dir, "\n") else F.rmdir(dir) end end)

  it("the cases hold through the Lua API too (one thread)", function()
    local res = resolver(zone)
    for _, c in ipairs(cases) do
      local r = spf(res, c[1], c[2])
      assert.are.equal(c[3], ("%s|%s|%s"):format(r.result, r.mechanism or "", r.explanation or ""),
                       c[2] .. " from " .. c[1])
    end
  end)

  it("6 threads, every result as computed single-threaded, the cache emptied in a loop", function()
    assert.is_true(ncases > 800)
    local bdir = assert(C.build_dir(), "no build directory with mailauth/core.so in package.cpath")
    local san = bdir:match("asan") and "-fsanitize=address,undefined " or ""
    local bin = dir .. "/spfcache_threads"
    C.compile("gcc", "-O2 -g " .. san, "spfcache_threads", C.core_objects(bdir), bin,
              dir .. "/build.log")
    local threads, passes = 6, 20
    local ok, out, log = C.run(bin, dir, threads, passes)
    assert.is_true(ok, "spfcache_threads failed: " .. log .. out)
    local checked, clears = out:match("^ok (%d+) (%d+)")
    assert.are.equal(threads * passes * ncases, tonumber(checked))
    assert.is_true(tonumber(clears) > 0)
  end)

  -- The same with ThreadSanitizer, when a compiler here has it: the core
  -- built with -fsanitize=thread by make into build/tsan (shared with
  -- dkim_keycache_spec.lua and the three Lua ABIs).  No suppressions: SPF
  -- does not reach libcrypto.
  it("the same under ThreadSanitizer: no race reported", function()
    local done, out, log = C.run_tsan("spfcache_threads", dir, 4, 4)
    if done == nil then
      pending("no compiler with -fsanitize=thread here")
      return
    end
    assert.is_nil(log:find("WARNING: ThreadSanitizer", 1, true), log)
    assert.is_true(done, "spfcache_threads under tsan: " .. log .. out)
    assert.are.equal(4 * 4 * ncases, tonumber(out:match("^ok (%d+)")))
  end)
end)
