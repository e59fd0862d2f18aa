-- ARC (RFC 8617): the ValiMail validation and signing suites, stalwart's
-- real chains, and the API's edges.  Data: ../shared/testdata/arc/ (SOURCES.md there).
local mailauth = require "mailauth"
local suite = require "spec.support.arc_suite"
local helpers = require "spec.support.helpers"

local NOW = 1700000000
local DIR = helpers.skip_without_testdata("arc/")
if not DIR then return end

local read = helpers.read
local fakedns = require "fakedns"

-- The three tests whose newest seal already says cv=fail expect "" (the
-- ValiMail runner prints nothing when dkimpy gives no cv).  RFC 8617 §5.2
-- step 2: such a chain's validation status is "fail".
local EMPTY_CV = {
  cv_fail_i1_as_cv_fail = true, cv_fail_i2_as2_fail = true, cv_fail_i2_as1_fail = true,
}

describe("arc: ValiMail validation suite", function()
  local docs = suite.load(DIR .. "arc-draft-validation-tests.yml")
  local tests = suite.tests(docs)
  local counts = { pass = 0, fail = 0, none = 0, empty = 0 }

  it("has the 171 tests SOURCES.md counts", function()
    assert.equal(171, #tests)
  end)

  for _, t in ipairs(tests) do
    local want = (t.test.cv or ""):lower():gsub("%s", "")
    local label = ("%s / %s"):format(t.scenario.description, t.name)
    if want == "" then
      assert(EMPTY_CV[t.name], "unexpected empty cv: " .. t.name)
      it("empty expectation, scored as RFC 8617 §5.2 step 2 (fail): " .. label, function()
        local r = mailauth.arc_verify(suite.crlf(t.test.message),
          { resolver = suite.resolver(t.scenario["txt-records"]), now = NOW })
        assert.equal("fail", r.result)
        assert.matches("cv=", r.problem)
        counts.empty = counts.empty + 1
      end)
    else
      it(label .. " -> " .. want, function()
        local r = mailauth.arc_verify(suite.crlf(t.test.message),
          { resolver = suite.resolver(t.scenario["txt-records"]), now = NOW })
        assert.equal(want, r.result, r.problem)
        counts[want] = counts[want] + 1
      end)
    end
  end

  it("scored every test (pass/fail/none and the three empty ones)", function()
    -- SOURCES.md: Fail 109, Pass 54, None 5, empty 3
    assert.same({ pass = 54, fail = 109, none = 5, empty = 3 }, counts)
    assert.equal(#tests, counts.pass + counts.fail + counts.none + counts.empty)
  end)
end)

describe("arc: why ValiMail cases fail or pass", function()
  local docs = suite.load(DIR .. "arc-draft-validation-tests.yml")
  local by = {}
  for _, t in ipairs(suite.tests(docs)) do by[t.name] = t end
  local function run(name)
    local t = by[name]
    return mailauth.arc_verify(suite.crlf(t.test.message),
      { resolver = suite.resolver(t.scenario["txt-records"]), now = NOW })
  end

  it("a 512-bit seal key is refused (RFC 8301 §3.2)", function()
    local r = run("as_fields_b_512")
    assert.equal("fail", r.result)
    assert.matches("512%-bit RSA key", r.problem)
  end)

  it("an older AMS that no longer validates is recorded, oldest_pass says from where", function()
    local r = run("cv_pass_i2_1_ams1_invalid")
    assert.equal("pass", r.result)
    assert.equal(2, r.oldest_pass)
    assert.equal("fail", r.chain[1].ams_result)
    assert.equal("pass", r.chain[2].ams_result)
  end)

  it("reports the chain oldest first with the AAR text", function()
    local r = run("cv_pass_i2_1")
    assert.equal(2, r.instances)
    assert.equal(0, r.oldest_pass)
    assert.same({ 1, 2 }, { r.chain[1].instance, r.chain[2].instance })
    assert.equal("none", r.chain[1].cv)
    assert.equal("pass", r.chain[2].cv)
    assert.equal("example.org", r.chain[2].domain)
    assert.equal("dummy", r.chain[2].selector)
    assert.matches("^i=2;", r.chain[2].authentication_results)
  end)

  it("a missing set is a structural failure", function()
    local r = run("as_struct_missing")
    assert.equal("fail", r.result)
    assert.matches("incomplete", r.problem)
  end)

  it("an AMS signing ARC-Seal fails (§4.1.2)", function()
    local r = run("ams_fields_h_includes_as")
    assert.equal("fail", r.result)
    assert.matches("ARC%-Seal", r.problem)
  end)

  it("asks every key in one step, each name once", function()
    local t = by["cv_pass_i5_1"]
    local resolve, dns = suite.resolver(t.scenario["txt-records"])
    local names = dns.names
    local r = mailauth.arc_verify(suite.crlf(t.test.message), { now = NOW, resolver = resolve })
    assert.equal("pass", r.result)
    assert.equal(5, r.instances)
    assert.same({ "dummy._domainkey.example.org" }, names)
  end)
end)

describe("arc: ValiMail signing suite", function()
  local docs = suite.load(DIR .. "arc-draft-sign-tests.yml")
  local function nows(s) return ((s or ""):gsub("%s", "")) end
  local exact, total = 0, 0

  -- The A-R results the signer carries: those of srv-id's A-R fields,
  -- merged in order (as dkimpy's arc_sign, which made the suite, does).
  local function ar_of(msg, srv)
    local head = msg:match("^(.-\r\n)\r\n") or msg
    local parts = {}
    for v in (head:gsub("\r\n[ \t]", " ")):gmatch("[Aa]uthentication%-[Rr]esults:%s*([^\r\n]*)") do
      local id, rest = v:match("^%s*([^;%s]+)%s*;?(.*)$")
      if id == srv then
        for item in rest:gmatch("[^;]+") do
          item = item:match("^%s*(.-)%s*$")
          if item ~= "" then parts[#parts + 1] = item end
        end
      end
    end
    return table.concat(parts, "; ")
  end

  for _, t in ipairs(suite.tests(docs)) do
    local T = t.test
    it(("%s / %s"):format(t.scenario.description, t.name), function()
      local msg = suite.crlf(T.message)
      local hs = {}
      for h in T["sig-headers"]:gmatch("[^:]+") do hs[#hs + 1] = h end
      local text, f = mailauth.arc_seal(msg, { domain = t.scenario.domain,
        selector = t.scenario.sel, key = t.scenario.privatekey, authserv_id = T["srv-id"],
        authentication_results = ar_of(msg, T["srv-id"]), headers = hs, now = T.t })
      if nows(T.AS) == "" then
        -- no_additional_sig: the newest seal says cv=fail, no set is added
        assert.is_nil(text)
        assert.matches("cv=fail", f)
        total, exact = total + 3, exact + 3
        return
      end
      assert.is_string(text, f)
      assert.equal(f.seal .. "\r\n" .. f.message_signature .. "\r\n" .. f.authentication_results, text)
      local got = {
        AS = f.seal:match("^ARC%-Seal:(.*)$"),
        AMS = f.message_signature:match("^ARC%-Message%-Signature:(.*)$"),
        AAR = f.authentication_results:match("^ARC%-Authentication%-Results:(.*)$"),
      }
      -- the suite's README: compare after removing whitespace
      for _, k in ipairs{ "AS", "AMS", "AAR" } do
        assert.equal(nows(T[k]), nows(got[k]), k)
        total, exact = total + 1, exact + 1
      end
      -- and the new chain validates (cv=fail: it says so itself)
      local r = mailauth.arc_verify(text .. "\r\n" .. msg,
        { resolver = suite.resolver(t.scenario["txt-records"]), now = NOW })
      if f.cv == "fail" then
        assert.equal("fail", r.result)
      else
        assert.equal("pass", r.result, r.problem)
        assert.equal(f.instance, r.instances)
      end
    end)
  end

  it("matched all 17 tests x 3 header fields", function()
    assert.equal(51, total)
    assert.equal(51, exact)
  end)
end)

describe("arc: stalwart real chains", function()
  for line in read(DIR .. "stalwart/expected.tsv"):gmatch("[^\n]+") do
    local file, want = line:match("^(%d+%.txt)\t(%a+)")
    if file then
      it(file .. " -> " .. want, function()
        local dns, msg = read(DIR .. "stalwart/" .. file):match("^(.-)\n\n(.*)$")
        local recs = {}
        for l in dns:gmatch("[^\n]+") do
          local n, v = l:match("^(%S+) (.*)$")
          recs[n] = v
        end
        local r = mailauth.arc_verify(suite.crlf(msg), { resolver = suite.resolver(recs), now = NOW })
        assert.equal(want, r.result, r.problem)
        for _, c in ipairs(r.chain) do
          assert.equal("pass", c.seal_result)
          assert.equal("pass", c.ams_result)
        end
      end)
    end
  end
end)

describe("arc: hostile input stays bounded", function()
  local body = "From: a@example.com\r\n\r\nbody\r\n"
  local function count_verify(msg)
    local dns = fakedns.new({})
    local t0 = os.clock()
    local r = mailauth.arc_verify(msg, { now = NOW, resolver = dns.resolve })
    return r, dns:count(), os.clock() - t0
  end

  it("more than 150 ARC fields: fail without a lookup", function()
    local r, asked = count_verify(string.rep("ARC-Seal: i=1; a=rsa-sha256; b=AAAA; cv=none; d=x.example; s=s\r\n", 400) .. body)
    assert.equal("fail", r.result)
    assert.matches("more than 150", r.problem)
    assert.equal(0, asked)
  end)

  it("an instance above 50 is a structural failure (§4.2.1)", function()
    local r, asked = count_verify("ARC-Seal: i=51; a=rsa-sha256; b=AAAA; cv=none; d=x.example; s=s\r\n" .. body)
    assert.equal("fail", r.result)
    assert.equal(0, asked)
  end)

  it("50 complete junk sets: one lookup per distinct key name, then fail", function()
    local h = {}
    for i = 50, 1, -1 do
      h[#h + 1] = ("ARC-Seal: i=%d; a=rsa-sha256; b=AAAA; cv=%s; d=d%d.example; s=s"):format(i, i == 1 and "none" or "pass", i)
      h[#h + 1] = ("ARC-Message-Signature: i=%d; a=rsa-sha256; b=AAAA; bh=%s; c=relaxed/relaxed; d=d%d.example; s=s; h=from; l=%d"):format(i, ("A"):rep(43) .. "=", i, i)
      h[#h + 1] = ("ARC-Authentication-Results: i=%d; mx.example; none"):format(i)
    end
    local r, asked, secs = count_verify(table.concat(h, "\r\n") .. "\r\n" .. body)
    assert.equal("fail", r.result)
    assert.equal(50, r.instances)
    assert.is_true(asked <= 100, tostring(asked))
    assert.is_true(secs < 2)
    -- only four distinct l= body hashes are computed; the rest say so
    local skipped = 0
    for _, c in ipairs(r.chain) do
      if (c.ams_problem or ""):match("too many distinct body hashes") then skipped = skipped + 1 end
    end
    assert.equal(46, skipped)
  end)
end)

describe("arc: API", function()
  local plain = "From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n"

  it("no ARC field: none, no lookup", function()
    local dns = fakedns.new({})
    local r = mailauth.arc_verify(plain, { resolver = dns.resolve, now = NOW })
    assert.equal("none", r.result)
    assert.equal(0, r.instances)
    assert.same({}, r.chain)
    assert.same({}, dns.log)
  end)

  it("a DNS failure on the key is a fail that says temperror", function()
    local docs = suite.load(DIR .. "arc-draft-validation-tests.yml")
    local t
    for _, x in ipairs(suite.tests(docs)) do if x.name == "cv_pass_i1_1" then t = x end end
    local r = mailauth.arc_verify(suite.crlf(t.test.message), { now = NOW,
      resolver = fakedns.new({}, { fault = "SERVFAIL" }).resolve })
    assert.equal("fail", r.result)
    assert.equal("temperror", r.chain[1].seal_result)
  end)

  it("misuse raises errors naming the argument", function()
    assert.has_error(function() mailauth.arc_verify(nil) end)
    assert.has_error(function() mailauth.arc_seal(plain, { selector = "s", key = "k" }) end)
    assert.has_error(function() mailauth.arc_seal(plain, { domain = "d.example", selector = "s",
      key = "k", authentication_results = 5 }) end)
  end)

  it("a bad key is a reason, not an error", function()
    local text, why = mailauth.arc_seal(plain, { domain = "example.com", selector = "s",
      key = "not a key", authserv_id = "mx.example", authentication_results = "spf=pass" })
    assert.is_nil(text)
    assert.is_string(why)
  end)

  it("a fresh message takes cv=none only", function()
    local docs = suite.load(DIR .. "arc-draft-sign-tests.yml")
    local text, why = mailauth.arc_seal(plain, { domain = "example.org", selector = "dummy",
      key = docs[1].privatekey, authserv_id = "mx.example", authentication_results = "arc=pass" })
    assert.is_nil(text)
    assert.matches("cv must be none", why)
  end)
end)
