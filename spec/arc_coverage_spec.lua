-- ARC-Message-Signature coverage in arc_verify's chain entries: ams_headers,
-- ams_unsigned_headers, ams_body_length, ams_unsigned_body_bytes,
-- ams_timestamp (src/arc/arc_verify.c; the meaning is DKIM's note_unsigned, RFC 6376
-- §8.15: a signed field the message holds more often than h= covers is an
-- added copy nobody signed).  Messages sealed by mailauth's own signer with
-- dkimpy's test key (../shared/testdata/dkim/dkimpy/), then altered the way a
-- replay would alter them.
local mailauth = require "mailauth"
local F = require "dkimfix"
local helpers = require "spec.support.helpers"
if not helpers.skip_without_testdata("dkim/") then return end

local NOW = 1700000000
local KEY = F.read("dkimpy/test.private")
local RECORDS = { ["test._domainkey.example.com"] = F.read("dkimpy/test.txt"):gsub("%s+$", "") }

local PLAIN = "From: Alice <alice@example.com>\r\nTo: bob@example.net\r\n"
  .. "Subject: lunch\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
  .. "Message-ID: <cov-1@example.com>\r\n\r\nHi Bob.\r\n\r\nAlice\r\n"
-- RFC 6376 §3.4.4 relaxed body of PLAIN: no WSP to fold, one final CRLF
local BODY_RELAXED = "Hi Bob.\r\n\r\nAlice\r\n"

local function sealed(msg)
  local text, why = mailauth.arc_seal(msg, { domain = "example.com", selector = "test", key = KEY,
    authserv_id = "mx.example.com", authentication_results = "spf=pass smtp.mailfrom=example.com",
    headers = { "From", "To", "Subject", "Date" }, now = NOW })
  assert(text, why)
  return text .. "\r\n" .. msg
end

local function verify(msg)
  return mailauth.arc_verify(msg, { resolver = F.resolver(RECORDS), now = NOW })
end

describe("arc: AMS coverage in the chain", function()
  it("a sealed message reports its h= names, no unsigned copy, its t=", function()
    local r = verify(sealed(PLAIN))
    assert.equal("pass", r.result)
    local e = r.chain[1]
    assert.same({ "from", "to", "subject", "date" }, e.ams_headers)
    assert.is_nil(e.ams_unsigned_headers)
    assert.is_nil(e.ams_body_length)
    assert.is_nil(e.ams_unsigned_body_bytes)
    assert.equal(NOW, e.ams_timestamp)
  end)

  -- A replay: a second From and Subject put on top of a genuine seal.  The
  -- AMS still verifies (h= signs the bottom-most copy, RFC 6376 §5.4.2), so
  -- only ams_unsigned_headers shows it.  Without the defence (the
  -- note_ams_unsigned call in collect(), src/arc/arc_verify.c, removed) this fails:
  -- ams_unsigned_headers is nil.
  it("an added From and Subject above a passing seal: ams_unsigned_headers", function()
    local m = sealed(PLAIN)
    local r = verify("From: ceo@example.com\r\nSubject: pay this\r\n" .. m)
    assert.equal("pass", r.result)
    assert.equal("pass", r.chain[1].ams_result)
    assert.equal("from, subject", r.chain[1].ams_unsigned_headers)
    -- a field h= does not sign (Message-ID) added again is not its business
    r = verify("Message-ID: <other@example.com>\r\n" .. m)
    assert.is_nil(r.chain[1].ams_unsigned_headers)
  end)

  -- l= (mailauth's signer writes none): added by hand, so the AMS no longer
  -- verifies, and the coverage is reported all the same.
  it("an AMS with l=: ams_body_length and the canonical bytes past it", function()
    local m = sealed(PLAIN):gsub("(ARC%-Message%-Signature: a=rsa%-sha256;)", "%1 l=7;", 1)
    local r = verify(m .. "P.S. appended\r\n")
    local e = r.chain[1]
    assert.equal(7, e.ams_body_length)
    assert.equal(#(BODY_RELAXED .. "P.S. appended\r\n") - 7, e.ams_unsigned_body_bytes)
    assert.equal("fail", r.result)
  end)
end)
