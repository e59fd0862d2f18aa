-- Class "evidence graded and precise" (issue 9 item 6), and the trust
-- rule's finer points on report tables (key_tenant, ARC AMS coverage,
-- author fields).  CrossTenant / X-OriginatorOrg are read case-insensitively
-- in the header section only and never verified; eop_ptr needs an
-- iprev-confirmed name under outbound.protection.outlook.com; every
-- evidence item says whether anything cryptographic backs it.
--
-- Mutation check: with header_lookup (lua/mailauth/exchange.lua) replaced
-- by the old `message:find("\nX%-MS%-Exchange%-CrossTenant%-Id:")`, the
-- header-section case failed (the lower-case field was not read); with
-- EOP_PTR_PARENT set back to protection.outlook.com the PTR case failed
-- (the inbound mail.protection.outlook.com name counted as EOP).
local T = require "spec.support.tenant"
local exchange = require "mailauth.exchange"

local TENANTS = T.TENANTS

local function item(t, name)
  for _, i in ipairs(t.evidence.items) do if i.name == name then return i end end
end

local function report(over)
  local r = { from_fields = 1, from_count = 1, from_domain = "contoso.com", now = T.NOW,
              ip = T.IP, dkim = { { result = "pass", domain = "contoso.com", testing = false,
                                    timestamp = T.SIGNED_AT } } }
  for k, v in pairs(over or {}) do r[k] = v end
  return r
end

