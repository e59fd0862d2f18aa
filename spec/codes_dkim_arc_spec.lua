-- Stable codes of DKIM and ARC results (doc/codes.md, "## DKIM and ARC").
--
-- Every problem a DKIM or ARC result carries comes with a code, and every
-- code is one doc/codes.md lists.  Checked over third-party data (the
-- Mail::DKIM corpus with its FAKE_DNS.dat, the ValiMail ARC validation
-- suite) and over crafted failures of messages genuinely signed at test
-- time: the RFC 8463 message signed by mailauth.dkim_sign and sealed by
-- mailauth.arc_seal with the RFC's own keys (its published records verify
-- them), then broken one way each.  Each case asserts the code that names
-- the failure, so a code that drifts or is lost fails here.
--
-- Mutation check: with put_sig writing problem alone (val_cstr instead of
-- val_problem, dkim_verify.c), the corpus and crafted cases failed with
-- "problem without code: problem = ..." (e.g. "signature has no v= tag");
-- with "key_revoked" renamed "key_revoked2" in dkim_key.c, four cases
-- failed: 'code "key_revoked2" is not in doc/codes.md' (badkey_2.txt, the
-- crafted revoked key, the note-then-decision case, the ARC AMS case).
local mailauth = require "mailauth"
local helpers = require "spec.support.helpers"
local F = require "spec.support.dkimfix"
local suite = require "spec.support.arc_suite"

if not helpers.skip_without_testdata("dkim/") then return end
if not helpers.skip_without_testdata("arc/") then return end

-- The codes of the "## DKIM and ARC" section of doc/codes.md.
local function documented()
  local f = assert(io.open("doc/codes.md", "rb"))
  local text = f:read("*a")
  f:close()
  local section = assert(text:match("\n## DKIM and ARC\n(.-)\n## ") or
                         text:match("\n## DKIM and ARC\n(.*)$"), "no DKIM and ARC section")
  local codes = {}
  for code in section:gmatch("\n%- `([a-z0-9_]+)` — ") do codes[code] = true end
  return codes
end
local DOC = documented()

-- Every code a result carries, checked: each problem field has its code
-- beside it and every code is documented.  seen collects them.
local PAIRS = { problem = "code", seal_problem = "seal_code",
                ams_problem = "ams_code", aar_problem = "aar_code" }
local function codes_of(r, seen)
  for pfield, cfield in pairs(PAIRS) do
    if r[pfield] ~= nil then
      assert(type(r[cfield]) == "string", ("problem without code: %s = %q"):format(pfield, r[pfield]))
    end
    if r[cfield] ~= nil then
      assert(DOC[r[cfield]], ("code %q is not in doc/codes.md"):format(r[cfield]))
      assert(r[pfield] ~= nil, "code without problem: " .. r[cfield])
      seen[r[cfield]] = (seen[r[cfield]] or 0) + 1
    end
  end
  for _, v in pairs(r) do
    if type(v) == "table" then codes_of(v, seen) end
  end
  return seen
end

local RECORDS = F.records(F.read("rfc8463/dns.txt"))
local RSA_PEM = F.read("rfc8463/rsa-test.private.pem")
local ED_PEM = F.ed25519_pem(F.read("rfc8463/ed25519-brisbane.seed.b64"))
local DOMAIN = "football.example.com"
local RSA_KEY = "test._domainkey." .. DOMAIN
local NOW = 1528637909 -- the RFC example's t=

-- The RFC 8463 message without its two signatures.
local function unsigned()
  local msg = F.crlf(F.read("rfc8463/signed.eml"))
  return (msg:gsub("^DKIM%-Signature:.-\r\n(%S)", "%1"):gsub("^DKIM%-Signature:.-\r\n(%S)", "%1"))
end
local MSG = unsigned()

-- RFC records with one owner's value replaced.
local function zone(owner, value)
  local z = {}
  for k, v in pairs(RECORDS) do z[k] = v end
  z[owner] = value
  return F.resolver(z)
end

