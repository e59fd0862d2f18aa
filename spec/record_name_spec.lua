-- The names DKIM, ARC and DMARC ask for, joined one way (src/core/util.c
-- record_name): <selector>._domainkey.<d> (RFC 6376 §3.6.2.1) and
-- _dmarc.<domain> (RFC 7489 §6.1, RFC 9989 §4.10).  A name is at most 253
-- octets of text (255 on the wire, RFC 1035 §2.3.4): one of 253 is asked,
-- one of 254 is never asked, nor asked cut short; it is a defined outcome.
local mailauth = require "mailauth"
local fakedns = require "fakedns"

local NOW = 1700000000
local L63 = ("a"):rep(63)
local SEL = L63 .. "." .. L63 .. "." .. L63 -- 191 octets, a valid selector
local BH = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

-- A domain of n octets ending in .com.
local function dom(n) return ("x"):rep(n - 4) .. ".com" end

local function asked(dns, qtype)
  local out = {}
  for _, e in ipairs(dns.log) do
    local t, name = e:match("^(%S+) (.*)$")
    if t == qtype then out[#out + 1] = name end
  end
  return out
end

describe("DKIM key names (<s>._domainkey.<d>)", function()
  local function verify(d)
    local msg = "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=" .. d .. "; s=" .. SEL ..
      "; h=from; bh=" .. BH .. "; b=AAAA\r\nFrom: a@" .. d .. "\r\nSubject: x\r\n\r\nbody\r\n"
    local dns = fakedns.new({})
    return mailauth.dkim_verify(msg, { resolver = dns.resolve, now = NOW })[1], dns
  end
  it("one of 253 octets is asked as it is", function()
    local r, dns = verify(dom(50)) -- 191 + #"._domainkey." + 50 = 253
    assert.are.same({ SEL .. "._domainkey." .. dom(50) }, asked(dns, "TXT"))
    assert.are.equal("key_missing", r.code)
  end)
  it("one of 254 is not asked: permerror key_name_invalid, saying why", function()
    local r, dns = verify(dom(51))
    assert.are.same({}, asked(dns, "TXT"))
    assert.are.equal("permerror", r.result)
    assert.are.equal("key_name_invalid", r.code)
    assert.are.equal("key name <s>._domainkey.<d> is over 253 octets (RFC 1035 §2.3.4)", r.problem)
  end)
end)

describe("ARC key names (<s>._domainkey.<d>)", function()
  local function verify(d)
    local tags = "; d=" .. d .. "; s=" .. SEL .. "; t=" .. NOW
    local msg = "ARC-Seal: i=1; a=rsa-sha256; cv=none" .. tags .. "; b=AAAA\r\n" ..
      "ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed" .. tags ..
      "; h=from; bh=" .. BH .. "; b=AAAA\r\n" ..
      "ARC-Authentication-Results: i=1; mx.example; none\r\n" ..
      "From: a@" .. d .. "\r\nSubject: x\r\n\r\nbody\r\n"
    local dns = fakedns.new({})
    return mailauth.arc_verify(msg, { resolver = dns.resolve, now = NOW }), dns
  end
  it("one of 253 octets is asked once for the seal and the signature", function()
    local r, dns = verify(dom(50))
    assert.are.same({ SEL .. "._domainkey." .. dom(50) }, asked(dns, "TXT"))
    assert.are.equal("key_missing", r.chain[1].seal_code)
  end)
  it("one of 254 is not asked: both permerror key_name_invalid, the chain fails", function()
    local r, dns = verify(dom(51))
    assert.are.same({}, asked(dns, "TXT"))
    assert.are.equal("fail", r.result)
    for _, k in ipairs { "seal", "ams" } do
      assert.are.equal("permerror", r.chain[1][k .. "_result"])
      assert.are.equal("key_name_invalid", r.chain[1][k .. "_code"])
      assert.are.equal("key name <s>._domainkey.<d> is over 253 octets (RFC 1035 §2.3.4)",
                       r.chain[1][k .. "_problem"])
    end
  end)
end)

describe("DMARC record names (_dmarc.<domain>)", function()
  -- a From domain of n octets: three 63-octet labels, then <y...>.com
  local function from(n) return SEL .. "." .. ("y"):rep(n - 196) .. ".com" end
  local function org(n) return ("y"):rep(n - 196) .. ".com" end
  local function check(n, mode)
    -- a resolver that answers even a name no DNS can hold: only not
    -- asking it keeps its record out
    local dns = fakedns.new({
      ["_dmarc." .. from(n)] = { TXT = { "v=DMARC1; p=none" } },
      ["_dmarc." .. org(n)] = { TXT = { "v=DMARC1; p=reject" } },
    })
    local r = mailauth.dmarc { from = from(n), resolver = dns.resolve, org_domain = mode,
                               spf = { result = "fail", domain = "x.example.net" } }
    return r, dns
  end
  for _, mode in ipairs { "psl", "tree" } do
    it(mode .. ": _dmarc.<From> of 253 octets is asked and its record applies", function()
      local r, dns = check(246, mode)
      assert.are.equal(253, #("_dmarc." .. from(246)))
      assert.is_truthy(table.concat(asked(dns, "TXT"), " "):find("_dmarc." .. from(246), 1, true))
      assert.are.equal(from(246), r.policy_domain)
      assert.are.equal("none", r.policy)
    end)
    it(mode .. ": _dmarc.<From> of 254 octets is not asked: no record there, the org's applies",
       function()
      local r, dns = check(247, mode)
      for _, name in ipairs(asked(dns, "TXT")) do
        assert.is_true(#name <= 253, name)
      end
      assert.are.equal(org(247), r.policy_domain)
      assert.are.equal("reject", r.policy)
      assert.are.equal("fail", r.result)
    end)
  end
end)
