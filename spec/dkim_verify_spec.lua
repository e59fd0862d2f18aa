-- DKIM verification against data nobody on the team wrote: the RFC 8463
-- example, stalwart's and dkimpy's messages, and the Mail::DKIM corpus
-- (expectations in ../shared/testdata/dkim/*/expected.tsv; see SOURCES.md there).
local mailauth = require "mailauth"
local core = require "mailauth.core"
local F = require "dkimfix"
local helpers = require "spec.support.helpers"
local fakedns = require "fakedns"
if not helpers.skip_without_testdata("dkim/") then return end

local STALWART_NOW = 1667843664 -- the clock stalwart's tests use

local function results(list)
  local out = {}
  for i, s in ipairs(list) do out[i] = s.result end
  return table.concat(out, ", ")
end

describe("dkim_verify: RFC 8463 appendix A", function()
  local recs = F.records(F.read("rfc8463/dns.txt"))
  local msg = F.crlf(F.read("rfc8463/signed.eml"))

  it("verifies the ed25519-sha256 and rsa-sha256 signatures from the published keys", function()
    local r = mailauth.dkim_verify(msg, { resolver = F.resolver(recs), now = STALWART_NOW })
    assert.equal(2, #r)
    assert.same({ "pass", "ed25519-sha256", "brisbane", "football.example.com", 256 },
                { r[1].result, r[1].algorithm, r[1].selector, r[1].domain, r[1].key_bits })
    assert.same({ "pass", "rsa-sha256", "test", 1024 },
                { r[2].result, r[2].algorithm, r[2].selector, r[2].key_bits })
    assert.equal("relaxed/relaxed", r[1].canonicalization)
    assert.same({ "from", "to", "subject", "date", "message-id", "from", "subject", "date" },
                r[1].headers)
    assert.equal("@football.example.com", r[1].identity)
    assert.is_nil(r[1].problem)
    assert.is_false(r[1].testing)
  end)

  it("also verifies the LF-only copy (normalised as an MTA would)", function()
    local lf = F.read("rfc8463/signed.eml")
    assert.is_nil(lf:find("\r", 1, true))
    local r = mailauth.dkim_verify(lf, { resolver = F.resolver(recs) })
    assert.equal("pass, pass", results(r))
  end)

  it("fails both signatures when one body byte changes", function()
    local bad = msg:gsub("Joe%.", "Joe!", 1)
    assert.not_equal(msg, bad)
    local r = mailauth.dkim_verify(bad, { resolver = F.resolver(recs) })
    assert.equal("fail, fail", results(r))
    assert.matches("body hash", r[1].problem)
  end)

  it("fails both signatures when one byte of a signed header changes", function()
    local bad = msg:gsub("Subject: Is dinner", "Subject: Is dinnes", 1)
    assert.not_equal(msg, bad)
    local r = mailauth.dkim_verify(bad, { resolver = F.resolver(recs) })
    assert.equal("fail, fail", results(r))
    assert.matches("signature did not verify", r[2].problem)
  end)

  it("asks the keys of all signatures in one step", function()
    local check = assert(core.check("dkim_verify", { message = msg }))
    assert.equal("dns", check:step())
    local names = {}
    for _, q in ipairs(check:questions()) do names[#names + 1] = q.name .. "/" .. q.type end
    table.sort(names)
    assert.same({ "brisbane._domainkey.football.example.com/TXT",
                  "test._domainkey.football.example.com/TXT" }, names)
    check:close()
  end)

  it("gives Authentication-Results properties and a unique header.b", function()
    local r = mailauth.dkim_verify(msg, { resolver = F.resolver(recs) })
    assert.equal("dkim", r[1].method)
    assert.same({ { ptype = "header", property = "d", value = "football.example.com" },
                  { ptype = "header", property = "i", value = "@football.example.com" },
                  { ptype = "header", property = "s", value = "brisbane" },
                  { ptype = "header", property = "a", value = "ed25519-sha256" },
                  { ptype = "header", property = "b", value = r[1].b } }, r[1].properties)
    assert.is_true(#r[1].b >= 8)
    assert.equal(msg:match("b=(/gCrinpc[^;\r\n]*)"):sub(1, #r[1].b), r[1].b)
  end)

  it("feeds mailauth.authres.format, and python3-authres parses the result", function()
    local r = mailauth.dkim_verify(msg, { resolver = F.resolver(recs) })
    local header = mailauth.authres.format({ dkim = r }, "mx.example.net")
    assert.matches("dkim=pass header.d=football.example.com header.i=@football.example.com "
                   .. "header.s=brisbane header.a=ed25519%-sha256", header)
    local dir = F.tmpdir()
    F.write(dir .. "/ar.txt", header)
    local p = io.popen("/usr/bin/python3 -c 'import sys, authres; h = authres."
      .. "AuthenticationResultsHeader.parse(open(sys.argv[1]).read()); print(\" \".join("
      .. "\"%s=%s/%s\" % (x.method, x.result, x.header_s) for x in h.results))' " .. dir .. "/ar.txt")
    local parsed = p:read("*a")
    p:close()
    F.rmdir(dir)
    assert.equal("dkim=pass/brisbane dkim=pass/test\n", parsed)
  end)

  it("reports temperror when DNS fails and permerror when there is no key", function()
    local r = mailauth.dkim_verify(msg, { resolver = fakedns.new({}, { fault = "SERVFAIL" }).resolve })
    assert.equal("temperror, temperror", results(r))
    r = mailauth.dkim_verify(msg, { resolver = F.resolver({}) })
    assert.equal("permerror, permerror", results(r))
    assert.matches("no key", r[1].problem)
  end)
end)

describe("dkim_verify: RFC 6376 appendix A (a known-bad example)", function()
  it("parses the signature and reports the body hash mismatch SOURCES.md describes", function()
    local recs = F.records(F.read("rfc6376/C-dns.txt"))
    -- Appendix C publishes the key under example.org; serve it for example.com too.
    local key
    for _, v in pairs(recs) do key = v end
    local msg = F.crlf(F.read("rfc6376/A.2-signed.eml"))
    local r = mailauth.dkim_verify(msg, { resolver = F.resolver({ ["brisbane._domainkey.example.com"] = key }) })
    assert.equal(1, #r)
    assert.equal("fail", r[1].result)
    assert.matches("body hash", r[1].problem)
    assert.equal("example.com", r[1].domain)
    assert.equal("simple/simple", r[1].canonicalization)
  end)
end)

describe("dkim_verify: stalwart corpus at t=" .. STALWART_NOW, function()
  for _, row in ipairs(F.tsv("stalwart/expected.tsv")) do
    it(row[1] .. ": " .. row[2], function()
      local recs, msg = F.stalwart(row[1])
      local r = mailauth.dkim_verify(msg, { resolver = F.resolver(recs), now = STALWART_NOW })
      assert.equal(row[2], results(r))
    end)
  end

  it("005.txt is expired a day later (x=1667930064)", function()
    local recs, msg = F.stalwart("005.txt")
    local r = mailauth.dkim_verify(msg, { resolver = F.resolver(recs), now = 1667930065 })
    assert.equal("permerror", r[1].result)
    assert.matches("expired", r[1].problem)
    assert.equal(1667930064, r[1].expiration)
  end)

  it("003.txt: two identical signatures get the full b= as header.b", function()
    local recs, msg = F.stalwart("003.txt")
    local r = mailauth.dkim_verify(msg, { resolver = F.resolver(recs), now = STALWART_NOW })
    assert.equal(r[1].b, r[2].b)
    assert.equal("ietf.org", r[1].domain)
  end)
end)

describe("dkim_verify: dkimpy data", function()
  local rsa = F.read("dkimpy/test.txt"):gsub("%s+$", "")
  it("rfc6376.signed.msg (draft RFC 8463 example, simple/simple): pass, pass", function()
    local recs = {
      ["brisbane._domainkey.football.example.com"] =
        "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
      ["test._domainkey.football.example.com"] = rsa,
    }
    local msg = F.crlf(F.read("dkimpy/rfc6376.signed.msg"))
    local r = mailauth.dkim_verify(msg, { resolver = F.resolver(recs) })
    assert.equal("pass, pass", results(r))
    assert.equal("simple/simple", r[1].canonicalization)
  end)

  it("ed25519test2.msg (signed by Exim): pass", function()
    local recs = { ["sed._domainkey.test.ex"] = F.read("dkimpy/eximtest.dns"):gsub("%s+$", "") }
    local msg = F.crlf(F.read("dkimpy/ed25519test2.msg"))
    local r = mailauth.dkim_verify(msg, { resolver = F.resolver(recs) })
    assert.equal("pass", results(r))
    assert.equal("ed25519-sha256", r[1].algorithm)
  end)

  it("rejects dkimpy's malformed key records (unknown k=, v= typo, corrupted p=)", function()
    local msg = F.crlf(F.read("rfc8463/signed.eml"))
    for file, pattern in pairs{ ["badk.txt"] = "k=", ["badversion.txt"] = "v=",
                                ["test_bad.txt"] = "p=" } do
      local key = F.read("dkimpy/" .. file):gsub("%s+$", "")
      local r = mailauth.dkim_verify(msg, { resolver = F.resolver({
        ["test._domainkey.football.example.com"] = key }) })
      assert.equal("permerror", r[2].result, file)
      assert.matches(pattern, r[2].problem, 1, true)
    end
  end)
end)

-- Mail::DKIM's corpus.  Two runs per message:
--  * legacy: allow_sha1, 512-bit keys and pre-RFC versions accepted, which is
--    what Mail::DKIM's expectations assume; must match expected.tsv except
--    the RFC4871_G group (g= was removed by RFC 6376, so its key records are
--    valid and those signatures pass);
--  * default (RFC 6376 + RFC 8301): explicit expectations below, by group.
describe("dkim_verify: Mail::DKIM corpus", function()
  local dns = F.fake_dns(F.read("mail-dkim/FAKE_DNS.dat"))
  local LEGACY = { allow_sha1 = true, min_key_bits = 512, legacy_versions = true }

  -- invalid = a signature that cannot be checked (RFC 8601 words by cause).
  local function matches(expected, r)
    if expected == "pass" then
      for _, s in ipairs(r) do if s.result == "pass" then return true end end
      return false
    elseif expected == "fail" then
      return r[1] ~= nil and r[1].result == "fail"
    else
      return r[1] ~= nil and (r[1].result == "permerror" or r[1].result == "temperror"
                              or r[1].result == "neutral")
    end
  end

  local function verify(file, extra)
    local opts = { resolver = F.resolver(dns), now = STALWART_NOW }
    for k, v in pairs(extra or {}) do opts[k] = v end
    return mailauth.dkim_verify(F.read("mail-dkim/corpus/" .. file), opts)
  end

  -- RFC 4871's g= tag is gone: under RFC 6376 these keys are valid.
  local RFC6376_G = { ["badkey_8.txt"] = "pass", ["badkey_9.txt"] = "pass",
                      ["badkey_12.txt"] = "pass", ["badkey_13.txt"] = "pass" }

  -- Default mode, where it differs from Mail::DKIM: first signature's result
  -- and a pattern of its problem.  Everything else must equal the legacy run.
  local V = "signature has no v= tag"          -- RFC 6376 3.5: v= is required
  local V05 = "version v=0.5"                  -- a pre-RFC 4871 draft version
  local K512 = "512%-bit RSA key"              -- RFC 8301 3.2
  local K768 = "768%-bit RSA key"
  local SHA1 = "rsa%-sha1 verifies but is not acceptable" -- RFC 8301 3.1
  local STRICT = {
    ["mine_ietf01_1.txt"] = { "permerror", V }, ["mine_ietf01_2.txt"] = { "permerror", V },
    ["mine_ietf01_3.txt"] = { "permerror", V }, ["mine_ietf01_4.txt"] = { "permerror", V },
    ["mine_ietf05_1.txt"] = { "permerror", V05 },
    ["good_ietf01_1.txt"] = { "permerror", V }, ["good_ietf01_2.txt"] = { "permerror", V },
    ["good_rfc4871_3.txt"] = { "permerror", K512 }, ["good_rfc4871_4.txt"] = { "permerror", K512 },
    ["good_1878523.txt"] = { "permerror", K512 }, ["good_83176.txt"] = { "policy", SHA1 },
    ["multiple_1.txt"] = { "permerror", V },
    ["multiple_2.txt"] = { "permerror", "c=foobar" },
    ["good_qp_1.txt"] = { "permerror", K512 }, ["good_qp_2.txt"] = { "permerror", K512 },
    ["good_qp_3.txt"] = { "permerror", K512 },
    ["bad_ietf01_1.txt"] = { "permerror", V }, ["bad_ietf01_2.txt"] = { "permerror", V },
    ["bad_ietf01_3.txt"] = { "permerror", V }, ["bad_1.txt"] = { "permerror", V },
    ["no_body_1.txt"] = { "permerror", V05 }, ["no_body_2.txt"] = { "permerror", V05 },
    ["no_body_3.txt"] = { "permerror", V05 },
    ["ignore_2.txt"] = { "permerror", V05 }, ["ignore_3.txt"] = { "permerror", V05 },
    ["ignore_4.txt"] = { "permerror", V05 },
    ["goodkey_1.txt"] = { "permerror", K512 }, ["goodkey_2.txt"] = { "permerror", K512 },
    ["goodkey_3.txt"] = { "permerror", K512 }, ["goodkey_4.txt"] = { "permerror", K512 },
    ["badkey_1.txt"] = { "permerror", V05 }, ["badkey_2.txt"] = { "permerror", V05 },
    ["badkey_3.txt"] = { "permerror", V05 }, ["badkey_4.txt"] = { "permerror", V05 },
    ["badkey_5.txt"] = { "permerror", V05 }, ["badkey_6.txt"] = { "permerror", V05 },
    ["badkey_7.txt"] = { "permerror", V05 },
    ["badkey_8.txt"] = { "permerror", K512 }, ["badkey_9.txt"] = { "permerror", K512 },
    ["badkey_12.txt"] = { "permerror", K512 }, ["badkey_13.txt"] = { "permerror", K512 },
  }
  local _ = K768

  for _, row in ipairs(F.tsv("mail-dkim/expected.tsv")) do
    local file, expected, flags = row[1], row[2], row[5]
    if flags:find("DOMAINKEYS", 1, true) then
      it(file .. ": DomainKeys only, so no DKIM result", function()
        assert.same({}, verify(file))
      end)
    elseif not flags:find("SKIPPED", 1, true) then
      it(file .. " (legacy options): " .. (RFC6376_G[file] or expected), function()
        local r = verify(file, LEGACY)
        if RFC6376_G[file] then
          assert.equal(RFC6376_G[file], r[1].result)
        else
          assert.is_true(matches(expected, r), file .. ": got " .. results(r))
        end
      end)
      it(file .. " (RFC 8301 defaults)", function()
        local r = verify(file)
        local want = STRICT[file]
        if want then
          assert.equal(want[1], r[1].result, file)
          assert.matches(want[2], r[1].problem)
          for _, s in ipairs(r) do assert.not_equal("pass", s.result) end
        else
          local legacy = verify(file, LEGACY)
          assert.equal(results(legacy), results(r))
        end
      end)
    end
  end

  it("multiple_2.txt reports each signature on its own", function()
    local r = verify("multiple_2.txt", LEGACY)
    assert.equal("permerror, pass, fail, neutral", results(r))
    r = verify("multiple_2.txt")
    assert.equal("permerror, policy, fail, neutral", results(r))
  end)

  it("the pre-standard good_ietf00 messages are permerror (no v=)", function()
    for i = 1, 5 do
      local r = verify(("good_ietf00_%d.txt"):format(i))
      assert.equal("permerror", r[1].result)
    end
  end)
end)