local function sign(opts)
  local o = { domain = DOMAIN, selector = "test", key = RSA_PEM, now = NOW }
  for k, v in pairs(opts or {}) do o[k] = v end
  return assert(mailauth.dkim_sign(MSG, o)) .. "\r\n" .. MSG
end

local function verify(msg, resolver, opts)
  local o = { resolver = resolver or F.resolver(RECORDS), now = NOW }
  for k, v in pairs(opts or {}) do o[k] = v end
  local r, problem = mailauth.dkim_verify(msg, o)
  codes_of(r, {})
  return r, problem
end

-- The RSA key's p= (the RFC's record), to make variants of it.
local RSA_P = assert(RECORDS[RSA_KEY]:match("p=([%w+/=]+)"))

describe("codes: DKIM over the Mail::DKIM corpus", function()
  local dns = F.fake_dns(F.read("mail-dkim/FAKE_DNS.dat"))
  local seen = {}
  for _, row in ipairs(F.tsv("mail-dkim/expected.tsv")) do
    it(row[1] .. ": every problem has a documented code", function()
      for _, extra in ipairs{ {}, { allow_sha1 = true, min_key_bits = 512, legacy_versions = true } } do
        local opts = { resolver = F.resolver(dns), now = 1700000000 }
        for k, v in pairs(extra) do opts[k] = v end
        codes_of(mailauth.dkim_verify(F.read("mail-dkim/corpus/" .. row[1]), opts), seen)
      end
    end)
  end
  -- The corpus's own failures under RFC 6376 + RFC 8301 (dkim_verify_spec
  -- checks the problem texts of these files).
  for file, code in pairs{
    ["good_83176.txt"] = "sha1_forbidden", ["good_rfc4871_3.txt"] = "key_too_small",
    ["mine_ietf05_1.txt"] = "version_unsupported", ["mine_ietf01_1.txt"] = "tag_missing",
    ["multiple_2.txt"] = "canonicalization_unsupported",
  } do
    it(file .. " -> " .. code, function()
      local r = mailauth.dkim_verify(F.read("mail-dkim/corpus/" .. file),
                                     { resolver = F.resolver(dns), now = 1700000000 })
      local found = {}
      for _, s in ipairs(r) do found[#found + 1] = tostring(s.code) end
      assert.truthy(table.concat(found, " "):find(code, 1, true), table.concat(found, " "))
    end)
  end
  it("gave codes in the corpus", function()
    assert.truthy(next(seen))
  end)
end)

