-- One Authentication-Results shape (RFC 8601 §2.3, §2.7; RFC 8617 §7):
-- every result of iprev, spf, dkim_verify (each signature), dmarc and
-- arc_verify carries method and properties = { { ptype, property, value } }
-- exactly as mailauth.authres.parse returns them, and the field written
-- from them (src/authres/authres_format.c) parses back to the same
-- results.  Messages: the real Exchange Online ones of ../shared/testdata/m365
-- (DKIM, ARC, DMARC) and the dkimpy-signed demo connections of examples/
-- (iprev and SPF over their zones), the RFC 7208 suite for SPF's two
-- scopes, and RFC 8601 Appendix B's examples (as the authres-python cases
-- of ../shared/testdata/authres carry them: ids "rfc5451-B.*", the same
-- examples RFC 8601 keeps) re-formatted.
local mailauth = require "mailauth"
local helpers = require "spec.support.helpers"
local M365 = require "spec.support.m365"
local suite = require "spec.support.spf_suite"
local authres = mailauth.authres

local demo_resolver = helpers.demo_resolver

-- A property as the parser gives it: exactly ptype, property and value,
-- all strings, the keywords lower-case.
local function assert_property(p, where)
  local keys = {}
  for k in pairs(p) do keys[#keys + 1] = k end
  table.sort(keys)
  assert.same({ "property", "ptype", "value" }, keys, where)
  assert.is_string(p.value, where)
  assert.matches("^[a-z][a-z0-9%-]*$", p.ptype, 1, false, where)
  assert.matches("^[a-z][a-z0-9%-]*$", p.property, 1, false, where)
end

local function assert_shape(res, method, where)
  assert.equal(method, res.method, where)
  assert.is_table(res.properties, where)
  local n = 0
  for _ in pairs(res.properties) do n = n + 1 end
  assert.equal(#res.properties, n, where .. ": properties is a list")
  for _, p in ipairs(res.properties) do assert_property(p, where) end
end

-- The results of a report in the field's order, each with its method.
local function results_of(report)
  local out = {}
  local function add(r, method) if r and r.result then out[#out + 1] = { r = r, method = method } end end
  add(report.iprev, "iprev")
  add(report.spf, "spf")
  add(report.spf_helo, "spf")
  for _, d in ipairs(report.dkim or {}) do add(d, "dkim") end
  add(report.dmarc, "dmarc")
  add(report.arc, "arc")
  return out
end

-- The shape, and the round trip: parse(field) gives each result's method,
-- result, reason (its problem unless a pass; control bytes as spaces) and
-- properties back, the same tables.
local function assert_report(report, where)
  local list = results_of(report)
  local parsed = assert(authres.parse(report.authentication_results), where)
  local k = 0
  for _, e in ipairs(list) do
    assert_shape(e.r, e.method, where)
  end
  if #report.dkim == 0 then
    k = 1 -- dkim=none comes from no result at all
  end
  assert.equal(#list + k, #parsed.results, where)
  local i = 0
  for _, back in ipairs(parsed.results) do
    if back.method == "dkim" and back.result == "none" and #report.dkim == 0 then
      assert.same({}, back.properties)
    else
      i = i + 1
      local e = list[i]
      assert.equal(e.method, back.method, where)
      assert.equal(e.r.result, back.result, where)
      assert.same(e.r.properties, back.properties, where)
      local reason = e.r.result ~= "pass" and e.r.problem or nil
      assert.equal(reason and (reason:gsub("[%z\1-\31\127]", " ")), back.reason, where)
    end
  end
  return list
end

describe("one Authentication-Results shape", function()
  local seen = {}

  describe("the demo connections (examples/: iprev, SPF, DKIM, DMARC)", function()
    local r = demo_resolver()
    local demo = dofile("examples/demo.lua")
    for i, c in ipairs(demo.connections) do
      it(("%d: %s"):format(i, c.title), function()
        local rep = mailauth.check(helpers.read("examples/" .. c.message), {
          ip = c.ip, helo = c.helo, sender = c.sender, resolver = r,
          authserv_id = demo.authserv_id, now = demo.now })
        for _, e in ipairs(assert_report(rep, c.title)) do seen[e.method] = true end
        -- RFC 8601 §2.7.2, §2.7.3: the identity checked and the address
        if rep.iprev then
          assert.same({ { ptype = "policy", property = "iprev", value = rep.iprev.ip } },
                      rep.iprev.properties)
        end
        if rep.spf then
          local want = c.sender ~= "" and c.sender or ("postmaster@" .. c.helo)
          assert.same({ { ptype = "smtp", property = "mailfrom", value = want } }, rep.spf.properties)
        end
        if rep.spf_helo then
          assert.same({ { ptype = "smtp", property = "helo", value = c.helo } }, rep.spf_helo.properties)
        end
      end)
    end
  end)

  describe("the Exchange Online messages (../shared/testdata/m365: DKIM, ARC, DMARC)", function()
    if not M365.have then
      pending("../shared/testdata/m365/ absent: skipped")
      return
    end
    local resolver = M365.resolver()
    for _, n in ipairs { "001", "002", "003", "004", "005" } do
      it(n, function()
        local stored = M365.message(n)
        local _, _, now = M365.seals(stored)
        local rep = mailauth.check(M365.join(stored), { resolver = resolver, now = now,
                                                        authserv_id = "mx.test.invalid" })
        assert.is_true(#rep.dkim > 0, n)
        for _, e in ipairs(assert_report(rep, n)) do seen[e.method] = true end
        -- RFC 8601 §2.7.1: each signature's header.d, .i, .s, .a, .b
        for _, d in ipairs(rep.dkim) do
          assert.equal("d", d.properties[1].property)
          assert.equal(d.domain, d.properties[1].value)
          assert.equal(d.selector, d.properties[3].value)
          assert.equal(d.b, d.properties[5].value)
        end
        -- RFC 8617 §7.2: header.oldest-pass, when the chain passes
        if rep.arc.result == "pass" then
          assert.same({ { ptype = "header", property = "oldest-pass",
                          value = tostring(math.floor(rep.arc.oldest_pass)) } }, rep.arc.properties)
        end
        assert.same({ { ptype = "header", property = "from", value = rep.dmarc.domain } },
                    rep.dmarc.properties)
      end)
    end
  end)

  it("covered every method (iprev, spf, dkim, dmarc, arc)", function()
    if not M365.have then return pending("../shared/testdata/m365/ absent") end
    assert.same({ arc = true, dkim = true, dmarc = true, iprev = true, spf = true }, seen)
  end)

  -- Received-SPF names the identity the property holds (RFC 7208 §9.1).
  describe("SPF over the RFC 7208 suite, both scopes", function()
    local path = helpers.testdata("spf/rfc7208-tests.yml")
    if not path then
      pending("../shared/testdata/spf/rfc7208-tests.yml absent: skipped")
      return
    end
    it("carries one smtp property and writes it in both fields", function()
      local n = 0
      for _, c in ipairs(suite.cases(suite.load(path))) do
        local t = c.test
        for _, scope in ipairs { "mfrom", "helo" } do
          local ok, r = pcall(mailauth.spf, { ip = t.host, sender = t.mailfrom, helo = t.helo,
                                              scope = scope, resolver = suite.resolver(c.zone),
                                              now = 1700000000 })
          if ok and r.result then
            n = n + 1
            assert_shape(r, "spf", c.name)
            local h = authres.format({ spf = r }, "mx.example")
            local back = assert(authres.parse(h), h)
            assert.same(r.properties, back.results[1].properties, c.name)
            assert.is_string(r.received_spf, c.name)
            assert.equal(mailauth.spf_received(r), r.received_spf, c.name)
            local id = r.properties[1] and r.properties[1].value
            if id and not id:find("[%c()\\]") and (r.result == "pass" or r.result == "fail") then
              assert.truthy(r.received_spf:find("domain of " .. id, 1, true), r.received_spf)
            end
          end
        end
      end
      assert.is_true(n > 100, n)
    end)
  end)
end)

describe("RFC 8601 Appendix B re-formatted", function()
  local FIX = helpers.skip_without_testdata("authres/")
  if not FIX then return end
  local lyaml = require "lyaml"
  local doc = lyaml.load(helpers.read(FIX .. "authres-python-cases.yml"))
  it("parse(format(parse(example))) is parse(example), folded or not", function()
    local n = 0
    for _, c in ipairs(doc.cases) do
      if c.id:find("rfc5451%-B") then
        n = n + 1
        local r = assert(authres.parse(c.input), c.id)
        for _, fold in ipairs { true, false } do
          local h = authres.format(r, nil, { fold = fold })
          assert.same(r, assert(authres.parse(h), h), c.id)
        end
      end
    end
    assert.equal(6, n)
  end)
end)
