-- Hostile input for the DKIM verifier and the message reader: every case
-- must end with a defined result (no crash, no hang), and the RFC 8463
-- signatures stay the anchor (they must still pass where untouched).
local mailauth = require "mailauth"
local F = require "dkimfix"
local helpers = require "spec.support.helpers"
if not helpers.skip_without_testdata("dkim/") then return end

local RECORDS = F.records(F.read("rfc8463/dns.txt"))
local SIGNED = F.crlf(F.read("rfc8463/signed.eml"))
local WORDS = { pass = true, fail = true, neutral = true, policy = true,
                temperror = true, permerror = true }

local function verify(msg, records)
  return mailauth.dkim_verify(msg, { resolver = F.resolver(records or RECORDS), now = 1667843664 })
end

-- A DKIM-Signature with the given tag text, on the RFC message.
local function with_sig(tags)
  return "DKIM-Signature: " .. tags .. "\r\n" .. SIGNED
end

local BASE = "v=1; a=rsa-sha256; d=football.example.com; s=test; h=from; " ..
             "bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=AAAA"

describe("dkim hostile input", function()
  it("10k header fields: the reader stops at its limit and says so", function()
    local filler = {}
    for i = 1, 10000 do filler[i] = "X-Filler-" .. i .. ": " .. i .. "\r\n" end
    local msg = SIGNED:gsub("\r\n\r\n", "\r\n" .. table.concat(filler) .. "\r\n", 1)
    local r, problem = verify(msg)
    assert.matches("more header fields than the limit", problem)
    assert.equal(2, #r)
    for _, s in ipairs(r) do
      assert.equal("permerror", s.result)
      assert.matches("message:", s.problem)
    end
  end)

  it("a 1 MB header field is over the header size limit", function()
    local big = "X-Big: " .. ("a"):rep(1024 * 1024) .. "\r\n"
    local r, problem = verify(big .. SIGNED)
    assert.matches("larger than the limit", problem)
    assert.same({}, r)
  end)

  it("a 1 MB folded header below the signatures gives permerror, not a crash", function()
    local big = "X-Big: " .. ("word "):rep(50000):gsub("(word word word word) ", "%1\r\n ") .. "\r\n"
    local msg = SIGNED:gsub("\r\n\r\n", "\r\n" .. big .. big .. big .. big .. big .. "\r\n", 1)
    local r, problem = verify(msg)
    assert.is_string(problem)
    for _, s in ipairs(r) do assert.equal("permerror", s.result) end
  end)

  it("a 5 MB body verifies when signed, and fails when changed", function()
    local body = ("The quick brown fox jumps over the lazy dog.  \t \r\n"):rep(100000)
    local msg = "From: a@football.example.com\r\nSubject: big\r\n\r\n" .. body
    local pem = F.read("rfc8463/rsa-test.private.pem")
    local h = assert(mailauth.dkim_sign(msg, { domain = "football.example.com", selector = "test",
                                               key = pem }))
    assert.equal("pass", verify(h .. "\r\n" .. msg)[1].result)
    assert.equal("fail", verify(h .. "\r\n" .. msg .. "x")[1].result)
  end)

  it("garbage in the DKIM-Signature is neutral with a syntax problem", function()
    for _, tags in ipairs{ "\1\2\3", ";;;===", "v=1; a", "=1", "v=1; v=1", "v=1; a=\127",
                           ("a=b;"):rep(100), "" } do
      local r = verify(with_sig(tags))
      assert.equal(tags == "" and "permerror" or "neutral", r[1].result, tags)
      assert.matches(tags == "" and "no v=" or "syntax", r[1].problem)
      assert.equal("pass", r[2].result)
      assert.equal("pass", r[3].result)
    end
  end)

  it("missing and malformed tags are permerror", function()
    for _, case in ipairs{
      { BASE:gsub("v=1; ", ""), "no v= tag" },
      { BASE:gsub("h=from", "h=to"), "From field not signed" },
      { BASE:gsub("h=from", "h=from::to"), "h=" },
      { BASE:gsub("a=rsa%-sha256", "a=rsa-md5"), "unsupported algorithm" },
      { BASE:gsub("d=football%.example%.com", "d=.."), "d=" },
      { BASE .. "; c=simple/fancy", "canonicalization" },
      { BASE .. "; q=dns/txt:http", nil },
      { BASE .. "; q=http", "query method" },
      { BASE .. "; i=joe@elsewhere.example", "i= is not within d=" },
      { BASE .. "; i=joe=4", "quoted%-printable" },
      { BASE .. "; t=20; x=10", "x= is before t=" },
      { BASE .. "; x=12345", "expired" },
      { BASE .. "; t=1a", "t=" },
    } do
      local r = verify(with_sig(case[1]))
      if case[2] == "canonicalization" then
        assert.equal("simple/fancy", r[1].canonicalization)
      end
      if case[2] then
        assert.equal("permerror", r[1].result, case[1])
        assert.matches(case[2], r[1].problem)
      else
        assert.equal("fail", r[1].result, case[1]) -- parses, then b=AAAA does not verify
      end
    end
  end)

  it("huge l= values are permerror; l= beyond the body is fail", function()
    local r = verify(with_sig(BASE .. "; l=" .. ("9"):rep(80)))
    assert.equal("permerror", r[1].result)
    assert.matches("l=", r[1].problem)
    r = verify(with_sig(BASE .. "; l=999999999999"))
    assert.equal("fail", r[1].result)
    assert.matches("l= is longer than the body", r[1].problem)
  end)

  it("bad base64 in b=, bh= and the key's p=", function()
    local r = verify(with_sig(BASE:gsub("b=AAAA$", "b=!!!!")))
    assert.equal("permerror", r[1].result)
    assert.matches("b= is not valid base64", r[1].problem)
    r = verify(with_sig(BASE:gsub("bh=2jUS", "bh=*jUS")))
    assert.equal("permerror", r[1].result)
    assert.matches("bh=", r[1].problem)
    r = verify(with_sig(BASE:gsub("b=AAAA$", "b=A===")))
    assert.equal("permerror", r[1].result)
    local recs = { ["test._domainkey.football.example.com"] = "v=DKIM1; p=MIGf$$$$" }
    r = verify(SIGNED, recs)
    assert.equal("permerror", r[2].result)
    assert.matches("p= is not valid base64", r[2].problem)
  end)

  it("NUL bytes in headers, body and key records give defined results", function()
    local r = verify((SIGNED:gsub("Joe%.", "Jo\0e.", 1)))
    assert.equal("fail, fail", r[1].result .. ", " .. r[2].result)
    r = verify(with_sig(BASE:gsub("d=", "d=\0")))
    assert.equal("neutral", r[1].result)
    r = verify("From: a\0b@c\r\n\0\r\n\r\n\0\0")
    assert.same({}, r)
    local recs = { ["test._domainkey.football.example.com"] = "v=DKIM1; p=\0" }
    r = verify(SIGNED, recs)
    assert.equal("permerror", r[2].result)
  end)

  it("keys: revoked, wrong type, too small, unknown version, wrong service", function()
    local k = RECORDS["test._domainkey.football.example.com"]
    local p = k:match("p=(%S+)")
    for _, case in ipairs{
      { "v=DKIM1; p=", "revoked" },
      { "v=DKIM1; k=ed25519; p=" .. p, "does not match" },
      { "v=DKIM2; p=" .. p, "v=" },
      { "k=rsa; v=DKIM1; p=" .. p, "v=" },
      { "v=DKIM1; s=chat; p=" .. p, "service" },
      { "v=DKIM1; h=sha1; p=" .. p, "h=" },
      { "v=DKIM1; k=dsa; p=" .. p, "k=" },
      { "v=DKIM1; p=MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBALgSoqXVSEmfcIsOzw7oRuCCOwsmtX/SJnTW" ..
        "xYyj2leFxfS/AVJ+dYfY+hXqMsT7l+MZvvh/R1WzN4MO/kI/7XsCAwEAAQ==", "512%-bit" },
      { "v=DKIM1; p=" .. p:sub(1, 40), "not a valid public key" },
      { "garbage", "syntax" },
    } do
      local r = verify(SIGNED, { ["test._domainkey.football.example.com"] = case[1],
        ["brisbane._domainkey.football.example.com"] = RECORDS["brisbane._domainkey.football.example.com"] })
      assert.equal("pass", r[1].result)
      assert.equal("permerror", r[2].result, case[1])
      assert.matches(case[2], r[2].problem)
    end
  end)

  it("t=y marks a testing key", function()
    local k = RECORDS["test._domainkey.football.example.com"]
    local r = verify(SIGNED, { ["test._domainkey.football.example.com"] = k .. "; t=y" })
    assert.equal("pass", r[2].result)
    assert.is_true(r[2].testing)
  end)

  it("distinct body lengths are bounded: each costs a pass over the body", function()
    local sigs = {}
    for i = 1, 10 do sigs[i] = "DKIM-Signature: " .. BASE .. "; l=" .. i .. "\r\n" end
    local r = verify(table.concat(sigs) .. SIGNED)
    assert.equal(12, #r)
    for i = 1, 4 do assert.equal("fail", r[i].result) end
    for i = 5, 10 do
      assert.equal("permerror", r[i].result)
      assert.matches("distinct l= body hashes", r[i].problem)
    end
    assert.equal("pass", r[11].result) -- bodies without l= are always hashed
    assert.equal("pass", r[12].result)
  end)

  it("a message without signatures gives an empty list", function()
    assert.same({}, verify("From: a@b.example\r\n\r\nhi\r\n"))
    assert.same({}, verify(""))
    assert.same({}, verify("no header at all"))
  end)

  it("random byte damage never crashes and always gives result words", function()
    math.randomseed(8463)
    for _ = 1, 300 do
      local msg = SIGNED
      for _ = 1, math.random(1, 8) do
        local i = math.random(1, #msg)
        msg = msg:sub(1, i - 1) .. string.char(math.random(0, 255)) .. msg:sub(i + 1)
      end
      local r = verify(msg)
      for _, s in ipairs(r) do assert.is_true(WORDS[s.result], tostring(s.result)) end
    end
  end)

  it("many signatures: each is reported, the work is bounded, keys asked once", function()
    local sigs = {}
    for i = 1, 30 do sigs[i] = "DKIM-Signature: " .. BASE .. "; z=" .. i .. "\r\n" end
    local asked = {}
    local r = mailauth.dkim_verify(table.concat(sigs) .. SIGNED,
      { resolver = F.resolver(RECORDS, asked), now = 1667843664 })
    assert.equal(32, #r)
    assert.equal("fail", r[20].result)
    -- RFC 6376 §6.1 lets a verifier limit the signatures it tries; one
    -- not tried is "policy" (RFC 8601 §2.7.1), not a broken signature
    assert.equal("policy", r[25].result)
    assert.matches("signature limit %(20%) reached", r[25].problem)
    assert.equal("policy", r[31].result)
    assert.equal(1, #asked)
    -- broken signatures cost nothing and do not use up the budget
    for i = 1, 30 do sigs[i] = "DKIM-Signature: v=1; junk=" .. i .. "\r\n" end
    asked = {}
    r = mailauth.dkim_verify(table.concat(sigs) .. SIGNED,
      { resolver = F.resolver(RECORDS, asked), now = 1667843664 })
    assert.equal(32, #r)
    assert.equal("permerror", r[1].result)
    assert.equal("pass", r[31].result)
    assert.equal("pass", r[32].result)
    assert.equal(2, #asked)
  end)
end)
