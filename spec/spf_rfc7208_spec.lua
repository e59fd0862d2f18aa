-- The OpenSPF conformance suites run through the public API: mailauth.spf
-- with a Lua-function resolver serving each scenario's zonedata.
--   ../shared/testdata/spf/rfc7208-tests.yml  every test, none skipped
--   ../shared/testdata/spf/rfc4408-tests.yml  every test; where RFC 7208
--                                             changed the answer, the RFC 7208 answer
-- Explanations are compared without regard to case: the suite writes
-- IPv6 nibbles of %{ir} in upper case (v-macro-ip6) while the client
-- address is written "CAFE:BABE::1" and %{c} is RFC 5952 lower case; pyspf's
-- driver compares the same way.
local mailauth = require "mailauth"
local suite = require "spf_suite"
local helpers = require "spec.support.helpers"

local NOW = 1700000000
local DIR = helpers.skip_without_testdata("spf/")
if not DIR then return end

local function run_case(c)
  local t = c.test
  return mailauth.spf{
    ip = t.host,
    sender = t.mailfrom or "",
    helo = t.helo,
    resolver = suite.resolver(c.zone),
    -- the suite's "DEFAULT" stands for the local-policy explanation
    default_explanation = "DEFAULT",
    now = NOW,
  }
end

local function check(c, expect)
  local r = run_case(c)
  assert.is_table(r)
  if not suite.accepts(expect, r.result) then
    error(("%s: want %s, got %s (%s)"):format(c.name, table.concat(expect, " or "),
          tostring(r.result), tostring(r.problem)), 0)
  end
  if c.test.explanation ~= nil then
    assert.are.equal(tostring(c.test.explanation):lower(),
                     tostring(r.explanation):lower())
  end
  assert.is_number(r.lookups)
  assert.is_number(r.void_lookups)
end

describe("SPF RFC 7208 conformance suite (OpenSPF 2014.04 + 2019.08)", function()
  local cases = suite.cases(suite.load(DIR .. "rfc7208-tests.yml"))

  it("has all 203 tests", function()
    assert.are.equal(203, #cases)
  end)

  for _, c in ipairs(cases) do
    it(c.scenario .. ": " .. c.name, function() check(c, c.expect) end)
  end
end)

-- Tests of the RFC 4408 suite whose accepted results RFC 7208 narrowed:
-- name -> { the RFC 7208 result(s), why }.  These run with the RFC 7208 answer.
local CHANGED = {
  spfonly = { { "none" }, "§3.1/§14.1: type SPF (99) is no longer looked up; only TXT counts" },
  txtonly = { { "fail" }, "§3.1: TXT is the only record type; 4408 allowed none from a type-SPF-only check" },
  spfoverride = { { "fail" }, "§3.1: the TXT record is authoritative; type SPF is ignored" },
  multispf2 = { { "pass" }, "§3.1: two type-SPF records no longer matter, the single TXT record is used" },
  multitxt1 = { { "permerror" }, "§4.5: two v=spf1 TXT records are a permerror (4408 could fall back to type SPF)" },
  spftimeout = { { "fail" }, "§3.1: the type-SPF query that timed out is never asked" },
  txttimeout = { { "temperror" }, "§4.4: a TXT timeout is temperror (4408 allowed using type SPF instead)" },
  nospftxttimeout = { { "temperror" }, "§4.4: a TXT timeout is temperror, never none" },
  ["cidr6-ip4"] = { { "neutral" }, "§5.6: ip6 CIDR never matches an IPv4 client, even ::/0" },
  ["cidr6-0-ip4"] = { { "neutral" }, "§5.6: an IPv4 client is checked only against IPv4 networks" },
  ["exists-dnserr"] = { { "temperror" }, "§5/§4.6.4: a DNS error during exists is temperror" },
  ["mx-limit"] = { { "permerror" }, "§4.6.4: more than 10 MX records is now a permerror" },
  ["invalid-domain-long"] = { { "fail", "permerror" }, "same set in both suites (list order only)" },
  ["invalid-domain-long-via-macro"] = { { "fail", "permerror" }, "same set in both suites (list order only)" },
  ["invalid-domain-empty-label"] = { { "fail", "permerror" }, "same set in both suites (list order only)" },
}

describe("SPF RFC 4408 conformance suite (legacy, RFC 7208 answers where changed)", function()
  local cases = suite.cases(suite.load(DIR .. "rfc4408-tests.yml"))

  it("has all 191 tests", function()
    assert.are.equal(191, #cases)
  end)

  for _, c in ipairs(cases) do
    local changed = CHANGED[c.name]
    if changed then
      it(c.scenario .. ": " .. c.name .. " (RFC 7208: " .. changed[2] .. ")", function()
        -- the RFC 7208 answer must be one RFC 4408 also accepted
        for _, r in ipairs(changed[1]) do assert.is_true(suite.accepts(c.expect, r)) end
        check(c, changed[1])
      end)
    else
      it(c.scenario .. ": " .. c.name, function() check(c, c.expect) end)
    end
  end
end)
