-- Authentication-Results (RFC 8601): the parser against the cases of MimeKit,
-- Mail::AuthenticationResults, authres (Python) and go-msgauth
-- (../shared/testdata/authres/SOURCES.md), the formatter's round trip, and
-- python3-authres reading back every header mailauth writes.

local mailauth = require "mailauth"
local lyaml = require "lyaml"
local authres = mailauth.authres
local helpers = require "spec.support.helpers"

local FIX = helpers.skip_without_testdata("authres/")
if not FIX then return end
local FILES = { "mimekit", "mail-authenticationresults", "authres-python", "go-msgauth" }

local read = helpers.read

local function null(v) return v == nil or v == lyaml.null end

-- Cases the Python authres package accepts although they are outside the
-- RFC 8601 grammar (its doctest has no note for them): scored as lenient.
local LENIENT_EXTRA = {
  ["authres/unknown-method-properties-without-ptype"] = "properties without a ptype (version=TLSv1.2)",
  ["authres/multi-result-real-world"] = "unquoted '/' in header.b=Qgi/FoC0 is not an RFC 2045 token",
}

-- The suites disagree on a few inputs; lenient mode cannot please both sides.
-- Error cases lenient mode accepts (each the twin of a quirk another suite
-- wants parsed), and the one lenient-parse case it still rejects.
local LENIENT_ACCEPTS_ERROR = {
  ["mimekit/TestParseFailureInvalidVersion"] = "same shape as Mail::AR bogus/good-2 ('id foo')",
  ["mimekit/TestParseFailureInvalidTokenAfterVersion"] = "same shape as Mail::AR bogus/good-2",
  ["mail-ar/02-parser/empty"] = "go-msgauth parseTests/1 wants '' parsed",
  ["authres/authserv-id-repeated-per-result"] = "Office 365 form MimeKit's Office365 cases want parsed",
}
local LENIENT_REJECTS_PARSE = {
  ["mail-ar/03-bogus/good-3"] = "'foo = ' at the end is MimeKit's TestParseFailureIncompleteMethod",
}

