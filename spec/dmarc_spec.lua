-- DMARC (RFC 7489; DMARCbis tree walk as an option) and the Organizational
-- Domain from the Public Suffix List.  Data: RFC 7489 Appendix B and §6.6.3
-- (records and outcomes transcribed below), ValiMail authheaders' DMARC cases
-- and the PSL project's test vectors (../shared/testdata/dmarc/SOURCES.md).

local mailauth = require "mailauth"
local lyaml = require "lyaml"
local helpers = require "spec.support.helpers"

local FIX = helpers.skip_without_testdata("dmarc/")
if not FIX then return end
local PSL = FIX .. "psl/public_suffix_list.dat"

local read = helpers.read

-- The fake DNS over { [name] = { TXT = {...}, A = {...} } }; a name whose
-- node is "SERVFAIL" fails; unknown names are NXDOMAIN; log gets "QTYPE name".
local fakedns = require "fakedns"
local function table_resolver(data, log)
  return fakedns.new(data, { log = log }).resolve
end

describe("mailauth.org_domain (PSL test vectors, publicsuffix/list tests/tests.txt)", function()
  -- RFC 7489 §3.2: the Organizational Domain is the registrable domain.
  local n = 0
  for line in io.lines(FIX .. "psl/tests.txt") do
    local input, expect = line:match("^(%S+) (%S+)$")
    -- "null null" is a NULL pointer input in C; Lua callers cannot pass one.
    if input and not line:find("^//") and input ~= "null" then
      n = n + 1
      it(("%s -> %s"):format(input, expect), function()
        local org, registrable = mailauth.org_domain(input, { psl_file = PSL })
        if expect == "null" then
          assert.is_nil(registrable)
        else
          assert.equal(expect, registrable)
          assert.equal(expect, org)
        end
      end)
    end
  end
  it("has all 77 non-NULL vectors", function() assert.equal(77, n) end)

  it("uses the system list by default and caches it", function()
    assert.equal("example.co.uk", (mailauth.org_domain("a.b.example.co.uk")))
    assert.equal("com", (mailauth.org_domain("com")))
  end)

  it("answers nil, nil and the problem for a list file that cannot be read", function()
    local org, reg, problem = mailauth.org_domain("example.com", { psl_file = "/nonexistent/psl.dat" })
    assert.is_nil(org)
    assert.is_nil(reg)
    assert.matches("/nonexistent/psl%.dat", problem)
  end)
end)

-- RFC 7489 Appendix B.1: identifier alignment examples.
describe("dmarc alignment (RFC 7489 Appendix B.1)", function()
  local zone = {
    ["_dmarc.example.com"] = { TXT = { "v=DMARC1; p=reject" } },
    ["_dmarc.s.example.com"] = { TXT = {} },
  }
  local strict = {
    ["_dmarc.example.com"] = { TXT = { "v=DMARC1; p=reject; adkim=s; aspf=s" } },
  }
  local function run(from, spf_domain, dkim_domain, data)
    return mailauth.dmarc{
      from = from, pct_roll = 0,
      spf = spf_domain and { result = "pass", domain = spf_domain } or nil,
      dkim = dkim_domain and { { result = "pass", domain = dkim_domain } } or nil,
      resolver = table_resolver(data or zone),
    }
  end

  -- B.1.1 SPF
  it("B.1.1: MAIL FROM example.com, From example.com: aligned", function()
    local r = run("example.com", "example.com")
    assert.equal("pass", r.result)
    assert.is_true(r.spf_aligned)
    assert.is_true(run("example.com", "example.com", nil, strict).spf_aligned)
  end)
  it("B.1.1: MAIL FROM child.example.com, From example.com: relaxed only", function()
    assert.is_true(run("example.com", "child.example.com").spf_aligned)
    local r = run("example.com", "child.example.com", nil, strict)
    assert.is_false(r.spf_aligned)
    assert.equal("fail", r.result)
  end)
  it("B.1.1: MAIL FROM example.com, From child.example.com: relaxed only", function()
    assert.is_true(run("child.example.com", "example.com").spf_aligned)
    assert.is_false(run("child.example.com", "example.com", nil, strict).spf_aligned)
  end)
  -- B.1.2 DKIM
  it("B.1.2: d=example.com, From example.com: aligned", function()
    assert.is_true(run("example.com", nil, "example.com").dkim_aligned)
    assert.is_true(run("example.com", nil, "example.com", strict).dkim_aligned)
  end)
  it("B.1.2: d=example.com, From child.example.com: relaxed only", function()
    assert.is_true(run("child.example.com", nil, "example.com").dkim_aligned)
    assert.is_false(run("child.example.com", nil, "example.com", strict).dkim_aligned)
  end)
  it("B.1.3: d=sample.net, From example.com: not aligned", function()
    local r = run("example.com", nil, "sample.net")
    assert.is_false(r.dkim_aligned)
    assert.equal("fail", r.result)
    assert.equal("reject", r.disposition)
  end)
  it("a failing SPF or DKIM result never aligns (§4.2)", function()
    local r = mailauth.dmarc{ from = "example.com", pct_roll = 0,
      spf = { result = "softfail", domain = "example.com" },
      dkim = { { result = "fail", domain = "example.com" } },
      resolver = table_resolver(zone) }
    assert.equal("fail", r.result)
    assert.is_false(r.spf_aligned)
    assert.is_false(r.dkim_aligned)
  end)
end)

