-- Microsoft's Authentication-Results dialect on real Exchange Online mail.
--
-- Data: ../shared/testdata/m365/ (five real messages of the ocaml-arc test
-- corpus, their pinned ARC keys, the source's expectations expected.tsv and
-- the research helper's RESULTS.md; provenance in SOURCES.md), read in place.
-- Also the Office 365 cases of MimeKit in ../shared/testdata/authres/.
--
-- What is asserted:
--   * every ARC-Authentication-Results sealed by d=microsoft.com parses with
--     authres.parse(text, { dialect = "microsoft" }) into exactly the results
--     and properties the field writes (method, result, header.d, header.from,
--     smtp.mailfrom, action with ptype ""), and the strict parser still
--     rejects it (the dialect is what makes it readable);
--   * the Microsoft-written inbound fields (no authserv-id, bare action=,
--     final ";") parse in the dialect, and each dmarc header.from there is
--     the message's From domain;
--   * every other field of the Authentication-Results family parses the
--     same in the dialect as strictly, or is rejected by both: the dialect
--     is narrow (002's unquoted header.b=JvF3/bqu stays rejected);
--   * the strict/lenient outcomes of RESULTS.md §3's table, and §3's
--     verbatim text equals the fields in the messages;
--   * every scored row of expected.tsv agrees with mailauth.arc_verify (the
--     older-seal rows on the "probe": the newest ARC set removed);
--   * hostile cases: an AAR over the limit, header.d=contoso.com.attacker
--     .example, a second header.d in one result, what the dialect refuses.

local mailauth = require "mailauth"
local authres = mailauth.authres

local helpers = require "spec.support.helpers"
local D = helpers.TESTDATA .. "/m365/"
local MS = { dialect = "microsoft" }

local M365 = require "spec.support.m365"
local read, split, join = M365.read, M365.split, M365.join
local arc_instance, seals, probe, from_domain = M365.arc_instance, M365.seals, M365.probe, M365.from_domain

local have = M365.have
if not have then
  io.stderr:write("m365_authres_spec: ../shared/testdata/m365/ absent, real-mail cases skipped\n")
end

local function trim(s) return (s:gsub("^[ \t\r\n]+", ""):gsub("[ \t\r\n]+$", "")) end

local function same(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

-- A dialect parse minus its dialect mark, to compare with a strict one.
local function unmarked(r)
  if r == nil then return nil end
  assert.equal("microsoft", r.dialect)
  local c = {}
  for k, v in pairs(r) do if k ~= "dialect" then c[k] = v end end
  return c
end

local function props_of(res)
  local out = {}
  for i, p in ipairs(res.properties) do out[i] = { p.ptype, p.property, p.value } end
  return out
end

local function values(r, method, ptype, property)
  local out = {}
  for _, res in ipairs(r.results) do
    if res.method == method then
      for _, p in ipairs(res.properties) do
        if p.ptype == ptype and p.property == property then out[#out + 1] = p.value end
      end
    end
  end
  return out
end

local message = M365.message

-- What each Microsoft AAR writes, result by result: { method, result,
-- { {ptype, property, value}, ... } }, read off the fields (RESULTS.md §3).
local MS_AAR = {
  ["001/2"] = {
    { "spf", "pass", { { "smtp", "rcpttodomain", "vger.kernel.org" }, { "smtp", "mailfrom", "arm.com" } } },
    { "dmarc", "pass", { { "", "action", "none" }, { "header", "from", "arm.com" } } },
    { "dkim", "pass", { { "header", "d", "arm.com" } } },
    { "arc", "pass", {} },
  },
  ["001/1"] = {
    { "spf", "pass", { { "smtp", "mailfrom", "arm.com" } } },
    { "dmarc", "pass", { { "", "action", "none" }, { "header", "from", "arm.com" } } },
    { "dkim", "pass", { { "header", "d", "arm.com" } } },
    { "arc", "none", {} },
  },
  ["003/1"] = {
    { "spf", "pass", { { "smtp", "mailfrom", "oracle.com" } } },
    { "dmarc", "pass", { { "", "action", "none" }, { "header", "from", "oracle.com" } } },
    { "dkim", "pass", { { "header", "d", "oracle.com" } } },
    { "arc", "none", {} },
  },
  ["005/1"] = {
    { "spf", "pass", { { "smtp", "mailfrom", "mediatek.com" } } },
    { "dmarc", "pass", { { "", "action", "none" }, { "header", "from", "mediatek.com" } } },
    { "dkim", "pass", { { "header", "d", "mediatek.com" } } },
    { "arc", "none", {} },
  },
}
MS_AAR["002/2"], MS_AAR["002/1"] = MS_AAR["001/2"], MS_AAR["001/1"]
-- the comments Microsoft writes in 001/002 i=2 (kept, folding removed)
local MS_COMMENTS = {
  ["001/2"] = { spf = "sender ip is 63.35.35.123", dmarc = "p=none sp=none pct=100",
                dkim = "signature was verified",
                arc = "0 oda=1 ltdi=1 spf=[1,1,smtp.mailfrom=arm.com] dkim=[1,1,header.d=arm.com] dmarc=[1,1,header.from=arm.com]" },
}
MS_COMMENTS["002/2"] = MS_COMMENTS["001/2"]

describe("m365: ARC-Authentication-Results of real Exchange Online mail", function()
  if not have then
    pending("../shared/testdata/m365/ absent")
    return
  end

  it("every d=microsoft.com AAR parses in the dialect with what it writes; strict still rejects it", function()
    local seen = 0
    for _, n in ipairs { "001", "002", "003", "004", "005" } do
      local m = message(n)
      local sealer = seals(m)
      for _, f in ipairs(m.fields) do
        if f.name:lower() == "arc-authentication-results" then
          local i = arc_instance(f)
          local key = n .. "/" .. i
          if sealer[i] == "microsoft.com" then
            seen = seen + 1
            local want = assert(MS_AAR[key], "no expectation for " .. key)
            local r, err = authres.parse(trim(f.value), MS)
            assert(r, key .. ": " .. tostring(err))
            assert.equal("mx.microsoft.com", r.authserv_id)
            assert.equal(1, r.version)
            assert.equal(i, r.instance)
            assert.equal("microsoft", r.dialect)
            assert.equal(#want, #r.results, key)
            for k, w in ipairs(want) do
              local res = r.results[k]
              assert.equal(w[1], res.method, key)
              assert.equal(w[2], res.result, key)
              assert.same(w[3], props_of(res), key .. " " .. w[1])
              if MS_COMMENTS[key] then assert.equal(MS_COMMENTS[key][w[1]], res.comment) end
            end
            -- the fields a policy reads, one value each
            assert.same({ from_domain(m) }, values(r, "dmarc", "header", "from"))
            assert.same({ "none" }, values(r, "dmarc", "", "action"))
            assert.equal(1, #values(r, "dkim", "header", "d"))
            -- without the dialect: action=none has no ptype
            local s, serr = authres.parse(trim(f.value))
            assert.is_nil(s)
            assert.matches("expected ptype.property", serr)
          end
        end
      end
    end
    assert.equal(6, seen)   -- 001 i=1,2; 002 i=1,2; 003 i=1; 005 i=1
  end)

  it("Microsoft's inbound fields (no authserv-id, bare action=, final ';') parse; header.from is the From domain", function()
    local names = { ["x-ms-exchange-authentication-results"] = true, ["authentication-results-original"] = true,
                    ["original-authentication-results"] = true, ["authentication-results"] = true }
    local ms_inbound, same_as_strict = 0, 0
    for _, n in ipairs { "001", "002", "003", "004", "005" } do
      local m = message(n)
      for _, f in ipairs(m.fields) do
        if names[f.name:lower()] then
          local text = trim(f.value)
          local s = authres.parse(text)
          local r, err = authres.parse(text, MS)
          if s then
            -- strictly valid (subspace.kernel.org's, Gmail's): the very same tree
            assert.is_true(same(s, unmarked(r)), n .. " " .. f.name)
            same_as_strict = same_as_strict + 1
          else
            assert(r, n .. " " .. f.name .. ": " .. tostring(err))
            ms_inbound = ms_inbound + 1
            assert.is_nil(r.authserv_id)
            assert.same({ from_domain(m) }, values(r, "dmarc", "header", "from"))
            assert.same({ "none" }, values(r, "dmarc", "", "action"))
            assert.equal(1, #values(r, "dkim", "header", "d"))
          end
        end
      end
    end
    -- Microsoft's: 001 and 002 each X-MS-Exchange-Authentication-Results,
    -- Authentication-Results-Original, Original-Authentication-Results; 005
    -- its lower-case authentication-results.  Strict: subspace.kernel.org's
    -- and Gmail's Authentication-Results.
    assert.equal(7, ms_inbound)
    assert.equal(17, same_as_strict)
  end)

  it("RESULTS.md §3: its text is the messages' fields; strict and lenient as its table says; the dialect is narrow", function()
    local doc = read(D .. "RESULTS.md"):gsub("\r\n", "\n")
    local sec = assert(doc:match("\n## 3%..-```\n(.-)```"))
    local blocks = 0
    for n, i, text in (sec .. "\n"):gmatch("# (%d%d%d), i=(%d)\n(.-)\n\n") do
      blocks = blocks + 1
      local found
      for _, f in ipairs(message(n).fields) do
        if f.name:lower() == "arc-authentication-results" and arc_instance(f) == tonumber(i) then
          found = f.raw:gsub("\r\n", "\n")
        end
      end
      assert.equal(text, found, n .. " i=" .. i)
    end
    assert.equal(11, blocks)
    local rows = 0
    for n, i, sealer, strict, lenient in doc:gmatch("\n| (%d%d%d) | (%d) | ([%w%.]+) | ([^|]-) | ([^|]-) |") do
      rows = rows + 1
      local f
      for _, x in ipairs(message(n).fields) do
        if x.name:lower() == "arc-authentication-results" and arc_instance(x) == tonumber(i) then f = x end
      end
      local text = trim(f.value)
      assert.equal(sealer, (seals(message(n)))[tonumber(i)])
      local s = authres.parse(text)
      local l = authres.parse(text, { lenient = true })
      local r = authres.parse(text, MS)
      if strict:find("^ok") then
        assert.equal(tonumber(strict:match("^ok %((%d+)")), #s.results)
        assert.is_true(same(s, unmarked(r)), n .. " i=" .. i)
      else
        assert.is_nil(s)
        if sealer == "microsoft.com" then
          assert.equal(4, #r.results)
        else
          -- 002 i=3: header.b=JvF3/bqu is no Microsoft deviation
          assert.is_nil(r, n .. " i=" .. i .. ": the dialect accepts what is not Microsoft's")
        end
      end
      assert.equal(tonumber(lenient:match("^ok %((%d+)")), #l.results)
    end
    assert.equal(11, rows)
  end)

  it("every scored row of expected.tsv agrees with arc_verify (older seals on the probe)", function()
    local r = mailauth.resolver { zones = { assert(read(D .. "keys.zone")) } }
    local scored = 0
    for line in read(D .. "expected.tsv"):gmatch("[^\r\n]+") do
      if not line:find("^#") then
        local file, check, expected, sealer = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)\t([^\t]+)")
        local n = file:match("^(%d+)")
        local m = message(n)
        assert.equal(read(D .. file), join(m))   -- split/join keeps the bytes
        local _, newest, t = seals(m)
        local whole = mailauth.arc_verify(join(m), { resolver = r, now = t })
        local inst, what = check:match("^arc%.i(%d+)%.?(.*)$")
        inst = tonumber(inst)
        if check == "arc" then
          assert.equal(expected, whole.result, file)
        elseif what == "" then
          assert.equal("broken", expected)
          local e = whole.chain[inst]
          assert.equal(sealer, e.domain)
          assert.is_true(e.cv == "fail" or e.seal_result ~= "pass"
                         or (inst == newest and e.ams_result ~= "pass"), file .. " " .. check)
        elseif inst == newest then
          assert.equal(sealer, whole.chain[inst].domain)
          assert.equal(expected, what == "seal" and whole.chain[inst].seal_result or whole.chain[inst].ams_result)
        else
          assert.equal("seal", what)
          local p = mailauth.arc_verify(join(probe(m)), { resolver = r, now = t })
          assert.equal("pass", p.result, file .. " probe")
          assert.equal(sealer, p.chain[inst].domain)
          assert.equal(expected, p.chain[inst].seal_result, file .. " probe " .. check)
        end
        scored = scored + 1
      end
    end
    assert.equal(17, scored)
  end)

  it("AMS coverage of the Microsoft seals is reported for every set", function()
    local r = mailauth.resolver { zones = { assert(read(D .. "keys.zone")) } }
    local m = message("001")
    local _, _, t = seals(m)
    local v = mailauth.arc_verify(join(m), { resolver = r, now = t })
    for i = 1, 2 do
      local e = v.chain[i]
      assert.equal("microsoft.com", e.domain)
      -- h=From:Date:Subject:Message-ID:Content-Type:MIME-Version:X-MS-Exchange-AntiSpam-MessageData-...
      assert.same({ "from", "date", "subject", "message-id", "content-type", "mime-version",
                    "x-ms-exchange-antispam-messagedata-chunkcount",
                    "x-ms-exchange-antispam-messagedata-0", "x-ms-exchange-antispam-messagedata-1" },
                  e.ams_headers)
      assert.is_nil(e.ams_unsigned_headers)
      assert.is_nil(e.ams_body_length)
      assert.is_nil(e.ams_timestamp)   -- Microsoft's AMS has no t=
    end
    assert.equal(t, v.chain[3].ams_timestamp)   -- subspace.kernel.org writes t=
  end)
end)

local replace_aar = M365.replace_aar

-- A Microsoft-shaped AAR of exactly `len` bytes whose first `cut` bytes end
-- with "header.d=contoso.com" (the rest: ".attacker.example; arc=none").
local function long_aar(cut, len)
  local head = "i=1; mx.microsoft.com 1; spf=pass smtp.mailfrom=contoso.com; dmarc=pass\r\n"
    .. " action=none header.from=contoso.com; dkim=pass ("
  local tail1, tail2 = ") header.d=contoso.com", ".attacker.example; arc=none"
  local pad = cut - #head - #tail1
  -- the comment folded every 76 bytes (73 letters, CRLF, space)
  local chunk = ("x"):rep(73) .. "\r\n "
  local text = head .. chunk:rep(math.floor(pad / 76)) .. ("x"):rep(pad % 76) .. tail1 .. tail2
  if len > #text then
    text = text .. " (" .. ("z"):rep(len - #text - 3) .. ")"
  end
  assert.equal(len, #text)
  assert.equal("header.d=contoso.com", text:sub(cut - 19, cut))
  return text
end

describe("m365: hostile Microsoft-dialect input", function()
  it("compauth=pass reason=100 and bestguesspass are kept as written", function()
    local r = assert(authres.parse("spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=contoso.com; dkim=pass"
      .. " (signature was verified) header.d=contoso.com;dmarc=bestguesspass action=none"
      .. " header.from=contoso.com;compauth=pass reason=100", MS))
    assert.is_nil(r.authserv_id)
    assert.equal("bestguesspass", r.results[3].result)
    assert.same({ method = "compauth", result = "pass", reason = "100", properties = {} }, r.results[4])
    -- strict reads compauth the same where the field is strict (authserv-id, no action=)
    local s = assert(authres.parse("mx.microsoft.com 1; compauth=pass reason=100"))
    assert.is_true(same(s, unmarked(authres.parse("mx.microsoft.com 1; compauth=pass reason=100", MS))))
  end)

  it("header.d=contoso.com.attacker.example is read whole; 'contoso.com attacker.example' is rejected", function()
    local r = assert(authres.parse("i=1; mx.microsoft.com 1; dkim=pass header.d=contoso.com.attacker.example; arc=none", MS))
    assert.same({ "contoso.com.attacker.example" }, values(r, "dkim", "header", "d"))
    assert.is_nil((authres.parse("i=1; mx.microsoft.com 1; dkim=pass header.d=contoso.com attacker.example; arc=none", MS)))
    assert.is_nil((authres.parse("i=1; mx.microsoft.com 1; dkim=pass header.d=contoso.com(x)attacker.example", MS)))
    assert.is_nil((authres.parse("i=1; mx.microsoft.com 1; dkim=pass header.d=contoso.com,attacker.example", MS)))
  end)

  -- Two header.d in one result: both are returned, in order, never the
  -- first only.  Rejecting would break the differential: the strict grammar
  -- (RFC 8601 §2.2, resinfo = ... 1*propspec) accepts repeated properties,
  -- and the dialect must read a strictly valid field as the strict parser
  -- does; so the decision is the policy's (exchange.trust must refuse a
  -- result with more than one header.d).  Without the defence (a parser
  -- that keeps one value per ptype.property, tried by making resinfo skip
  -- a repeated header.d) this fails: values() gives { "contoso.com" }.
  it("a second header.d in one result yields both, strict and dialect alike", function()
    local text = "i=1; mx.microsoft.com 1; dmarc=pass action=none header.from=contoso.com;"
      .. " dkim=pass header.d=contoso.com header.d=attacker.example; arc=none"
    local r = assert(authres.parse(text, MS))
    assert.same({ "contoso.com", "attacker.example" }, values(r, "dkim", "header", "d"))
    local strict = "i=1; mx.microsoft.com 1; dkim=pass header.d=contoso.com header.d=attacker.example"
    local s = assert(authres.parse(strict))
    assert.is_true(same(s, unmarked(authres.parse(strict, MS))))
    assert.same({ "contoso.com", "attacker.example" }, values(s, "dkim", "header", "d"))
  end)

  -- Narrow: each case is something lenient mode or a looser dialect would
  -- take.  Without the defence (the strcmp(ptype, "action") and
  -- strcmp(method, "dmarc") tests removed from resinfo in src/authres/authres.c, so
  -- any bare name passes) the first assertion fails: "foo=bar" parses.
  it("the dialect refuses what Microsoft does not write", function()
    local bad = {
      "i=1; mx.microsoft.com 1; dkim=pass foo=bar header.d=contoso.com",         -- bare name other than action
      "i=1; mx.microsoft.com 1; dkim=pass action=none header.d=contoso.com",     -- action outside dmarc
      "i=1; dkim=pass header.d=contoso.com",                                     -- an AAR without authserv-id
      "i=1; mx.microsoft.com 1; dkim=pass header.b=ab/cd header.d=contoso.com",  -- lenient's base64 run
      "i=1; mx.microsoft.com 1;",                                                -- no result
      "spf=pass smtp.mailfrom=contoso.com; contoso.com",                         -- bare domain last
      "spf=pass smtp.mailfrom=contoso.com; contoso; dkim=pass",                  -- bare word (no dot)
      "spf=pass smtp.mailfrom=contoso.com;;",                                    -- two final ';'
      "dkim=pass header.d= header.from=contoso.com",                             -- empty value mid-result
    }
    for _, text in ipairs(bad) do
      assert.is_nil((authres.parse(text, MS)), text)
    end
    assert.has_error(function() authres.parse("x; none", { dialect = "outlook" }) end)
    assert.has_error(function() authres.parse("x; none", { dialect = "microsoft", lenient = true }) end)
  end)

  helpers.it_with_testdata("authres/mimekit-cases.yml", "MimeKit's Office 365 cases parse in the dialect as MimeKit asserts; its Office 365 errors stay errors", function()
    local lyaml = require "lyaml"
    local doc = lyaml.load(helpers.read(helpers.testdata("authres/mimekit-cases.yml")))
    local want = { ["mimekit/TestParseNoAuthServId"] = true,
                   ["mimekit/TestParseOffice365RandomDomainTokensAndAction"] = true,
                   ["mimekit/TestParseOffice365RandomDomainTokensAndEmptyPropertyValue"] = true }
    local parsed, errors = 0, 0
    for _, c in ipairs(doc.cases) do
      if want[c.id] then
        parsed = parsed + 1
        local r = assert(authres.parse(c.input, MS), c.id)
        assert.is_nil(r.authserv_id)
        assert.equal(c.result_count, #r.results)
        for k, w in ipairs(c.results) do
          local res = r.results[k]
          assert.equal(w.method, res.method)
          assert.equal(w.result, res.result)
          local props = {}
          -- MimeKit keeps Office 365's action apart; here it is ptype ""
          if w.action and w.action ~= lyaml.null then props[1] = { "", "action", w.action } end
          for _, p in ipairs(w.properties) do props[#props + 1] = { p.ptype, p.property, p.value } end
          assert.same(props, props_of(res), c.id .. " " .. w.method)
        end
      elseif c.id:find("Office365") and c.expect == "error" then
        errors = errors + 1
        assert.is_nil((authres.parse(c.input, MS)), c.id)
      end
    end
    assert.equal(3, parsed)
    assert.equal(3, errors)
  end)
end)

-- The AAR limit, through arc_verify on a real Microsoft chain (003 as
-- Exchange Online handed it over: its i=1 set only).  The seal no longer
-- verifies once the AAR is replaced; the entry is reported all the same.
describe("m365: AAR length limit in arc_verify", function()
  if not have then
    pending("../shared/testdata/m365/ absent")
    return
  end
  local r
  local function chain_entry(aar)
    r = r or mailauth.resolver { zones = { assert(read(D .. "keys.zone")) } }
    local m = replace_aar(probe(message("003")), 1, aar)
    local v = mailauth.arc_verify(join(m), { resolver = r, now = 1732180252 })
    assert.equal("fail", v.result)
    return v.chain[1]
  end

  -- Without the defence (the old AAR_TEXT_MAX 8192 with the silent cut in
  -- aar_copy, src/arc/arc_verify.c) this fails: authentication_results is the first
  -- 8192 bytes, and the dialect reads header.d=contoso.com from it.
  it("an AAR over 8192 bytes (under the limit) is reported whole; header.d is read whole", function()
    local aar = long_aar(8192, 9000)
    local e = chain_entry(aar)
    local p = assert(authres.parse(e.authentication_results, MS))
    assert.same({ "contoso.com.attacker.example" }, values(p, "dkim", "header", "d"))
    assert.is_nil(e.aar_problem)
    assert.equal(aar, e.authentication_results)
  end)

  it("an AAR of exactly 65536 bytes is reported whole", function()
    local aar = long_aar(65536 - 100, 65536)
    assert.equal(65536, #aar)
    local e = chain_entry(aar)
    assert.equal(aar, e.authentication_results)
    assert.is_nil(e.aar_problem)
  end)

  -- Without the defence (the old silent cut restored in aar_copy, src/arc/arc_verify.c)
  -- this fails: authentication_results is present, cut (at 65536 it would
  -- end "header.d=contoso.com", as long_aar places it).
  it("an AAR over 65536 bytes: aar_problem and no authentication_results", function()
    local e = chain_entry(long_aar(65536, 66000))
    assert.is_nil(e.authentication_results)
    assert.equal("ARC-Authentication-Results i=1 is over the 65536-byte limit", e.aar_problem)
    -- the AMS coverage is still reported
    assert.equal("from", e.ams_headers[1])
  end)
end)