describe("codes: DKIM crafted failures of signed messages", function()
  it("a genuine signature passes with no problem and no code", function()
    local r = verify(sign())
    assert.equal("pass", r[1].result, r[1].problem)
    assert.is_nil(r[1].code)
  end)

  local function first(msg, resolver, opts)
    local r = verify(msg, resolver, opts)
    return r[1]
  end

  for _, case in ipairs{
    { "key_revoked", function() return first(sign(), zone(RSA_KEY, "v=DKIM1; k=rsa; p=")) end },
    { "key_missing", function() return first(sign(), zone(RSA_KEY, { rcode = "NXDOMAIN", records = {} })) end },
    { "key_lookup_failed", function() return first(sign(), zone(RSA_KEY, { rcode = "SERVFAIL", records = {} })) end },
    { "key_malformed", function() return first(sign(), zone(RSA_KEY, "v=DKIM2; k=rsa; p=" .. RSA_P)) end },
    { "key_type_mismatch", function() return first(sign(), zone(RSA_KEY, "v=DKIM1; k=ed25519; p=" .. RSA_P)) end },
    { "key_type_unsupported", function() return first(sign(), zone(RSA_KEY, "v=DKIM1; k=dsa; p=" .. RSA_P)) end },
    { "key_hash_excluded", function() return first(sign(), zone(RSA_KEY, "v=DKIM1; h=sha1; k=rsa; p=" .. RSA_P)) end },
    { "key_service_excluded", function() return first(sign(), zone(RSA_KEY, "v=DKIM1; s=im; k=rsa; p=" .. RSA_P)) end },
    { "key_too_small", function() return first(sign(), nil, { min_key_bits = 2048 }) end },
    { "identity_mismatch", function()      -- t=s: i= must be in d= itself
      return first(sign { identity = "joe@sub." .. DOMAIN },
                   zone(RSA_KEY, "v=DKIM1; t=s; k=rsa; p=" .. RSA_P)) end },
    { "identity_mismatch", function() return first(sign { identity = "joe@example.org" }) end },
    { "body_hash_mismatch", function() return first(sign() .. "one more line\r\n") end },
    { "signature_mismatch", function()
      return first((sign():gsub("\r\nSubject: ", "\r\nSubject: Re: ", 1))) end },
    { "expired", function() return first(sign { expire = 60 }, nil, { now = NOW + 3600 }) end },
    { "expiry_before_timestamp", function()
      return first((sign { expire = 60 }:gsub("; x=%d+;", "; x=" .. (NOW - 1) .. ";", 1))) end },
    { "tag_missing", function() return first((sign():gsub(" bh=[^;]+;", "", 1))) end },
    { "from_not_signed", function() return first((sign():gsub("h=from:from:", "h=", 1))) end },
    { "algorithm_unsupported", function() return first((sign():gsub("a=rsa%-sha256", "a=rsa-sha512", 1))) end },
    { "signature_syntax", function() return first("DKIM-Signature: v=1; ;=; x\r\n" .. MSG) end },
  } do
    it(case[1], function()
      local s = case[2]()
      assert.equal(case[1], s.code, s.problem)
    end)
  end

  it("unsigned_field_copy: a note on a signature that still passes", function()
    local s = first("Subject: added later\r\n" .. sign())
    assert.equal("pass", s.result)
    assert.equal("unsigned_field_copy", s.code, s.problem)
  end)

  it("a decision's code wins over an earlier note", function()
    local s = first("Subject: added later\r\n" .. sign(), zone(RSA_KEY, "v=DKIM1; k=rsa; p="))
    assert.matches("unsigned instance", s.problem)
    assert.equal("key_revoked", s.code)
  end)

  it("message_limit: the message over the reader's limits", function()
    local many = {}
    for i = 1, 1001 do many[i] = "X-Filler: " .. i end
    local big = sign():gsub("\r\n\r\n", "\r\n" .. table.concat(many, "\r\n") .. "\r\n\r\n", 1)
    local r, problem = verify(big)
    assert.is_string(problem)
    assert.equal("message_limit", r[1].code, r[1].problem)
    local raw = mailauth.core.run("dkim_verify", { message = big, now = NOW },
                                  mailauth.core.zone_resolver({}))
    assert.equal("message_limit", raw.code)
  end)
end)