describe("exchange evidence", function()
  it("reads CrossTenant and X-OriginatorOrg in the header section only, any case", function()
    local msg = "From: a@contoso.com\r\nx-ms-exchange-crosstenant-id:  1234-abcd \r\n"
                .. "X-OriginatorOrg: Contoso.COM\r\n\r\nbody\r\nX-MS-Exchange-CrossTenant-Id: 9999\r\n"
    local t = exchange.trust(report { dkim = {} }, { tenants = TENANTS, message = msg })
    assert.is_true(t.evidence.crosstenant_header)
    assert.are.equal("1234-abcd", t.evidence.crosstenant_id)
    assert.are.equal("contoso.com", t.evidence.originator_org)
    assert.is_false(item(t, "crosstenant_header").verified)
    assert.is_false(item(t, "originator_org").verified)
    assert.is_false(t.trusted)
    local body_only = "From: a@contoso.com\r\n\r\nquoted:\r\nX-MS-Exchange-CrossTenant-Id: 1\r\n"
    local b = exchange.trust(report { dkim = {} }, { tenants = TENANTS, message = body_only })
    assert.is_false(b.evidence.crosstenant_header)
    assert.is_nil(b.evidence.crosstenant_id)
  end)

  it("takes PTR evidence only from an iprev-confirmed outbound EOP name", function()
    local function ptr(result, name)
      return exchange.trust(report { dkim = {}, iprev = { result = result, name = name } },
                            { tenants = TENANTS }).evidence.eop_ptr
    end
    assert.is_true(ptr("pass", "mail-db5eur03on2050.outbound.protection.outlook.com"))
    assert.is_false(ptr("fail", "mail-db5eur03on2050.outbound.protection.outlook.com"))
    assert.is_false(ptr("pass", "contoso-com.mail.protection.outlook.com"))
    assert.is_false(ptr("pass", "outbound.protection.outlook.com.evil.example"))
    assert.is_false(ptr("pass", nil))
  end)

  it("marks which items are cryptographically backed", function()
    local t = exchange.trust(report { iprev = { result = "pass", name = "x.outbound.protection.outlook.com" },
                                      spf = { result = "pass" } }, { tenants = TENANTS })
    assert.is_true(t.trusted, t.reason)
    assert.is_true(t.evidence.eop_ip)
    for _, name in ipairs { "eop_ip", "eop_ptr", "spf_pass", "crosstenant_header" } do
      assert.is_false(item(t, name).verified, name)
    end
    assert.is_true(item(t, "dkim_domain").verified)
    assert.are.equal("contoso.com", t.evidence.dkim_domain)
  end)

  it("fails closed on the author fields", function()
    for _, over in ipairs {
      { from_fields = false }, { from_count = false }, { from_fields = 2 }, { from_count = 2 },
      { author_problem = "two angle-addrs in one mailbox" }, { from_domain = false },
    } do
      local r = report()
      for k, v in pairs(over) do r[k] = v or nil end
      local t = exchange.trust(r, { tenants = TENANTS })
      assert.is_false(t.trusted)
      assert.are.equal("author", t.rule, t.reason)
    end
  end)

  it("never aligns across onmicrosoft.com, even through a mapped name", function()
    local tenants = { { domain = "contoso.onmicrosoft.com", domains = { "contoso.com", "contoso.onmicrosoft.com" } } }
    local t = exchange.trust(report { from_domain = "x.contoso.onmicrosoft.com",
      dkim = { { result = "pass", domain = "contoso.onmicrosoft.com" } } }, { tenants = tenants })
    assert.is_false(t.trusted)
    -- a subdomain of a mapped custom domain is relaxed-aligned
    t = exchange.trust(report { from_domain = "news.contoso.com" }, { tenants = TENANTS })
    assert.is_true(t.trusted, t.reason)
  end)

  it("attributes a key reached through a CNAME to its tenant (key_cnames)", function()
    local sig = { result = "pass", domain = "fabrikam.example", testing = false,
                  key_cnames = { "selector1-fabrikam-example._domainkey.contoso.onmicrosoft.com" } }
    local r = report { from_domain = "fabrikam.example", dkim = { sig } }
    local t = exchange.trust(r, { tenants = TENANTS })
    assert.is_false(t.trusted)
    assert.are.equal("contoso.onmicrosoft.com", t.evidence.key_tenant)
    assert.is_false(item(t, "key_tenant").verified)
    t = exchange.trust(r, { tenants = TENANTS, trust_key_tenant = true })
    assert.is_true(t.trusted, t.reason)
    assert.are.equal("contoso.onmicrosoft.com", t.tenant)
    -- d= must be From's own domain, and the chain must end inside the tenant
    r.from_domain = "other.example"
    assert.is_false(exchange.trust(r, { tenants = TENANTS, trust_key_tenant = true }).trusted)
    sig.key_cnames = { "x._domainkey.evil.onmicrosoft.com" }
    r.from_domain = "fabrikam.example"
    assert.is_false(exchange.trust(r, { tenants = TENANTS, trust_key_tenant = true }).trusted)
  end)

  it("applies the coverage rules to the newest ARC-Message-Signature", function()
    local aar = "i=1; mx.microsoft.com; dkim=pass header.d=contoso.com"
    local function arc(over)
      local set = { instance = 1, domain = "microsoft.com", ams_domain = "microsoft.com",
                    ams_result = "pass", authentication_results = aar }
      for k, v in pairs(over or {}) do set[k] = v end
      -- the tenant's signature is in the message but does not verify here
      local dkim = { { result = "permerror", domain = "contoso.com", problem = "no key" } }
      if over and over.dkim then dkim, over.dkim = over.dkim, nil end
      return exchange.trust(report { dkim = dkim, arc = { result = "pass", chain = { set } } },
                            { tenants = TENANTS, trust_arc = true })
    end
    assert.is_true(arc().trusted, arc().reason)
    -- the AAR's dkim=pass with no DKIM-Signature of that domain left in
    -- the message (removed after the seal): nothing shows its l=
    assert.are.equal("arc", arc { dkim = {} }.rule)
    assert.are.equal("unsigned-field", arc { ams_unsigned_headers = "Subject" }.rule)
    assert.are.equal("l=", arc { ams_body_length = 5, ams_unsigned_body_bytes = 9 }.rule)
    assert.are.equal("l=", arc { ams_body_length = 5 }.rule)
    assert.are.equal("future-timestamp", arc { ams_timestamp = T.NOW + 3600 }.rule)
    assert.are.equal("arc", arc { aar_problem = "AAR over 8192 bytes" }.rule)
    assert.are.equal("arc", arc { authentication_results = "i=1; mx.microsoft.com; dmarc=pass header.from=contoso.com" }.rule)
  end)

  it("refuses a cut unsigned_headers list", function()
    local r = report()
    r.dkim[1].unsigned_headers = "x-a, x-b, ..."
    assert.are.equal("unsigned-field", exchange.trust(r, { tenants = TENANTS }).rule)
  end)
end)