local cases = {}
for _, file in ipairs(FILES) do
  local doc = lyaml.load(read(FIX .. file .. "-cases.yml"))
  for _, c in ipairs(doc.cases) do
    c.input = c.input:gsub("\r?\n", "\r\n")   -- folding is CRLF in mail
    c.lenient = c.rfc8601_note ~= nil or LENIENT_EXTRA[c.id] ~= nil
    cases[#cases + 1] = c
  end
end

local function find_property(res, ptype, property)
  for _, p in ipairs(res.properties) do
    if (p.ptype or "") == (ptype or "") and p.property == property then return p end
  end
end

-- Checks a parse result against the values a case asserts.
local function check_values(c, r)
  if not null(c.authserv_id) then assert.equal(c.authserv_id, r.authserv_id) end
  if not null(c.version) then assert.equal(c.version, r.version) end
  if not null(c.instance) then assert.equal(c.instance, r.instance) end
  if not null(c.result_count) then assert.equal(c.result_count, #r.results) end
  for i, want in ipairs(c.results or {}) do
    local got = r.results[i]
    if next(want) ~= nil then
      assert.is_table(got, "result " .. i)
      if want.method then assert.equal(want.method:lower(), got.method) end
      if want.result then assert.equal(want.result:lower(), got.result) end
      if not null(want.method_version) then assert.equal(want.method_version, got.method_version) end
      if want.reason ~= nil then
        if null(want.reason) then assert.is_nil(got.reason) else assert.equal(want.reason, got.reason) end
      end
      if want.result_comment ~= nil then
        if null(want.result_comment) then assert.is_nil(got.comment)
        else assert.equal(want.result_comment, got.comment) end
      end
      if not null(want.action) then
        -- Office 365 "action=none": a property without ptype here
        assert.equal(want.action, find_property(got, nil, "action").value)
      end
      if want.properties then
        local props = {}
        for _, p in ipairs(got.properties) do
          if not (p.ptype == nil and p.property == "action" and want.action) then props[#props + 1] = p end
        end
        -- the Python doctest looked at the first properties only
        if not c.id:find("^authres/") then
          assert.equal(#want.properties, #props, "property count of result " .. i)
        end
        for k, wp in ipairs(want.properties) do
          assert.equal(wp.ptype:lower(), props[k].ptype)
          assert.equal(wp.property:lower(), props[k].property)
          assert.equal(wp.value, props[k].value)
        end
      end
      if not null(want.property_count) then assert.equal(want.property_count, #got.properties) end
    end
  end
  for _, want in ipairs(c.contains or {}) do
    local found = false
    for _, got in ipairs(r.results) do
      if got.method == want.method:lower() and got.result == want.result:lower() then
        if not want.property then found = true; break end
        local p = find_property(got, want.property.ptype:lower(), want.property.property:lower())
        if p and p.value == want.property.value then found = true; break end
      end
    end
    assert.is_true(found, ("contains %s=%s"):format(want.method, want.result))
  end
end

local counts = { strict_parse = 0, strict_reject = 0, lenient_parse = 0 }

describe("authres.parse: RFC 8601 cases (strict)", function()
  for _, c in ipairs(cases) do
    if c.expect == "error" then
      counts.strict_reject = counts.strict_reject + 1
      it("rejects " .. c.id, function()
        local r, why = authres.parse(c.input)
        assert.is_nil(r)
        assert.is_string(why)
        -- lenient mode rejects them too, except the listed twins of quirks
        if not LENIENT_ACCEPTS_ERROR[c.id] then
          assert.is_nil((authres.parse(c.input, { lenient = true })))
        end
      end)
    elseif not c.lenient then
      counts.strict_parse = counts.strict_parse + 1
      it("parses " .. c.id, function()
        local r, why = authres.parse(c.input)
        assert.is_table(r, why)
        check_values(c, r)
      end)
    end
  end
  it("covers every case", function()
    assert.equal(#cases, counts.strict_parse + counts.strict_reject
      + (function() local n = 0 for _, c in ipairs(cases) do if c.expect == "parse" and c.lenient then n = n + 1 end end return n end)())
  end)
end)

describe("authres.parse: real-world quirks outside RFC 8601 (lenient = true)", function()
  for _, c in ipairs(cases) do
    if c.expect == "parse" and c.lenient and LENIENT_REJECTS_PARSE[c.id] then
      it("rejects (explained) " .. c.id, function()
        assert.is_nil((authres.parse(c.input, { lenient = true })))
      end)
    elseif c.expect == "parse" and c.lenient then
      counts.lenient_parse = counts.lenient_parse + 1
      it("parses " .. c.id, function()
        local r, why = authres.parse(c.input, { lenient = true })
        assert.is_table(r, why)
        check_values(c, r)
      end)
    end
  end
end)

describe("authres.parse details", function()
  it("takes the header with its field name, and ARC's instance", function()
    local r = assert(authres.parse("Authentication-Results: example.com; spf=pass smtp.mailfrom=example.net\r\n"))
    assert.equal("example.com", r.authserv_id)
    r = assert(authres.parse("ARC-Authentication-Results: i=2; example.com; dkim=pass header.d=example.net"))
    assert.equal(2, r.instance)
  end)
  it("gives result = 'none' and no results for 'none'", function()
    local r = assert(authres.parse("example.org 1; none"))
    assert.equal("none", r.result)
    assert.equal(1, r.version)
    assert.same({}, r.results)
  end)
  it("rejects 'none' mixed with results", function()
    assert.is_nil(authres.parse("example.org; none; spf=pass smtp.mailfrom=a.example"))
  end)
  it("reads quoted values with quoted-pairs and nested comments", function()
    local r = assert(authres.parse('example.com (a (nested (comment))); dkim=pass (good \\) sig) reason="a \\"b\\"" header.i="x y"@example.com'))
    assert.equal('a "b"', r.results[1].reason)
    assert.equal("good ) sig", r.results[1].comment)
    assert.equal('"x y"@example.com', r.results[1].properties[1].value)
  end)
  it("raises on a non-string", function()
    assert.has_error(function() authres.parse(nil) end)
  end)
end)

describe("authres hostile input", function()
  local function bounded(text, lenient)
    local t0 = os.clock()
    local r, why = authres.parse(text, { lenient = lenient })
    assert.is_true(os.clock() - t0 < 2)
    return r, why
  end
  it("refuses a huge header", function()
    local r, why = bounded("example.com; " .. ("spf=pass smtp.mailfrom=a.example; "):rep(3000))
    assert.is_nil(r)
    assert.matches("longer", why)
  end)
  it("bounds the number of results and properties", function()
    assert.is_nil(bounded("example.com" .. ("; a=b"):rep(300)))
    assert.is_nil(bounded("example.com; a=b" .. (" x.y=z"):rep(100)))
  end)
  it("handles deep comment nesting without recursion", function()
    local deep = ("("):rep(20000) .. (")"):rep(20000)
    assert.is_table(bounded("example.com " .. deep .. "; none"))
    assert.is_nil(bounded("example.com " .. ("("):rep(30000) .. "; none"))
  end)
  it("rejects unterminated quotes and comments, in both modes", function()
    for _, lenient in ipairs{ false, true } do
      assert.is_nil(bounded('example.com; dkim=pass header.i="abc', lenient))
      assert.is_nil(bounded('"example.com; none', lenient))
      assert.is_nil(bounded("example.com; dkim=pass (unterminated", lenient))
      assert.is_nil(bounded("example.com; dkim=pass (x \\", lenient))
    end
  end)
  it("rejects NUL bytes", function()
    local r, why = bounded("example.com; spf=pass\0 smtp.mailfrom=a.example")
    assert.is_nil(r)
    assert.matches("NUL", why)
  end)
  it("survives random bytes", function()
    local seed = 7
    local function rnd(n) seed = (seed * 1103515245 + 12345) % 2147483648 return seed % n end
    local alphabet = 'abc.=;()"\\ @/-_\r\n\t1x'
    for _ = 1, 2000 do
      local t = {}
      for k = 1, rnd(60) do local i = rnd(#alphabet) + 1 t[k] = alphabet:sub(i, i) end
      local s = table.concat(t)
      bounded(s)
      bounded(s, true)
    end
  end)
end)

-- ---- formatting ----

local function strip_name(h) return (h:gsub("^[%w%-]+:%s*", "")) end

describe("authres.format", function()
  it("reproduces go-msgauth's formatting vectors", function()
    local n = 0
    for _, c in ipairs(cases) do
      if c.round_trip then
        n = n + 1
        local r = assert(authres.parse(c.input))
        local out = strip_name(authres.format(r, nil, { fold = false }))
        assert.equal((c.input:gsub("%s+$", "")), out, c.id)
      end
    end
    assert.equal(9, n)
  end)

  it("round-trips every parsed case: parse(format(parse(h))) == parse(h)", function()
    for _, c in ipairs(cases) do
      if c.expect == "parse" then
        local opts = { lenient = c.lenient }
        local r = authres.parse(c.input, opts)
        -- an empty result ("one=;", lenient only) has no RFC 8601 form
        local representable = r and r.authserv_id and r.authserv_id ~= ""
        for _, res in ipairs(r and r.results or {}) do
          if res.result == "" then representable = false end
        end
        if representable then
          for _, fold in ipairs{ true, false } do
            local h = authres.format(r, nil, { fold = fold })
            local back, why = authres.parse(h, opts)
            assert.is_table(back, c.id .. ": " .. tostring(why) .. " in " .. h)
            assert.same(r, back, c.id)
          end
        end
      end
    end
  end)

  -- results in the shape the checks give them (method and properties)
  local function props(ptype, list)
    local out = {}
    for i = 1, #list, 2 do out[#out + 1] = { ptype = ptype, property = list[i], value = list[i + 1] } end
    return out
  end
  it("writes mailauth results with quoting where needed", function()
    local h = authres.format({
      iprev = { method = "iprev", result = "pass", ip = "2001:db8::25", name = "mail.example.com",
                properties = props("policy", { "iprev", "2001:db8::25" }) },
      spf = { method = "spf", result = "pass", scope = "mfrom", domain = "example.com",
              sender = "alice@example.com", properties = props("smtp", { "mailfrom", "alice@example.com" }) },
      dkim = { { method = "dkim", result = "pass", domain = "example.com", identity = "@example.com",
                 selector = "sel", algorithm = "rsa-sha256", b = "a+b/c=d8",
                 properties = props("header", { "d", "example.com", "i", "@example.com", "s", "sel",
                                                "a", "rsa-sha256", "b", "a+b/c=d8" }) },
               { method = "dkim", result = "fail", domain = "example.net", selector = "s2",
                 problem = "body hash did not verify",
                 properties = props("header", { "d", "example.net", "s", "s2" }) } },
      dmarc = { method = "dmarc", result = "pass", domain = "example.com", policy = "reject",
                disposition = "none", properties = props("header", { "from", "example.com" }) },
      arc = { method = "arc", result = "pass", oldest_pass = 0, properties = props("header", { "oldest-pass", "0" }) },
    }, "mx.example.org")
    local r = assert(authres.parse(h))
    assert.equal("mx.example.org", r.authserv_id)
    local methods = {}
    for i, res in ipairs(r.results) do methods[i] = res.method .. "=" .. res.result end
    assert.same({ "iprev=pass", "spf=pass", "dkim=pass", "dkim=fail", "dmarc=pass", "arc=pass" }, methods)
    assert.equal("2001:db8::25", r.results[1].properties[1].value)
    assert.matches('policy%.iprev="2001:db8::25"', h)
    assert.matches('header%.b="a%+b/c=d8"', h)
    assert.equal("body hash did not verify", r.results[4].reason)
    assert.equal("header", r.results[5].properties[1].ptype)
    assert.equal("from", r.results[5].properties[1].property)
  end)

  it("never lets a value break the header", function()
    local h = authres.format({ spf = { method = "spf", result = "fail", domain = "example.com",
      problem = "bad\r\nX-Injected: yes",
      properties = { { ptype = "smtp", property = "mailfrom", value = "a@b.example\r\nX-Injected: yes" } } } },
      "mx.example.org")
    assert.is_nil(h:find("\r\nX%-Injected"))
    assert.is_table(authres.parse(h))
  end)

  it("writes 'none' for an empty report", function()
    assert.equal("Authentication-Results: mx.example.org; none", authres.format({}, "mx.example.org"))
  end)

  it("raises on misuse", function()
    assert.has_error(function() authres.format(nil, "x") end)
    assert.has_error(function() authres.format({}, nil) end)
    assert.has_error(function() authres.format({ results = { { method = "a b", result = "pass" } } }, "x") end)
  end)
end)

-- python3-authres (Debian, /usr/bin/python3 only) reads back what we write.
describe("authres.format vs python3-authres", function()
  local cjson_ok, cjson = pcall(require, "cjson")
  local has_python = os.execute("/usr/bin/python3 -c 'import authres' >/dev/null 2>&1")
  has_python = has_python == true or has_python == 0
  local run_it = (cjson_ok and has_python) and it or pending
  -- Known python3-authres 1.2.0 limits, where only method and result are compared.
  local PY_DROPS_PROPS = {
    ["mimekit/TestParseSimpleWithQuotedPropertyValue"] = "drops a quoted value holding ';'",
    ["mimekit/TestParseMethodWithMultipleProperties"] = "keeps only smtp.* properties of spf",
  }

  run_it("parses every header mailauth formats to the same results", function()
    local headers, ours = {}, {}
    for _, c in ipairs(cases) do
      if c.expect == "parse" and not c.lenient then
        local r = assert(authres.parse(c.input))
        if r.authserv_id ~= "" then
          headers[#headers + 1] = authres.format(r)
          ours[#ours + 1] = r
          r.py_partial = PY_DROPS_PROPS[c.id]
        end
      end
    end
    local function props(ptype, list)
      local out = {}
      for i = 1, #list, 2 do out[#out + 1] = { ptype = ptype, property = list[i], value = list[i + 1] } end
      return out
    end
    local report = authres.format({
      iprev = { method = "iprev", result = "pass", ip = "192.0.2.25",
                properties = props("policy", { "iprev", "192.0.2.25" }) },
      spf = { method = "spf", result = "softfail", scope = "helo", domain = "mx.example.com",
              properties = props("smtp", { "helo", "mx.example.com" }) },
      dkim = { { method = "dkim", result = "pass", domain = "example.com", identity = "user@example.com",
                 selector = "s", algorithm = "ed25519-sha256", b = "Qgi/FoC0",
                 properties = props("header", { "d", "example.com", "i", "user@example.com", "s", "s",
                                                "a", "ed25519-sha256", "b", "Qgi/FoC0" }) } },
      dmarc = { method = "dmarc", result = "fail", domain = "example.com", policy = "quarantine",
                disposition = "none", problem = "no aligned identifier",
                properties = props("header", { "from", "example.com" }) },
      arc = { method = "arc", result = "none", properties = {} },
    }, "mx.example.org")
    headers[#headers + 1] = report
    ours[#ours + 1] = assert(authres.parse(report))

    local tmp = os.tmpname()
    local f = assert(io.open(tmp, "wb"))
    f:write(cjson.encode(headers))
    f:close()
    local py = [[
import json, sys, authres
out = []
for h in json.load(open(sys.argv[1])):
    a = authres.AuthenticationResultsHeader.parse(h)
    out.append({"id": a.authserv_id, "results": [
        {"method": r.method, "result": r.result, "reason": r.reason,
         "props": [[p.type, p.name, p.value] for p in r.properties]} for r in a.results]})
print(json.dumps(out))
]]
    local p = assert(io.popen("/usr/bin/python3 -c '" .. py:gsub("'", "'\\''") .. "' " .. tmp, "r"))
    local text = p:read("*a")
    p:close()
    os.remove(tmp)
    local theirs = cjson.decode(text)
    assert.equal(#ours, #theirs)
    for i, r in ipairs(ours) do
      local t = theirs[i]
      assert.equal(r.authserv_id, t.id, headers[i])
      assert.equal(#r.results, #t.results, headers[i])
      for k, res in ipairs(r.results) do
        local tr = t.results[k]
        assert.equal(res.method, tr.method:lower())
        assert.equal(res.result, tr.result:lower())
        assert.equal(res.reason, tr.reason ~= cjson.null and tr.reason or nil)
        if r.py_partial then break end
        assert.equal(#res.properties, #tr.props, headers[i])
        for j, prop in ipairs(res.properties) do
          assert.same({ prop.ptype, prop.property, prop.value }, tr.props[j])
        end
      end
    end
  end)
end)

-- The header's bounds.  On main (ceb2e1b) format wrote every result: 990
-- DKIM signatures made a 152 KB header (the first two cases fail there, on
-- M.MAX_BYTES missing and on the size).  Mutation check: with choose()
-- (src/authres/authres_format.c) keeping every result, the first two
-- cases fail on #h (118732 and 11917 bytes).
describe("authres.format bounds", function()
  local function signatures(n, pass_at)
    local list = {}
    for i = 1, n do
      list[i] = { method = "dkim", result = i == pass_at and "pass" or "fail",
                  problem = "signature did not verify",
                  properties = { { ptype = "header", property = "d", value = ("d%d.example"):format(i) },
                                 { ptype = "header", property = "s", value = "sel" },
                                 { ptype = "header", property = "a", value = "rsa-sha256" },
                                 { ptype = "header", property = "b", value = ("b%07d"):format(i) } } }
    end
    return list
  end

  it("writes at most 16 DKIM results, passes first, and counts the rest", function()
    local h = authres.format({ dkim = signatures(990, 700),
      spf = { method = "spf", result = "pass", domain = "example.com", sender = "a@example.com",
              properties = { { ptype = "smtp", property = "mailfrom", value = "a@example.com" } } } },
      "mx.example")
    assert.is_true(#h < authres.MAX_BYTES + 200, #h)
    assert.truthy(h:find("header.d=d700.example", 1, true)) -- the pass survived
    assert.truthy(h:find("(974 more dkim results not shown)", 1, true))
    local p = assert(authres.parse(h))
    local n = 0
    for _, r in ipairs(p.results) do if r.method == "dkim" then n = n + 1 end end
    assert.equal(16, n)
    assert.equal("spf", p.results[1].method)
  end)

  it("keeps the byte bound when the results are long, and says what it left out", function()
    local dkim = signatures(12)
    for _, d in ipairs(dkim) do d.problem = ("x"):rep(900) end
    local h = authres.format({ dkim = dkim }, "mx.example", { fold = false, max_bytes = 4000 })
    assert.is_true(#h < 4100, #h)
    local shown = select(2, h:gsub("dkim=fail", ""))
    assert.truthy(h:find(("(%d more dkim results not shown)"):format(12 - shown), 1, true))
    assert.truthy(authres.parse(h))
  end)

  it("changes nothing under the bounds", function()
    local r = { dkim = signatures(3, 2) }
    local h = authres.format(r, "mx.example")
    assert.falsy(h:find("not shown", 1, true))
    assert.equal(3, #assert(authres.parse(h)).results)
  end)
end)
