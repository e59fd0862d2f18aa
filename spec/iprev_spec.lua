-- PTR and iprev (RFC 8601 §3 and §2.7.3) over the offline test zones:
--   pass       a PTR name's A/AAAA records contain the client address
--   fail       PTR names exist but none maps back
--   permerror  no PTR data is published (NXDOMAIN or NODATA)
--   temperror  a DNS failure prevents a decision
local mailauth = require "mailauth"
local fakedns = require "fakedns"

local function zone_resolver()
  return assert(mailauth.resolver { zonefiles = {
    "spec/fixtures/zones/example.com.zone",
    "spec/fixtures/zones/2.0.192.in-addr.arpa.zone",
    "spec/fixtures/zones/8.b.d.0.1.0.0.2.ip6.arpa.zone",
  } })
end

-- Answers from the zones, but with chosen names failing ({ [name] = rcode }).
local function failing(r, broken)
  return fakedns.new(broken, { over = r }).resolve
end

describe("mailauth.iprev", function()
  local r = zone_resolver()

  it("passes when the PTR name maps back (IPv4)", function()
    local res = mailauth.iprev("192.0.2.25", { resolver = r })
    assert.are.same({ result = "pass", ip = "192.0.2.25", name = "mail.example.com",
                      names = { "mail.example.com" }, ptr = { "mail.example.com" },
                      method = "iprev",
                      properties = { { ptype = "policy", property = "iprev", value = "192.0.2.25" } } }, res)
  end)

  it("passes for IPv6 and for IPv4-mapped IPv6 (RFC 4291 §2.5.5.2)", function()
    local v6 = mailauth.iprev("2001:db8::25", { resolver = r })
    assert.are.equal("pass", v6.result)
    assert.are.equal("mail.example.com", v6.name)
    assert.are.equal("2001:db8::25", v6.ip)
    local mapped = mailauth.iprev("::ffff:192.0.2.25", { resolver = r })
    assert.are.equal("pass", mapped.result)
    assert.are.equal("192.0.2.25", mapped.ip)
  end)

  it("checks every PTR name, not just the first", function()
    local res = mailauth.iprev("192.0.2.26", { resolver = r })
    assert.are.equal("pass", res.result)
    assert.are.same({ "nowhere.example.com", "pair.example.com" }, res.ptr)
    assert.are.same({ "pair.example.com" }, res.names)
  end)

  it("fails when the name points elsewhere", function()
    local res = mailauth.iprev("192.0.2.27", { resolver = r })
    assert.are.equal("fail", res.result)
    assert.are.same({ "other.example.com" }, res.ptr)
    assert.are.same({}, res.names)
    assert.is_nil(res.name)
  end)

  it("fails when the name does not exist", function()
    assert.are.equal("fail", mailauth.iprev("192.0.2.28", { resolver = r }).result)
  end)

  it("is permerror when no PTR is published", function()
    local res = mailauth.iprev("192.0.2.29", { resolver = r })
    assert.are.equal("permerror", res.result)
    assert.matches("NXDOMAIN", res.problem)
    local nodata = mailauth.iprev("192.0.2.25", { resolver = fakedns.new(
      { ["25.2.0.192.in-addr.arpa"] = { PTR = {} } }, { over = r }).resolve })
    assert.are.equal("permerror", nodata.result)
    assert.matches("NODATA", nodata.problem)
  end)

  it("is temperror when the PTR lookup fails", function()
    for _, rcode in ipairs { "SERVFAIL", "TIMEOUT", "REFUSED" } do
      local res = mailauth.iprev("192.0.2.25", { resolver = failing(r,
        { ["25.2.0.192.in-addr.arpa"] = rcode }) })
      assert.are.equal("temperror", res.result)
      assert.matches(rcode, res.problem)
    end
  end)

  it("is temperror when a forward lookup fails and no other name passes", function()
    local res = mailauth.iprev("192.0.2.25", { resolver = failing(r,
      { ["mail.example.com"] = "SERVFAIL" }) })
    assert.are.equal("temperror", res.result)
    assert.matches("mail.example.com", res.problem)
  end)

  it("passes when one name maps back even if another fails temporarily", function()
    local res = mailauth.iprev("192.0.2.26", { resolver = failing(r,
      { ["nowhere.example.com"] = "TIMEOUT" }) })
    assert.are.equal("pass", res.result)
  end)

  it("examines at most 10 PTR names, asked forward together", function()
    local dns = fakedns.new({}, { over = r })
    local res = mailauth.iprev("192.0.2.40", { resolver = dns.resolve })
    local forward = dns:count("A")
    local steps = dns:count() - forward
    assert.are.equal(11, #res.ptr)
    assert.are.equal(10, forward)
    assert.matches("first 10 of 11", res.problem)
    -- multi10 (the only name that maps back) is the 11th: not examined.
    assert.are.equal("fail", res.result)
    assert.are.equal(1, steps)
  end)

  it("skips PTR names that are not valid host names", function()
    local res = mailauth.iprev("192.0.2.25", { resolver = fakedns.new({ ["25.2.0.192.in-addr.arpa"] =
      { PTR = { string.rep("x", 64) .. ".example", "mail.example.com" } } }, { over = r }).resolve })
    assert.are.equal("pass", res.result)
    assert.are.same({ "mail.example.com" }, res.names)
  end)

  it("raises a Lua error naming the argument for non-IP input", function()
    for _, bad in ipairs { "mail.example.com", "192.0.2.256", "192.0.2.1\0", "", "::g",
                           "1.2.3", string.rep("1", 1000), "192.0.2.01" } do
      local ok, err = pcall(mailauth.iprev, bad, { resolver = r })
      assert.is_false(ok)
      assert.matches("ip: not an IP address", err)
    end
    assert.has_error(function() mailauth.iprev(nil, { resolver = r }) end,
      "bad argument #1 to 'mailauth.iprev' (IP address string expected, got nil)")
    assert.has_error(function() mailauth.iprev("192.0.2.1", "r") end)
    assert.has_error(function() mailauth.iprev("192.0.2.1", { resolver = 5 }) end)
  end)
end)

describe("mailauth.ptr", function()
  local r = zone_resolver()

  it("returns every PTR name", function()
    assert.are.same({ "nowhere.example.com", "pair.example.com" },
                    mailauth.ptr("192.0.2.26", { resolver = r }))
    assert.are.same({ "mail.example.com" }, mailauth.ptr("2001:db8::25", { resolver = r }))
  end)

  it("returns nil and a reason when there is none", function()
    local names, err = mailauth.ptr("192.0.2.29", { resolver = r })
    assert.is_nil(names)
    assert.are.equal("nxdomain", err)
    names, err = mailauth.ptr("192.0.2.25", { resolver = failing(r,
      { ["25.2.0.192.in-addr.arpa"] = "SERVFAIL" }) })
    assert.is_nil(names)
    assert.are.equal("temperror: PTR lookup failed: SERVFAIL", err)
  end)
end)
