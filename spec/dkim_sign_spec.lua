-- DKIM signing with the RFC 8463 appendix A keys, checked against the
-- records the RFC publishes (so a signature here is valid only if it is
-- valid for the RFC's keys), plus the signer's options and refusals.
local mailauth = require "mailauth"
local F = require "dkimfix"
local helpers = require "spec.support.helpers"
if not helpers.skip_without_testdata("dkim/") then return end

local RECORDS = F.records(F.read("rfc8463/dns.txt"))
local ED_PEM = F.ed25519_pem(F.read("rfc8463/ed25519-brisbane.seed.b64"))
local RSA_PEM = F.read("rfc8463/rsa-test.private.pem")
local DOMAIN = "football.example.com"
local NOW = 1528637909 -- the RFC example's t=

-- The RFC 8463 message without its two signatures.
local function unsigned()
  local msg = F.crlf(F.read("rfc8463/signed.eml"))
  return (msg:gsub("^DKIM%-Signature:.-\r\n(%S)", "%1"):gsub("^DKIM%-Signature:.-\r\n(%S)", "%1"))
end

local function verify(msg, now)
  return mailauth.dkim_verify(msg, { resolver = F.resolver(RECORDS), now = now or NOW })
end

describe("dkim_sign", function()
  local msg = unsigned()

  it("starts from the RFC message without signatures", function()
    assert.truthy(msg:match("^From: Joe SixPack"))
    assert.is_nil(msg:find("DKIM-Signature", 1, true))
  end)

  for _, case in ipairs{
    { "ed25519-sha256", "brisbane", ED_PEM, 256 },
    { "rsa-sha256", "test", RSA_PEM, 1024 },
  } do
    local alg, sel, pem, bits = case[1], case[2], case[3], case[4]
    for _, canon in ipairs{ "simple/simple", "simple/relaxed", "relaxed/simple", "relaxed/relaxed" } do
      it(("signs %s %s so that the RFC's published key verifies it"):format(alg, canon), function()
        local h, err = mailauth.dkim_sign(msg, { domain = DOMAIN, selector = sel, key = pem,
          algorithm = alg, canonicalization = canon, now = NOW })
        assert.is_string(h, err)
        local r = verify(h .. "\r\n" .. msg)
        assert.equal("pass", r[1].result, r[1].problem)
        assert.equal(canon, r[1].canonicalization)
        assert.equal(bits, r[1].key_bits)
        assert.equal(NOW, r[1].timestamp)
      end)
    end
  end

  it("is deterministic for Ed25519 and RSA PKCS#1 v1.5", function()
    local o = { domain = DOMAIN, selector = "brisbane", key = ED_PEM,
                algorithm = "ed25519-sha256", now = NOW }
    assert.equal(mailauth.dkim_sign(msg, o), mailauth.dkim_sign(msg, o))
    o = { domain = DOMAIN, selector = "test", key = RSA_PEM, now = NOW }
    assert.equal(mailauth.dkim_sign(msg, o), mailauth.dkim_sign(msg, o))
  end)

  it("signs RFC 6376 5.4.1's fields that are present, with From once more", function()
    local h = mailauth.dkim_sign(msg, { domain = DOMAIN, selector = "test", key = RSA_PEM, now = NOW })
    local r = verify(h .. "\r\n" .. msg)
    assert.same({ "from", "from", "subject", "date", "to", "message-id" }, r[1].headers)
  end)

  it("uses the given header list and canonicalisation names", function()
    local h = mailauth.dkim_sign(msg, { domain = DOMAIN, selector = "test", key = RSA_PEM,
      headers = { "From", "Subject", "X-Absent" }, now = NOW })
    assert.matches("h=From:Subject:X%-Absent;", h)
    assert.matches("c=relaxed/relaxed;", h)
    assert.equal("pass", verify(h .. "\r\n" .. msg)[1].result)
  end)

  it("adds x= = t + expire; the signature expires then", function()
    local h = mailauth.dkim_sign(msg, { domain = DOMAIN, selector = "test", key = RSA_PEM,
      now = NOW, expire = 3600 })
    assert.matches("x=" .. (NOW + 3600) .. ";", h)
    assert.equal("pass", verify(h .. "\r\n" .. msg, NOW + 3600)[1].result)
    local r = verify(h .. "\r\n" .. msg, NOW + 3601)
    assert.equal("permerror", r[1].result)
    assert.matches("expired", r[1].problem)
  end)

  it("adds i= when an identity is given", function()
    local h = mailauth.dkim_sign(msg, { domain = DOMAIN, selector = "test", key = RSA_PEM,
      identity = "joe@football.example.com", now = NOW })
    local r = verify(h .. "\r\n" .. msg)
    assert.equal("pass", r[1].result)
    assert.equal("joe@football.example.com", r[1].identity)
  end)

  it("folds the field into lines of at most 78 characters", function()
    local h = mailauth.dkim_sign(msg, { domain = DOMAIN, selector = "test", key = RSA_PEM, now = NOW })
    for line in (h .. "\r\n"):gmatch("(.-)\r\n") do
      assert.is_true(#line <= 78, line)
    end
    assert.is_nil(h:find("\r\n$"))
  end)

  it("returns nil and a reason for unusable keys", function()
    local h, err = mailauth.dkim_sign(msg, { domain = DOMAIN, selector = "s", key = "not a key" })
    assert.is_nil(h)
    assert.matches("PEM", err)
    h, err = mailauth.dkim_sign(msg, { domain = DOMAIN, selector = "s", key = ED_PEM })
    assert.is_nil(h)
    assert.matches("not an RSA key", err)
    h, err = mailauth.dkim_sign(msg, { domain = DOMAIN, selector = "s", key = RSA_PEM,
                                       algorithm = "ed25519-sha256" })
    assert.is_nil(h)
    assert.matches("not an Ed25519 key", err)
  end)

  it("reads PKCS#1 and PKCS#8 RSA keys alike, and refuses other key types", function()
    local function openssl(cmd)
      local p = io.popen(cmd .. " 2>/dev/null")
      local out = p:read("*a")
      p:close()
      return out
    end
    local dir = F.tmpdir()
    F.write(dir .. "/k.pem", RSA_PEM)
    local pkcs8 = openssl("openssl pkcs8 -topk8 -nocrypt -in " .. dir .. "/k.pem")
    assert.matches("BEGIN PRIVATE KEY", pkcs8)
    local a = mailauth.dkim_sign(msg, { domain = DOMAIN, selector = "test", key = RSA_PEM, now = NOW })
    local b = mailauth.dkim_sign(msg, { domain = DOMAIN, selector = "test", key = pkcs8, now = NOW })
    assert.equal(a, b)
    local ec = openssl("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256")
    assert.matches("PRIVATE KEY", ec)
    local h, err = mailauth.dkim_sign(msg, { domain = DOMAIN, selector = "s", key = ec })
    assert.is_nil(h)
    assert.matches("neither RSA nor Ed25519", err)
    local enc = openssl("openssl pkcs8 -topk8 -passout pass:secret -in " .. dir .. "/k.pem")
    assert.matches("ENCRYPTED", enc)
    h, err = mailauth.dkim_sign(msg, { domain = DOMAIN, selector = "s", key = enc })
    assert.is_nil(h)
    assert.matches("PEM", err)
    F.rmdir(dir)
  end)

  it("refuses RSA keys below 1024 bits (RFC 8301 3.2)", function()
    local p = io.popen("openssl genrsa 512 2>/dev/null")
    local pem = p:read("*a")
    p:close()
    assert.matches("PRIVATE KEY", pem)
    local h, err = mailauth.dkim_sign(msg, { domain = DOMAIN, selector = "s", key = pem })
    assert.is_nil(h)
    assert.matches("1024", err)
  end)

  it("returns nil and a reason for a message without From", function()
    local h, err = mailauth.dkim_sign("Subject: x\r\n\r\nbody\r\n",
      { domain = DOMAIN, selector = "s", key = RSA_PEM })
    assert.is_nil(h)
    assert.matches("From", err)
  end)

  it("raises on misuse", function()
    assert.has_error(function() mailauth.dkim_sign(msg, { selector = "s", key = RSA_PEM }) end)
    assert.has_error(function() mailauth.dkim_sign(nil, {}) end)
    assert.has_error(function()
      mailauth.dkim_sign(msg, { domain = DOMAIN, selector = "s", key = RSA_PEM, algorithm = "rsa-sha1" })
    end)
    assert.has_error(function()
      mailauth.dkim_sign(msg, { domain = DOMAIN, selector = "s", key = RSA_PEM, headers = { "Subject" } })
    end)
  end)
end)

-- The attack of RFC 6376 8.15: a From field added above the signed one is
-- what a mail reader shows, while the signature still verifies.
describe("dkim: added header fields", function()
  local msg = unsigned()
  local evil = "From: Bank Security <security@evil.example>\r\n"

  it("reports an unsigned extra From when From was signed once", function()
    local h = mailauth.dkim_sign(msg, { domain = DOMAIN, selector = "test", key = RSA_PEM,
      headers = { "from", "to", "subject", "date" }, now = NOW })
    local r = verify(evil .. h .. "\r\n" .. msg)
    assert.equal("pass", r[1].result)   -- the signature itself is intact ...
    assert.equal("from", r[1].unsigned_headers)  -- ... but it does not cover what is shown
    assert.matches("unsigned instance of a signed field", r[1].problem)
  end)

  it("fails when From is oversigned, as by default", function()
    local h = mailauth.dkim_sign(msg, { domain = DOMAIN, selector = "test", key = RSA_PEM, now = NOW })
    assert.equal("pass", verify(h .. "\r\n" .. msg)[1].result)
    local r = verify(evil .. h .. "\r\n" .. msg)
    assert.equal("fail", r[1].result)
    -- also when the extra From is put below the signed one
    r = verify(h .. "\r\n" .. (msg:gsub("\r\n\r\n", "\r\n" .. evil .. "\r\n", 1)))
    assert.equal("fail", r[1].result)
  end)

  it("the RFC 8463 example oversigns From, Subject and Date", function()
    local signed = F.crlf(F.read("rfc8463/signed.eml"))
    local r = verify((signed:gsub("\r\n\r\n", "\r\nSubject: Urgent\r\n\r\n", 1)))
    assert.equal("fail, fail", r[1].result .. ", " .. r[2].result)
  end)
end)
