-- Domains in U-labels (RFC 8616 §4): SPF and DMARC look them up, and DMARC
-- aligns them, as A-labels, converted by libidn2 (UTS #46 non-transitional,
-- NFC).  "bücher.example" is "xn--bcher-kva.example" (the A-label of
-- "bücher" is RFC 3492's punycode of it, as every IDNA library gives).
--
-- On main (ceb2e1b) these fail: SPF asked TXT "bücher.example" in UTF-8
-- (result none, "no SPF record at bücher.example"), DMARC refused the From
-- domain with no lookup (permerror "no usable RFC5322.From domain"), and
-- the unconvertible name was asked as it was.  Mutation check: with
-- name_to_alabels returning the name unchanged, all five cases fail
-- (as on main).
local mailauth = require "mailauth"

local ALABEL = "xn--bcher-kva.example"
local BAD = "ex\239\191\189ample.com" -- U+FFFD: disallowed by UTS #46

local function resolver(zone, log)
  return function(name, qtype)
    log[#log + 1] = qtype .. " " .. name
    local v = zone[qtype .. " " .. name:lower()]
    if v == nil then return { rcode = "NXDOMAIN", records = {} } end
    return { rcode = "NOERROR", records = { v } }
  end
end

local ZONE = {
  ["TXT " .. ALABEL] = "v=spf1 ip4:192.0.2.1 -all",
  ["TXT mx." .. ALABEL] = "v=spf1 ip4:192.0.2.1 -all",
  ["TXT _dmarc." .. ALABEL] = "v=DMARC1; p=reject",
}

describe("IDN: U-label domains (RFC 8616 §4)", function()
  it("SPF checks a U-label MAIL FROM domain as its A-labels", function()
    local log = {}
    local r = mailauth.spf { ip = "192.0.2.1", sender = "user@bücher.example",
                             resolver = resolver(ZONE, log) }
    assert.equal("pass", r.result)
    assert.equal(ALABEL, r.domain)
    assert.same({ "TXT " .. ALABEL }, log)
  end)

  it("SPF checks a U-label HELO as its A-labels", function()
    local log = {}
    local r = mailauth.spf { ip = "192.0.2.1", helo = "mx.bücher.example", scope = "helo",
                             resolver = resolver(ZONE, log) }
    assert.equal("pass", r.result)
    assert.same({ "TXT mx." .. ALABEL }, log)
  end)

  it("DMARC looks up a U-label From domain as A-labels and aligns U- and A-label identifiers", function()
    local log = {}
    local r = mailauth.dmarc { from = "bücher.example", resolver = resolver(ZONE, log),
      spf = { result = "pass", domain = "bücher.example" },
      dkim = { { result = "pass", domain = ALABEL } } }
    assert.equal("pass", r.result)
    assert.equal(ALABEL, r.domain)
    assert.equal("reject", r.policy)
    assert.is_true(r.spf_aligned)
    assert.is_true(r.dkim_aligned)
    assert.equal("TXT _dmarc." .. ALABEL, log[1])
  end)

  it("mailauth.check passes a U-label message through SPF and DMARC", function()
    local z = assert(mailauth.resolver { zones = { "$ORIGIN " .. ALABEL .. ".\n$TTL 300\n" ..
      '@ IN TXT "v=spf1 ip4:192.0.2.1 -all"\n_dmarc IN TXT "v=DMARC1; p=reject"\n' } })
    local rep = mailauth.check("From: Joe <joe@bücher.example>\r\nSubject: x\r\n\r\nhi\r\n",
      { ip = "192.0.2.1", helo = "mx.example.net", sender = "joe@bücher.example",
        resolver = z, authserv_id = "mx.test" })
    assert.equal("pass", rep.spf.result)
    assert.equal("pass", rep.dmarc.result)
    assert.truthy(rep.authentication_results:find("header.from=" .. ALABEL, 1, true))
  end)

  it("a name that does not convert is SPF none and DMARC permerror, never asked", function()
    local log = {}
    local s = mailauth.spf { ip = "192.0.2.1", sender = "user@" .. BAD, resolver = resolver(ZONE, log) }
    assert.equal("none", s.result)
    assert.matches("A%-labels", s.problem)
    local d = mailauth.dmarc { from = BAD, resolver = resolver(ZONE, log),
                               spf = { result = "none" }, dkim = {} }
    assert.equal("permerror", d.result)
    assert.is_string(d.problem)
    assert.same({}, log)
  end)
end)