-- RFC 7489 Appendix B.2: Domain Owner example records.
describe("dmarc records (RFC 7489 Appendix B.2)", function()
  local function check(record, from, roll)
    local data = { ["_dmarc.example.com"] = { TXT = { record } } }
    return mailauth.dmarc{ from = from or "example.com", pct_roll = roll or 0,
      spf = { result = "fail", domain = "example.com" }, resolver = table_resolver(data) }
  end

  it("B.2.1 entire domain, monitoring only", function()
    local r = check("v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com")
    assert.equal("fail", r.result)
    assert.equal("none", r.policy)
    assert.equal("none", r.disposition)
    assert.same({ "mailto:dmarc-feedback@example.com" }, r.rua)
    assert.same({}, r.ruf)
    assert.equal("example.com", r.policy_domain)
  end)
  it("B.2.2 monitoring with per-message reports", function()
    local r = check("v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com; ruf=mailto:auth-reports@example.com")
    assert.same({ "mailto:auth-reports@example.com" }, r.ruf)
  end)
  it("B.2.3 failure reports to a third party", function()
    local r = check("v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com; ruf=mailto:auth-reports@thirdparty.example.net")
    assert.same({ "mailto:auth-reports@thirdparty.example.net" }, r.ruf)
  end)
  describe("B.2.4 subdomain, sampling and several rua URIs", function()
    local rec = "v=DMARC1; p=quarantine; rua=mailto:dmarc-feedback@example.com,mailto:tld-test@thirdparty.example.net!10m; pct=25"
    local data = { ["_dmarc.test.example.com"] = { TXT = { rec } } }
    local function run(roll)
      return mailauth.dmarc{ from = "test.example.com", pct_roll = roll, resolver = table_resolver(data) }
    end
    it("quarantines the 25% sample", function()
      local r = run(24)
      assert.equal("fail", r.result)
      assert.equal("quarantine", r.policy)
      assert.equal("quarantine", r.disposition)
      assert.equal(25, r.pct)
      assert.same({ "mailto:dmarc-feedback@example.com", "mailto:tld-test@thirdparty.example.net!10m" }, r.rua)
    end)
    it("applies the next lower policy outside the sample (§6.6.4)", function()
      local r = run(25)
      assert.equal("quarantine", r.policy)
      assert.equal("none", r.disposition)
    end)
  end)
end)

