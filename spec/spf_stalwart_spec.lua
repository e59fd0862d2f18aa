-- stalwart mail-auth's SPF tests (../shared/testdata/spf/stalwart/*.yml, Apache-2.0
-- OR MIT) through mailauth.spf.  The files are line-oriented (not strict
-- YAML: keys repeat), read here line by line as stalwart's harness does:
--   spf: / exp: <name> <text>      TXT records
--   a: / aaaa: <name> <ip>, <ip>   address records
--   mx: <name> <ip>, <ip>          MX records to invented hosts "mx.<ip>.<n>"
--   ptr: <ip> <name>, <name>       PTR records of the address
-- Any other name is NXDOMAIN; a name containing "_dns_error." fails with
-- SERVFAIL; %{r} is "localdomain.org".  Each test checks the HELO identity
-- first and, only when that passes, MAIL FROM; the expected result (and
-- explanation, when given) is that of the last check run.
local mailauth = require "mailauth"
local helpers = require "spec.support.helpers"

local DIR = helpers.skip_without_testdata("spf/stalwart/")
if not DIR then return end
local FILES = { "a", "all", "basic", "examples", "exists", "exp", "include", "ip",
                "macro", "mx", "ptr", "redirect" }

-- Where stalwart's expectation departs from RFC 7208, the RFC answer is
-- asserted: test title -> { RFC 7208 result, stalwart's, why }.
local RFC_DIFFERS = {
  ["all.yml: All test #1"] = { "permerror", "fail",
    "§4.6: 'ip:10.0.0.1' is an unknown mechanism, a syntax error anywhere in the record is permerror "
    .. "before any evaluation; 'mechanisms after all are ignored' (§5.1) does not cover syntax" },
  ["basic.yml: DNS Lookup Limits #1"] = { "permerror", "softfail",
    "§4.6.4: ten a: terms whose names do not exist are ten void lookups, over the limit of two" },
  ["basic.yml: DNS Lookup Limits #6"] = { "permerror", "pass",
    "§4.6.4, as the OpenSPF suite's mx-limit resolves it: more than 10 MX records make the mx "
    .. "mechanism a permerror; stalwart stops at the first matching MX host" },
  ["exists.yml: Exists #2"] = { "fail", "pass",
    "§5.7: exists looks up an A record even for IPv6 clients; the name has only AAAA" },
  ["ip.yml: IPv6 match #4"] = { "fail", "pass",
    "§5.6: ip6 matches only an IPv6 <ip>; the IPv4 client 10.1.2.3 is never compared with ::ffff:10.1.2.3" },
  ["macro.yml: Macro expansion 2 #2"] = { "fail", "pass",
    "§5.7: exists looks up an A record even for IPv6 clients; the name has only AAAA" },
}

local function reverse_name(ip)
  if ip:find(":") then
    local head, tail = ip:match("^(.-)::(.*)$")
    local function split(s)
      local out = {}
      for g in s:gmatch("[^:]+") do out[#out + 1] = g end
      return out
    end
    local h, t = split(head or ip), split(tail or "")
    local groups = {}
    for _, g in ipairs(h) do groups[#groups + 1] = g end
    for _ = 1, 8 - #h - #t do groups[#groups + 1] = "0" end
    for _, g in ipairs(t) do groups[#groups + 1] = g end
    for i, g in ipairs(groups) do groups[i] = ("0000" .. g):sub(-4):lower() end
    return (table.concat(groups):reverse():gsub(".", "%0.")) .. "ip6.arpa"
  end
  local a, b, c, d = ip:match("(%d+)%.(%d+)%.(%d+)%.(%d+)")
  return ("%s.%s.%s.%s.in-addr.arpa"):format(d, c, b, a)
end

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

local function list(s)
  local out = {}
  for item in s:gmatch("[^,]+") do out[#out + 1] = trim(item) end
  return out
end

local function copy(t)
  if type(t) ~= "table" then return t end
  local out = {}
  for k, v in pairs(t) do out[k] = copy(v) end
  return out
end

-- -> { { name =, tests = { { helo, sender, ip, result, explanation, zone } } } }
-- In "tests:", "domain:", "sender:" and "ip:" set the identity that each
-- "expect:" line then checks (examples.yml sets several per item), and
-- record lines there replace (spf) or add records from that point on.
local function parse(text)
  local docs, doc, section = {}, nil, nil
  local replaced
  local function new_doc()
    doc = { zone = {}, tests = {}, cur = {} }
    docs[#docs + 1] = doc
    replaced = {}
    section = nil
  end
  local function add(name, qtype, value)
    name = name:lower()
    doc.zone[name] = doc.zone[name] or {}
    doc.zone[name][qtype] = doc.zone[name][qtype] or {}
    table.insert(doc.zone[name][qtype], value)
  end
  local function record(key, name, rest, line)
    if key == "spf" or key == "exp" then
      if section == "tests:" and key == "spf" and not replaced[name:lower()] then
        replaced[name:lower()] = true
        if doc.zone[name:lower()] then doc.zone[name:lower()].TXT = nil end
      end
      add(name, "TXT", rest)
    elseif key == "a" or key == "aaaa" then
      for _, ip in ipairs(list(rest)) do add(name, key:upper(), ip) end
    elseif key == "mx" then
      for n, ip in ipairs(list(rest)) do
        local host = ("mx.%s.%d"):format(ip, n - 1)
        add(name, "MX", { preference = n, exchange = host })
        add(host, ip:find(":") and "AAAA" or "A", ip)
      end
    elseif key == "ptr" then
      for _, host in ipairs(list(rest)) do add(reverse_name(name), "PTR", host) end
    else
      error("unknown record line: " .. line)
    end
  end
  new_doc()
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    local stripped = trim(line)
    if stripped == "---" then
      new_doc()
    elseif stripped:sub(1, 1) == "#" or stripped == "" then -- luacheck: ignore 542
    elseif stripped:match("^name:") and section ~= "tests:" then
      doc.name = trim(stripped:sub(6))
    elseif stripped == "records:" or stripped == "tests:" then
      section = stripped
      if section == "tests:" then replaced = {} end
    elseif section == "records:" then
      local key, name, rest = stripped:match("^(%a+):%s*(%S+)%s*(.*)$")
      record(key, name, rest, line)
    elseif section == "tests:" then
      local key, value = stripped:match("^%-?%s*(%a+):%s*(.*)$")
      local t = doc.cur
      if key == "name" then
        replaced = {}
      elseif key == "domain" then t.helo = value
      elseif key == "sender" then t.sender = value
      elseif key == "ip" then t.ip = value
      elseif key == "expect" then
        local result, explanation = value:match("^(%a+)%s*(.-)%s*$")
        doc.tests[#doc.tests + 1] = { helo = t.helo, sender = t.sender, ip = t.ip, result = result,
                                      explanation = explanation ~= "" and explanation or nil,
                                      zone = copy(doc.zone) }
      else
        local name, rest = value:match("^(%S+)%s*(.*)$")
        record(key, name, rest, line)
      end
    end
  end
  local out = {}
  for _, d in ipairs(docs) do
    if #d.tests > 0 then out[#out + 1] = d end
  end
  return out
end

-- The fake DNS over a test's zone; a name with "_dns_error." in it is
-- SERVFAIL (the stalwart suite's convention).
local fakedns = require "fakedns"
local function resolver(zone)
  return fakedns.new(zone, { patterns = { ["_dns_error%."] = "SERVFAIL" } }).resolve
end

local read = helpers.read

describe("SPF stalwart mail-auth tests", function()
  local total = 0
  for _, file in ipairs(FILES) do
    for di, doc in ipairs(parse(read(DIR .. file .. ".yml"))) do
      for ti, t in ipairs(doc.tests) do
        total = total + 1
        local key = ("%s.yml: %s #%d"):format(file, doc.name or di, ti)
        local differs = RFC_DIFFERS[key]
        local title = ("%s (%s from %s)"):format(key, t.ip, t.sender)
        if differs then
          title = title .. (" RFC 7208 %s, stalwart %s: %s"):format(differs[1], differs[2], differs[3])
        end
        it(title, function()
          local function check(scope)
            return mailauth.spf{ ip = t.ip, sender = t.sender, helo = t.helo, scope = scope,
                                 receiver = "localdomain.org", resolver = resolver(t.zone),
                                 now = 1700000000 }
          end
          local r = check("helo")
          if r.result == "pass" then r = check("mfrom") end
          if differs then
            assert.are.equal(differs[2], t.result)
            assert.are.equal(differs[1], r.result)
            return
          end
          assert.are.equal(t.result, r.result)
          if t.explanation then assert.are.equal(t.explanation, r.explanation) end
        end)
      end
    end
  end
  it("has all 163 tests", function() assert.are.equal(163, total) end)
end)
