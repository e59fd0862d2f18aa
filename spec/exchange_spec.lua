-- Exchange Online recognition: the published EOP outbound ranges, and
-- evidence versus trust on reports assembled from real mailauth results.
local mailauth = require "mailauth"
local exchange = require "mailauth.exchange"

describe("mailauth.exchange", function()
  it("knows the ranges published in spf.protection.outlook.com", function()
    -- 6 ip4 and 5 ip6 terms, as the record lists them
    assert.are.equal(11, #exchange.networks)
    local demo = assert(mailauth.resolver { zonefiles = { "examples/zones/outlook.com.zone" } })
    local record = demo:query("spf.protection.outlook.com", "TXT").records[1]
    for _, net in ipairs(exchange.networks) do
      assert.is_truthy(record:find(":" .. net .. " ", 1, true), net)
    end
  end)

  it("recognises EOP addresses, IPv4-mapped ones included", function()
    for _, ip in ipairs { "40.107.22.50", "40.93.255.1", "52.101.73.101", "104.47.127.255",
                          "2a01:111:f403:c000::1", "2a01:111:f400:7e00::25", "::ffff:40.107.1.2" } do
      assert.is_true(exchange.is_eop_ip(ip), ip)
    end
    for _, ip in ipairs { "40.94.0.1", "104.47.128.1", "192.0.2.25", "2a01:111:f404::1",
                          "not an ip", "" } do
      assert.is_false(exchange.is_eop_ip(ip), ip)
    end
    assert.is_false(exchange.is_eop_ip(nil))
  end)

  it("reports an EOP connection as evidence, never as trust", function()
    local r = assert(mailauth.resolver { zonefiles = {
      "examples/zones/outlook.com.zone", "examples/zones/107.40.in-addr.arpa.zone" } })
    local report = { iprev = mailauth.iprev("40.107.22.50", { resolver = r }),
                     spf = { result = "pass" }, from_domain = "contoso.com", dkim = {} }
    local msg = "From: a@contoso.com\r\nX-MS-Exchange-CrossTenant-Id: 1234\r\n\r\nbody"
    local t = exchange.trust(report, { tenants = { { domain = "contoso.onmicrosoft.com",
                                                     domains = { "contoso.com" } } },
                                       message = msg })
    assert.is_false(t.trusted)
    assert.is_true(t.evidence.eop_ip)
    assert.is_true(t.evidence.eop_ptr)
    assert.is_true(t.evidence.spf_pass)
    assert.is_true(t.evidence.crosstenant_header)
    assert.matches("shared by every tenant", t.reason)
    -- the revised rule: every refusal names its rule (DESIGN.md)
    assert.are.equal("no-tenant-signature", t.rule)
    assert.matches("^no%-tenant%-signature: ", t.reason)
  end)

  it("raises on a malformed tenant list", function()
    assert.has_error(function() exchange.trust({}, { tenants = "contoso" }) end)
    assert.has_error(function() exchange.trust({}, { tenants = { { domains = {} } } }) end)
    assert.has_error(function() exchange.trust(nil, { tenants = {} }) end)
  end)
end)