-- RFC 7489 §6.6.3 policy discovery and §6.3 record syntax.
describe("dmarc policy discovery (RFC 7489 §6.6.3)", function()
  local function run(data, from, extra)
    local opts = { from = from or "mail.example.com", pct_roll = 0, resolver = table_resolver(data) }
    for k, v in pairs(extra or {}) do opts[k] = v end
    return mailauth.dmarc(opts)
  end

  it("falls back to the Organizational Domain and applies sp", function()
    local r = run{ ["_dmarc.example.com"] = { TXT = { "v=DMARC1; p=none; sp=reject" } } }
    assert.equal("fail", r.result)
    assert.equal("example.com", r.policy_domain)
    assert.equal("example.com", r.org_domain)
    assert.equal("reject", r.policy)
    assert.equal("sp", r.policy_tag)
  end)
  it("asks _dmarc.<from> and _dmarc.<org> in one step", function()
    local log = {}
    local seen = {}
    mailauth.dmarc{ from = "mail.example.com", pct_roll = 0, resolver = table_resolver({}, log) }
    for _, q in ipairs(log) do seen[q] = true end
    assert.equal(2, #log)
    assert.is_true(seen["TXT _dmarc.mail.example.com"])
    assert.is_true(seen["TXT _dmarc.example.com"])
  end)
  it("discards records that do not start with v=DMARC1", function()
    local r = run{ ["_dmarc.mail.example.com"] = { TXT = { "v=spf1 -all", "p=reject; v=DMARC1", "V=DMARC1; p=reject" } },
                   ["_dmarc.example.com"] = { TXT = { "v=DMARC1; p=quarantine" } } }
    assert.equal("example.com", r.policy_domain)
    assert.equal("quarantine", r.policy)
  end)
  it("stops with no policy when several records are published", function()
    local r = run{ ["_dmarc.mail.example.com"] = { TXT = { "v=DMARC1; p=reject", "v=DMARC1; p=none" } },
                   ["_dmarc.example.com"] = { TXT = { "v=DMARC1; p=quarantine" } } }
    assert.equal("none", r.result)
    assert.matches("several", r.problem)
  end)
  it("treats an invalid p= with a valid rua= as p=none (step 6)", function()
    local r = run({ ["_dmarc.example.com"] = { TXT = { "v=DMARC1; p=bogus; rua=mailto:r@example.com" } } }, "example.com")
    assert.equal("fail", r.result)
    assert.equal("none", r.policy)
  end)
  it("applies no DMARC for an invalid p= without rua= (step 6)", function()
    local r = run({ ["_dmarc.example.com"] = { TXT = { "v=DMARC1; p=bogus" } } }, "example.com")
    assert.equal("none", r.result)
  end)
  it("applies no DMARC for an invalid sp= without rua= (step 6)", function()
    local r = run({ ["_dmarc.example.com"] = { TXT = { "v=DMARC1; p=reject; sp=maybe" } } }, "example.com")
    assert.equal("none", r.result)
  end)
  it("ignores unknown tags and bad optional values (§6.3)", function()
    local r = run({ ["_dmarc.example.com"] = { TXT = { "v=DMARC1; p=reject; foo=bar; adkim=x; pct=300" } } }, "example.com")
    assert.equal("reject", r.policy)
    assert.equal("r", r.adkim)
    assert.equal(100, r.pct)
  end)
  it("accepts whitespace around = and ; and policy words in any case", function()
    local r = run({ ["_dmarc.example.com"] = { TXT = { "v = DMARC1 ;p = Reject ; aspf = s" } } }, "example.com")
    assert.equal("reject", r.policy)
    assert.equal("s", r.aspf)
  end)
  it("is temperror when the record lookup fails", function()
    local r = run{ ["_dmarc.mail.example.com"] = "SERVFAIL" }
    assert.equal("temperror", r.result)
  end)
  it("is none when nothing is published", function()
    local r = run{}
    assert.equal("none", r.result)
    assert.equal("none", r.disposition)
  end)
  it("is permerror for several distinct From domains (multi-From bypass)", function()
    local r = mailauth.dmarc{ from_domains = { "example.org", "Example.COM" }, resolver = table_resolver{} }
    assert.equal("permerror", r.result)
    assert.matches("several", r.problem)
  end)
  it("accepts repeated From addresses of one domain", function()
    local r = mailauth.dmarc{ from_domains = { "example.com", "EXAMPLE.com." }, pct_roll = 0,
      resolver = table_resolver{ ["_dmarc.example.com"] = { TXT = { "v=DMARC1; p=reject" } } } }
    assert.equal("fail", r.result)
    assert.equal("example.com", r.domain)
  end)
  it("is permerror with no From domain", function()
    assert.equal("permerror", mailauth.dmarc{ from_domains = {}, resolver = table_resolver{} }.result)
    assert.equal("permerror", mailauth.dmarc{ from = "Test User", resolver = table_resolver{} }.result)
  end)
  it("raises on misuse", function()
    assert.has_error(function() mailauth.dmarc() end)
    assert.has_error(function() mailauth.dmarc{ resolver = table_resolver{} } end)
    assert.has_error(function() mailauth.dmarc{ from = "example.com", org_domain = "dns", resolver = table_resolver{} } end)
    assert.has_error(function() mailauth.dmarc{ from = "example.com", pct_roll = 100, resolver = table_resolver{} } end)
  end)
end)

describe("dmarc over an offline zone (the C driver loop)", function()
  -- RFC 7489 Appendix B.2.4's record, served from master-file text.
  local zone = table.concat({
    "$ORIGIN example.com.",
    "@ 300 IN SOA ns hostmaster 1 3600 600 86400 300",
    "@ 300 IN A 192.0.2.1",
    '_dmarc.test 300 IN TXT "v=DMARC1; p=quarantine; " "rua=mailto:dmarc-feedback@example.com," '
      .. '"mailto:tld-test@thirdparty.example.net!10m; " "pct=25"',
  }, "\n") .. "\n"
  it("joins the record's strings and applies it", function()
    local r = mailauth.dmarc{ from = "test.example.com", pct_roll = 3,
      dkim = { { result = "pass", domain = "other.example" } },
      resolver = mailauth.resolver{ zones = { zone } } }
    assert.equal("fail", r.result)
    assert.equal("quarantine", r.disposition)
    assert.equal(2, #r.rua)
  end)
end)

describe("dmarc hostile input", function()
  it("bounds the number of DKIM results looked at", function()
    local dkim = {}
    for i = 1, 500 do dkim[i] = { result = "fail", domain = "x" .. i .. ".example" } end
    dkim[501] = { result = "pass", domain = "example.com" }
    local r = mailauth.dmarc{ from = "example.com", dkim = dkim, pct_roll = 0,
      resolver = table_resolver{ ["_dmarc.example.com"] = { TXT = { "v=DMARC1; p=reject" } } } }
    assert.equal("pass", r.result)   -- failing ones are skipped, not counted
    dkim = {}
    for i = 1, 1100 do dkim[i] = { result = "fail", domain = "x" .. i .. ".example" } end
    dkim[1101] = { result = "pass", domain = "example.com" }
    r = mailauth.dmarc{ from = "example.com", dkim = dkim, pct_roll = 0,
      resolver = table_resolver{ ["_dmarc.example.com"] = { TXT = { "v=DMARC1; p=reject" } } } }
    assert.equal("fail", r.result)   -- only the first 1024 results are read
  end)
  it("bounds the record size", function()
    local big = "v=DMARC1; p=reject; rua=" .. ("mailto:a@example.com,"):rep(400)
    local r = mailauth.dmarc{ from = "example.com", resolver = table_resolver{ ["_dmarc.example.com"] = { TXT = { big } } } }
    assert.equal("none", r.result)
    assert.matches("too long", r.problem)
  end)
  it("survives NUL bytes, odd tags and 10000 tags", function()
    local recs = { "v=DMARC1; p=reject\0; x", "v=DMARC1;;;;=;==;p", "v=DMARC1; p=reject;" .. ("a=b;"):rep(900) }
    for _, rec in ipairs(recs) do
      local r = mailauth.dmarc{ from = "example.com", resolver = table_resolver{ ["_dmarc.example.com"] = { TXT = { rec } } } }
      assert.is_string(r.result)
    end
  end)
  it("treats an unusable From domain as permerror", function()
    for _, d in ipairs{ "", "a..b", ("a"):rep(300) .. ".com", "ex\0ample.com", "-" } do
      local r = mailauth.dmarc{ from = d, resolver = table_resolver{} }
      assert.equal("permerror", r.result)
    end
  end)
end)

describe("dmarc tree walk (org_domain = 'tree', DMARCbis)", function()
  it("asks at most 8 names, all in one step", function()
    local log = {}
    local r = mailauth.dmarc{ from = "a.b.c.d.e.f.g.h.i.example.com", org_domain = "tree", pct_roll = 0,
      resolver = table_resolver({ ["_dmarc.example.com"] = { TXT = { "v=DMARC1; p=reject" } } }, log) }
    assert.equal(8, #log)
    assert.equal("TXT _dmarc.a.b.c.d.e.f.g.h.i.example.com", log[1])
    assert.equal("example.com", r.org_domain)
    assert.equal("example.com", r.policy_domain)
    assert.equal("reject", r.policy)
  end)
  it("takes the org domain at psd=n and one below psd=y", function()
    local data = { ["_dmarc.example.com"] = { TXT = { "v=DMARC1; p=none; psd=y" } },
                   ["_dmarc.b.example.com"] = { TXT = { "v=DMARC1; p=reject" } } }
    local r = mailauth.dmarc{ from = "a.b.example.com", org_domain = "tree", pct_roll = 0,
      dkim = { { result = "pass", domain = "c.b.example.com" } }, resolver = table_resolver(data) }
    assert.equal("b.example.com", r.org_domain)
    assert.equal("pass", r.result)
    r = mailauth.dmarc{ from = "a.b.example.com", org_domain = "tree", pct_roll = 0,
      dkim = { { result = "pass", domain = "x.example.com" } }, resolver = table_resolver(data) }
    assert.equal("fail", r.result)
  end)
  it("walks a passing identifier's tree too, in the same step, unless it cannot align", function()
    local log = {}
    local r = mailauth.dmarc{ from = "a.example.com", org_domain = "tree", pct_roll = 0,
      dkim = { { result = "pass", domain = "b.example.com" }, { result = "pass", domain = "unrelated.org" },
               { result = "fail", domain = "c.example.com" } },
      resolver = table_resolver({ ["_dmarc.example.com"] = { TXT = { "v=DMARC1; p=reject" } } }, log) }
    table.sort(log)
    assert.same({ "TXT _dmarc.a.example.com", "TXT _dmarc.b.example.com", "TXT _dmarc.com",
                  "TXT _dmarc.example.com" }, log)
    assert.equal("pass", r.result)
    assert.equal("b.example.com", r.dkim_domain)
  end)
  it("t=y lowers the disposition (testing mode)", function()
    local r = mailauth.dmarc{ from = "example.com", org_domain = "tree", pct_roll = 0,
      resolver = table_resolver{ ["_dmarc.example.com"] = { TXT = { "v=DMARC1; p=reject; t=y" } } } }
    assert.equal("reject", r.policy)
    assert.equal("quarantine", r.disposition)
  end)
end)

-- ValiMail authheaders' DMARC cases (../shared/testdata/dmarc/authheaders/cases.yml).
describe("dmarc: authheaders cases", function()
  local doc = lyaml.load(read(FIX .. "authheaders/cases.yml"))
  -- Where authheaders' choice is not RFC 7489's, mailauth's outcome and the
  -- section that decides it.
  local ours = {
    test_authenticate_dmarc_bad = { dmarc = "fail", policy = "none",
      why = "RFC 7489 §6.3: syntax errors in the rest of the record are discarded; p=none applies" },
    test_authenticate_dmarc_mult_from = { dmarc = "permerror",
      why = "RFC 7489 §6.6.1 lets receivers reject several From domains; mailauth does (multi-From bypass)" },
    test_authenticate_dmarc_mult_from2 = { dmarc = "permerror", why = "same as mult_from" },
    -- Re-scored for RFC 9989 (draft-ietf-dmarc-dmarcbis-41 §3.2.13 and
    -- Appendix A.4): only NXDOMAIN makes a name non-existent; "if any RR
    -- exists for a domain, then the domain exists" and NODATA means the
    -- name exists.  The stub answers example.gov with no records (NODATA,
    -- not NXDOMAIN), so the Author Domain exists and the PSD record's
    -- sp=none applies (§4.10.1), not np=reject (RFC 9091's NODATA rule,
    -- which authheaders follows).  Still fail: nothing aligns.
    test_authenticate_dmarc_psdsub = { dmarc = "fail", policy = "none",
      why = "RFC 9989 §3.2.13: NODATA is an existing domain, so sp= applies, not np=" },
  }

  local function from_domains(message)
    local text = read(FIX .. "authheaders/" .. message):gsub("\r\n", "\n")
    local head = text:match("^(.-)\n\n") or text
    local value = ("\n" .. head):match("\n[Ff][Rr][Oo][Mm]:([^\n]*)")
    local out = {}
    -- quoted display names may hold commas and at-signs; drop them first
    value = value:gsub('"[^"]*"', "")
    for d in value:gmatch("@([%w%.%-]+)") do out[#out + 1] = d end
    return out
  end

  local function dkim_domain(message)
    local text = read(FIX .. "authheaders/" .. message)
    return text:match("DKIM%-Signature:.-[%s;]d=([%w%.%-]+)")
  end

  local function resolver(case)
    local data = {}
    for name, rec in pairs(case.dns_txt) do
      if name:find("^_dmarc%.") then
        data[name] = { TXT = rec ~= "" and { rec } or {} }
      elseif rec ~= "" then
        -- the stub's existence answer (a host name): an MX record here
        data[name] = { MX = { { preference = 10, exchange = rec } } }
      else
        data[name] = {}
      end
    end
    for _, name in ipairs(case.nxdomain or {}) do data[name] = nil end
    for _, name in ipairs(case.exists or {}) do data[name] = data[name] or { MX = { { preference = 10, exchange = name } } } end
    return table_resolver(data)
  end

  for _, case in ipairs(doc.cases) do
    it(case.id, function()
      local dkim = {}
      if case.dkim_results then
        for i, d in ipairs(case.dkim_results) do dkim[i] = { result = d.result, domain = d.header_d } end
      elseif case.verify_dkim then
        dkim[1] = { result = case.expect.dkim, domain = dkim_domain(case.message) }
      end
      local r = mailauth.dmarc{
        from_domains = from_domains(case.message), dkim = dkim, pct_roll = 0,
        org_domain = case.dmarc_mode == "dmarcbis" and "tree" or "psl",
        resolver = resolver(case),
      }
      local want = ours[case.id] or case.expect
      assert.equal(want.dmarc, r.result)
      -- The dmarc= entry mailauth writes says what authheaders' header says.
      if not ours[case.id] then
        local theirs = assert(mailauth.authres.parse(case.expect.authheaders_ar))
        local mine = assert(mailauth.authres.parse(mailauth.authres.format({ dmarc = r }, "example.com")))
        local function entry(ar)
          for _, res in ipairs(ar.results) do
            if res.method == "dmarc" then
              local from
              for _, prop in ipairs(res.properties) do
                if prop.ptype == "header" and prop.property == "from" then from = prop.value end
              end
              return res.result, from
            end
          end
        end
        local tr, tf = entry(theirs)
        local mr, mf = entry(mine)
        assert.equal(tr, mr)
        if tf ~= nil and tf ~= "none" then assert.equal(tf, mf) end
      end
      if want.policy and want.dmarc ~= "permerror" then assert.equal(want.policy, r.policy) end
      if case.expect.header_from and case.expect.header_from ~= "none" and r.result ~= "permerror" then
        assert.equal(case.expect.header_from, r.domain)
      end
    end)
  end
end)
