-- A differential against OpenDMARC's tree walk as its own tests document
-- it (trusteddomainproject/OpenDMARC, after PR #433):
--   libopendmarc/tests/test_dmarc_walk.c with the records of
--   testfiles/test-dns.zone.inc (its "dmarcwalk" subtree, deployed under
--   gushi.org) and the gushi.org apex record of testfiles/gushi.org.zone.inc;
--   libopendmarc/tests/test_subdomain_fallback.c (its label walk without a
--   PSL, and the PSL path);
--   libopendmarc/tests/test_alignment.c (relaxed/strict pairs).
-- The cases are transcribed as facts (names, records, what OpenDMARC's test
-- asserts); the zones below are written here.  Where mailauth answers
-- otherwise, the case says so and names the section of RFC 9989 (section
-- numbers of draft-ietf-dmarc-dmarcbis-41, which RFC 9989 was published
-- from).  OpenDMARC's "utilized domain" is the Organizational Domain it
-- found; mailauth's is org_domain, and policy_domain is where the applied
-- record sits (§3.2.5), which differs only when the PSD's record applies.
local mailauth = require "mailauth"
local fakedns = require "fakedns"
local helpers = require "spec.support.helpers"

local FIX = helpers.testdata("dmarc/")
local PSL_FILE = FIX and FIX .. "psl/public_suffix_list.dat" or nil

local Z = "dmarcwalk.gushi.org"
local ZONE = {
  ["_dmarc.gushi.org"] = "v=DMARC1; p=none; adkim=r; aspf=r; rf=afrf; sp=reject;",
  ["_dmarc." .. Z] = "v=DMARC1; p=reject; psd=y;",
  ["_dmarc.direct." .. Z] = "v=DMARC1; p=reject;",
  ["_dmarc.nopsd." .. Z] = "v=DMARC1; p=quarantine;",
  ["_dmarc.psdn." .. Z] = "v=DMARC1; p=reject; psd=n;",
  ["_dmarc.psdy." .. Z] = "v=DMARC1; p=none; psd=y;",
  ["_dmarc.d3.d2.d1.eightlabel." .. Z] = "v=DMARC1; p=reject; psd=n;",
  ["_dmarc.multirecord." .. Z] = { "v=DMARC1; p=reject;", "v=DMARC1; p=quarantine;" },
}

local function resolver(zone)
  local data = {}
  for name, v in pairs(zone) do
    data[name] = { TXT = type(v) == "table" and v or { v } }
  end
  local dns = fakedns.new(data)
  return dns.resolve, dns.names
end

local function run(from, opts, zone)
  local resolve, asked = resolver(zone or ZONE)
  local o = { from = from, org_domain = "tree", resolver = resolve, dkim = {}, pct_roll = 0,
              spf = { result = "fail", domain = "x.example.net" } }
  for k, v in pairs(opts or {}) do o[k] = v end
  return mailauth.dmarc(o), asked
end

describe("OpenDMARC test_dmarc_walk.c (RFC 9989 mode) against mailauth's tree walk", function()
  it("test 0 direct hit: the queried name's own record", function()
    local r = run("direct." .. Z)
    assert.are.equal("direct." .. Z, r.policy_domain)
    -- Difference: OpenDMARC reports discovery_method "unspecified" when the
    -- Author Domain has a record; mailauth says "treewalk", because under
    -- RFC 9989 that first query is step 1 of the walk (§4.10, §4.10.1
    -- "Policy discovery starts first with a query ... at the Author
    -- Domain") and RFC 9990's discovery_method names the method, psl or
    -- treewalk, with no third value.
    assert.are.equal("treewalk", r.discovery_method)
  end)

  it("tests 1-2 psd=n stops the walk: org psdn", function()
    local r = run("sub.psdn." .. Z)
    assert.are.equal("psdn." .. Z, r.org_domain)
    assert.are.equal("psdn." .. Z, r.policy_domain)
    assert.are.equal("reject", r.policy) -- p= for the subdomain: no sp (§4.7 sp)
    assert.are.equal("treewalk", r.discovery_method)
  end)

  it("tests 3-4 no psd= tag: the walk goes on to the psd=y apex, org nopsd", function()
    local r = run("sub.nopsd." .. Z)
    assert.are.equal("nopsd." .. Z, r.org_domain)
    assert.are.equal("nopsd." .. Z, r.policy_domain)
    assert.are.equal("quarantine", r.policy)
  end)

  it("tests 5-6 psd=y: org one label below it (mid.psdy); the PSD's record applies", function()
    local r = run("leaf.mid.psdy." .. Z)
    assert.are.equal("mid.psdy." .. Z, r.org_domain)
    -- Same Organizational Domain as OpenDMARC.  The policy record is the
    -- PSD's (§4.10.1: Author Domain, then Organizational Domain, then
    -- Public Suffix Domain; mid.psdy has none), so policy_domain is psdy.
    assert.are.equal("psdy." .. Z, r.policy_domain)
    assert.are.equal("none", r.policy)
  end)

  it("tests 7-8 over 8 labels: shortened to 7 after the first query (§4.10 step 4)", function()
    local r, asked = run("d6.d5.d4.d3.d2.d1.eightlabel." .. Z)
    assert.are.equal("d3.d2.d1.eightlabel." .. Z, r.org_domain)
    assert.are.equal("_dmarc.d6.d5.d4.d3.d2.d1.eightlabel." .. Z, asked[1])
    assert.are.equal("_dmarc.d3.d2.d1.eightlabel." .. Z, asked[2])
    for _, n in ipairs(asked) do
      assert.is_nil(n:find("^_dmarc%.d5%.") or n:find("^_dmarc%.d4%."), n)
    end
    assert.is_true(#asked <= 8)
  end)

  it("tests 9-10 several records at one name: discarded, org found from above is that name", function()
    local r = run("multirecord." .. Z)
    assert.are.equal("multirecord." .. Z, r.org_domain)
    -- its own records are discarded (§4.10 steps 2 and 6), so the PSD's
    -- record applies (§4.10.1)
    assert.are.equal(Z, r.policy_domain)
    assert.are.equal("reject", r.policy)
  end)

  it("tests 11-12 PSL mode without a list: OpenDMARC says no record, mailauth temperror", function()
    -- Difference: mailauth takes an unreadable list for this host's
    -- trouble, not the sender's: the Organizational Domain cannot be known
    -- without it (RFC 7489 §3.2), and a retry may find it (temperror,
    -- RFC 9989 §4.10.1 leaves DNS-like errors to the receiver).
    local r = run("sub.nopsd." .. Z, { org_domain = "psl", psl_file = "/nonexistent/psl.dat" })
    assert.are.equal("temperror", r.result)
    assert.are.equal("psl_unavailable", r.code)
  end)

  it("the zone file's documented PSL divergence: PSL says gushi.org, the walk nopsd", function()
    if not PSL_FILE then return pending("no PSL test data") end
    local r = run("sub.nopsd." .. Z, { org_domain = "psl", psl_file = PSL_FILE, org_domain_compare = true })
    assert.are.equal("gushi.org", r.org_domain)
    assert.are.equal("gushi.org", r.policy_domain)
    assert.are.equal("reject", r.policy) -- gushi.org's sp=reject
    assert.are.equal("gushi.org", r.org_domain_psl)
    assert.are.equal("nopsd." .. Z, r.org_domain_tree)
    assert.is_true(r.org_domain_differs)
    assert.are.equal("psl", r.discovery_method)
  end)

  it("tests 14-16 secondary alignment walk: siblings under nopsd align (each walked)", function()
    local r, asked = run("sub.nopsd." .. Z,
      { dkim = { { result = "pass", domain = "othersub.nopsd." .. Z } } })
    assert.is_true(r.dkim_aligned)
    local seen = {}
    for _, n in ipairs(asked) do seen[n] = true end
    assert.is_true(seen["_dmarc.othersub.nopsd." .. Z]) -- its own walk (§4.10.2)
    -- OpenDMARC's PSL mode without a list does not align them; mailauth's
    -- PSL mode has no such state (temperror above), and with the list both
    -- are under gushi.org, so they align there too.
    if PSL_FILE then
      r = run("sub.nopsd." .. Z, { org_domain = "psl", psl_file = PSL_FILE,
        dkim = { { result = "pass", domain = "othersub.nopsd." .. Z } } })
      assert.is_true(r.dkim_aligned)
    end
  end)
end)

describe("OpenDMARC test_subdomain_fallback.c against mailauth", function()
  local zone = {
    ["_dmarc.parent1.example"] = "v=DMARC1; p=reject; rua=mailto:dmarc@parent1.example",
    ["_dmarc.own-record.example"] = "v=DMARC1; p=quarantine",
    ["_dmarc.parent3.example"] = "v=DMARC1; p=none; sp=reject",
    ["_dmarc.bcx.com"] = "v=DMARC1; p=reject",
  }
  it("test 1: sub.parent1.example inherits parent1.example's reject", function()
    local r = run("sub.parent1.example", nil, zone)
    assert.are.equal("parent1.example", r.policy_domain)
    assert.are.equal("reject", r.policy)
  end)
  it("test 2: own-record.example uses its own quarantine", function()
    local r = run("own-record.example", nil, zone)
    assert.are.equal("own-record.example", r.policy_domain)
    assert.are.equal("quarantine", r.policy)
  end)
  it("test 3: a.b.parent3.example: the record's p is none; the applied policy is sp=reject", function()
    local r = run("a.b.parent3.example", nil, zone)
    assert.are.equal("parent3.example", r.policy_domain)
    -- OpenDMARC's test reads the record's p (none): so does policy_published.
    assert.are.equal("none", r.policy_published.p)
    -- The policy applied to the subdomain is sp (§4.10.1).
    assert.are.equal("reject", r.policy)
    assert.are.equal("sp", r.policy_tag)
  end)
  it("test 4: no record anywhere: none", function()
    local r = run("sub.nodmarc.example", nil, zone)
    assert.are.equal("none", r.result)
    assert.are.equal("no_record", r.code)
  end)
  it("tests 5-6 with the PSL: sub.bcx.com falls back to bcx.com", function()
    if not PSL_FILE then return pending("no PSL test data") end
    local r = run("sub.bcx.com", { org_domain = "psl", psl_file = PSL_FILE }, zone)
    assert.are.equal("bcx.com", r.policy_domain)
    assert.are.equal("reject", r.policy)
  end)
end)

describe("OpenDMARC test_alignment.c pairs under the tree walk", function()
  -- OpenDMARC decides these without DNS (PSL or none); under RFC 9989 the
  -- Organizational Domain comes from records (§4.10.2), so each pair gets
  -- the one record its parent would need to be an organisation.
  local function aligned(from, id, strict, zone)
    local r = run(from, { dkim = { { result = "pass", domain = id } } }, zone)
    return r.dkim_aligned, r
  end
  it("1: a.b.c.bcx.com and bcx.com, relaxed: aligned", function()
    assert.is_true(aligned("a.b.c.bcx.com", "bcx.com", false, { ["_dmarc.bcx.com"] = "v=DMARC1; p=reject" }))
  end)
  it("4: a.foo.com and b.foo.com, relaxed: aligned with a record at foo.com", function()
    assert.is_true(aligned("a.foo.com", "b.foo.com", false, { ["_dmarc.foo.com"] = "v=DMARC1; p=reject" }))
  end)
  it("4 without any record: each is its own organisation (§4.10.2 last rule), and no policy applies", function()
    -- Difference: OpenDMARC aligns them with no list and no DNS; RFC 9989
    -- §4.10.2: "If this process does not determine the Organizational
    -- Domain, then the initial target domain is the Organizational Domain"
    -- and §4.10.1: with no record DMARC does not apply.
    local ok, r = aligned("a.foo.com", "b.foo.com", false, {})
    assert.is_false(ok)
    assert.are.equal("none", r.result)
  end)
  it("8 and 9: a.b.com and b.com align both ways", function()
    local z = { ["_dmarc.b.com"] = "v=DMARC1; p=reject" }
    assert.is_true(aligned("a.b.com", "b.com", false, z))
    assert.is_true(aligned("b.com", "a.b.com", false, z))
  end)
  it("5 and 6: '.mac.com.' and '....mac.com....' are no domain names: permerror", function()
    -- Difference: OpenDMARC trims the dots and aligns them strictly with
    -- mac.com; an Author Domain is a domain name (§3.2.2), and a name with
    -- empty labels is none (RFC 1035 §2.3.1), so mailauth refuses it.
    for _, from in ipairs { ".mac.com.", "....mac.com...." } do
      local r = run(from, nil, { ["_dmarc.mac.com"] = "v=DMARC1; p=reject" })
      assert.are.equal("permerror", r.result)
      assert.are.equal("author_bad_domain", r.code)
    end
  end)
end)