describe("codes: ARC chains sealed at test time", function()
  local AR = "arc=none; dkim=pass header.d=" .. DOMAIN
  local function seal(msg, opts)
    local o = { domain = DOMAIN, selector = "test", key = RSA_PEM, now = NOW,
                authserv_id = "mx." .. DOMAIN, authentication_results = AR }
    for k, v in pairs(opts or {}) do o[k] = v end
    local text, f = mailauth.arc_seal(msg, o)
    assert(text, f)
    return text .. "\r\n" .. msg
  end
  local function arc(msg, resolver)
    local r = mailauth.arc_verify(msg, { resolver = resolver or F.resolver(RECORDS), now = NOW })
    codes_of(r, {})
    return r
  end
  -- The message with the ARC field name of instance inst dropped, or
  -- edited by fn (the sealer folds, so fields are found whole).
  local function edit(msg, name, inst, fn)
    local head, body = msg:match("^(.-\r\n)(\r\n.*)$")
    local out = {}
    for field in (head:gsub("\r\n(%S)", "\r\n\0%1")):gmatch("[^%z]+") do
      local fname = field:match("^([^:]+):")
      local i = field:match("^[^:]+:.-i=(%d+)")
      if fname == name and tonumber(i) == inst then field = fn and fn(field) or "" end
      out[#out + 1] = field
    end
    return table.concat(out) .. body
  end
  local one = seal(MSG)
  local two = seal(one, { authentication_results = "arc=pass" })

  it("a sealed chain of two passes with no code", function()
    local r = arc(two)
    assert.equal("pass", r.result, r.problem)
    assert.is_nil(r.code)
  end)

  for _, case in ipairs{
    { "arc_ams_failed", "body_hash_mismatch", "ams_code", function() return arc(two .. "tampered\r\n") end },
    { "arc_seal_failed", "signature_mismatch", "seal_code", function()
      return arc((two:gsub("dkim=pass header.d=", "dkim=fail header.d=", 1))) end },
    { "arc_ams_failed", "key_revoked", "ams_code", function()
      return arc(two, zone(RSA_KEY, "v=DKIM1; k=rsa; p=")) end },
    { "arc_chain_failed", nil, nil, function() return arc(seal(one, { cv = "fail" })) end },
    { "arc_instance_duplicate", nil, nil, function()
      local aar = two:match("(ARC%-Authentication%-Results: i=2.-\r\n)%S")
      return arc(aar .. two) end },
    { "arc_set_incomplete", nil, nil, function() return arc(edit(two, "ARC-Seal", 1)) end },
    { "arc_instance_gap", nil, nil, function()
      return arc(edit(edit(edit(two, "ARC-Seal", 1), "ARC-Message-Signature", 1),
                      "ARC-Authentication-Results", 1)) end },
    { "arc_instance_invalid", nil, nil, function()
      return arc(edit(two, "ARC-Seal", 1, function(f) return (f:gsub("; i=1;", "; i=x;", 1)) end)) end },
  } do
    it(case[1] .. (case[2] and (" (" .. case[3] .. " " .. case[2] .. ")") or ""), function()
      local r = case[4]()
      assert.equal("fail", r.result)
      assert.equal(case[1], r.code, r.problem)
      if case[2] then
        local found
        for _, e in ipairs(r.chain) do found = found or (e[case[3]] == case[2]) end
        assert.is_true(found, case[3] .. " " .. case[2])
      end
    end)
  end

  it("every code of the ValiMail validation suite is documented", function()
    local docs = suite.load(helpers.testdata("arc/") .. "arc-draft-validation-tests.yml")
    local seen = {}
    for _, t in ipairs(suite.tests(docs)) do
      codes_of(mailauth.arc_verify(suite.crlf(t.test.message),
        { resolver = suite.resolver(t.scenario["txt-records"]), now = 1700000000 }), seen)
    end
    for _, code in ipairs{ "arc_seal_failed", "arc_ams_failed", "arc_cv_invalid", "arc_chain_failed" } do
      assert.truthy(seen[code], code)
    end
  end)
end)

describe("codes: the signers", function()
  local function run(kind, params)
    local r = assert(mailauth.core.run(kind, params, mailauth.core.zone_resolver({})))
    codes_of(r, {})
    return r
  end
  local base = { domain = DOMAIN, selector = "test", key = RSA_PEM, now = NOW }
  local function with(t)
    local o = {}
    for k, v in pairs(base) do o[k] = v end
    for k, v in pairs(t) do o[k] = v end
    return o
  end
  local sealed = assert(mailauth.arc_seal(MSG, with { authentication_results = "arc=none" })) .. "\r\n" .. MSG

  for _, case in ipairs{
    { "dkim_sign", "from_missing", with { message = "Subject: no author\r\n\r\nbody\r\n" } },
    { "dkim_sign", "signing_key_unreadable", with { message = MSG, key = "not a key" } },
    { "dkim_sign", "signing_key_mismatch", with { message = MSG, key = ED_PEM } },
    { "arc_seal", "signing_key_mismatch", with { message = MSG, key = ED_PEM, authentication_results = "arc=none" } },
    { "arc_seal", "arc_cv_missing", with { message = sealed, authentication_results = "spf=pass" } },
    { "arc_seal", "arc_cv_invalid", with { message = MSG, authentication_results = "arc=pass" } },
    { "arc_seal", "authres_too_long", with { message = MSG, authentication_results = ("x"):rep(20000) } },
  } do
    it(case[1] .. " -> " .. case[2], function()
      local r = run(case[1], case[3])
      assert.is_nil(r.header or r.seal)
      assert.equal(case[2], r.code, r.problem)
    end)
  end
end)
