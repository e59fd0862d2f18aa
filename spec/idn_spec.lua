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

-- The fake DNS over the zone; log gets "QTYPE name".
local fakedns = require "fakedns"
local function resolver(zone, log)
  return fakedns.new(zone, { log = log }).resolve
end

local ZONE = {
  [ALABEL] = { TXT = { "v=spf1 ip4:192.0.2.1 -all" } },
  ["mx." .. ALABEL] = { TXT = { "v=spf1 ip4:192.0.2.1 -all" } },
  ["_dmarc." .. ALABEL] = { TXT = { "v=DMARC1; p=reject" } },
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

  -- DKIM d= and i= in U-labels, signed by dkimpy (which writes them as
  -- UTF-8): the key is looked up at the A-label name, the signature passes,
  -- and d= is reported as A-labels, so DMARC aligns it with From.  On the
  -- tree before this case existed the tag parser refused the UTF-8 octets
  -- (neutral, "DKIM-Signature syntax error"); mutation check: with
  -- is_valchar refusing octets >= 0x80 again, both cases fail that way.
  describe("DKIM d= in U-labels (signed by dkimpy)", function()
    local T = require "tenant"
    local ok, why = T.available()
    if not ok then
      pending("dkimpy or openssl absent: " .. tostring(why))
      return
    end
    local fields = { "From: Jörg <joerg@bücher.example>", "To: bob@example.net",
                     "Subject: IDN", "Date: Thu, 26 Nov 2026 09:00:00 +0000",
                     "Message-ID: <1@xn--bcher-kva.example>" }
    local function signed(domain)
      return T.sign_dkimpy(T.message(fields), { domain = domain, selector = "s1", key = "idn",
                                                 headers = { "from", "to", "subject", "date" } })
    end
    local function key_zone(log)
      local z = {
        ["s1._domainkey." .. ALABEL] = { TXT = { "v=DKIM1; k=rsa; p=" .. T.key("idn").p } },
        ["_dmarc." .. ALABEL] = { TXT = { "v=DMARC1; p=reject" } },
      }
      return resolver(z, log)
    end

    it("passes, looked up and reported as A-labels, and aligns with a U-label From", function()
      local log = {}
      local message = signed("bücher.example")
      assert.truthy(message:find("d=bücher.example;", 1, true))   -- dkimpy wrote UTF-8
      local rep = mailauth.check(message, { resolver = key_zone(log), now = T.SIGNED_AT + 60,
                                            authserv_id = "mx.test" })
      assert.equal("pass", rep.dkim[1].result, rep.dkim[1].problem)
      assert.equal(ALABEL, rep.dkim[1].domain)
      assert.equal("@" .. ALABEL, rep.dkim[1].identity)
      assert.equal("pass", rep.dmarc.result)
      assert.is_true(rep.dmarc.dkim_aligned)
      local asked = {}
      for _, q in ipairs(log) do asked[q] = true end
      assert.is_true(asked["TXT s1._domainkey." .. ALABEL])
    end)

    it("a d= whose U-labels do not convert is permerror and asks nothing", function()
      local log = {}
      local message = signed("bücher.example"):gsub("d=bücher%.example;", "d=" .. BAD .. ";", 1)
      local r = mailauth.dkim_verify(message, { resolver = key_zone(log), now = T.SIGNED_AT + 60 })
      assert.equal("permerror", r[1].result)
      assert.matches("A%-labels", r[1].problem)
      for _, q in ipairs(log) do assert.is_nil(q:find("_domainkey", 1, true), q) end
    end)
  end)
end)
