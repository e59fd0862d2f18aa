-- mailauth.message_info and mailauth.check: the one-call check over the demo
-- messages (signed by dkimpy, an independent implementation) and zones.
local mailauth = require "mailauth"
local helpers = require "spec.support.helpers"
local fakedns = require "fakedns"

local demo_resolver = helpers.demo_resolver

describe("mailauth.message_info", function()
  local function domains(from_lines)
    local msg = table.concat(from_lines, "\r\n") .. "\r\nSubject: x\r\n\r\nbody\r\n"
    return mailauth.message_info(msg)
  end

  it("reads the domain of each From mailbox (RFC 5322 §3.4)", function()
    local cases = {
      { "From: alice@Example.COM", { "example.com" } },
      { 'From: "Doe, John" <john@example.org>', { "example.org" } },
      { "From: John (comment, with @ and <>) <john@example.org> (tail)", { "example.org" } },
      { "From: a@one.example, b@two.example", { "one.example", "two.example" } },
      { "From: Name\r\n <folded@example.net>", { "example.net" } },
      { "From: a@same.example, b@SAME.example", { "same.example" } },
    }
    for _, c in ipairs(cases) do
      local info = domains { c[1] }
      assert.are.same(c[2], info.from_domains, c[1])
      assert.is_nil(info.problem, c[1])
      assert.is_nil(info.author_problem, c[1])
    end
  end)

  -- These were read leniently before the strict From reader (src/core/author.c);
  -- each is a form mail readers disagree on, so the author is now unusable
  -- (a group: RFC 5322 §3.6.2 mailbox-list; a route: §4.4, Composition
  -- Kills "route portion"; "@" in a quoted local-part; a final dot is no
  -- dot-atom, §3.4.1).
  it("refuses the forms readers disagree on, naming the problem", function()
    for _, c in ipairs {
      { 'From: "a@b.example"@real.example', "quoted local%-part" },
      { "From: team: a@x.example, b@y.example;", "group" },
      { "From: <@relay.example:user@dest.example>", "route" },
      { "From: Name\r\n <folded@example.net.>", "ending in" },
    } do
      local info = domains { c[1] }
      assert.matches(c[2], info.author_problem, 1, false, c[1])
    end
  end)

  it("counts every From field, so DMARC can refuse several (RFC 7489 §6.6.1)", function()
    local info = domains { "From: a@one.example", "From: b@two.example" }
    assert.are.equal(2, info.from_fields)
    assert.are.same({ "one.example", "two.example" }, info.from_domains)
    assert.matches("2 From fields", info.author_problem)
  end)

  it("reports From addresses it cannot read", function()
    for _, line in ipairs { "From: no-domain-here", "From: <unterminated@x.example",
                            'From: "open quote <a@b.example>', "From: (((x" } do
      local info = domains { line }
      assert.is_string(info.author_problem, line)
    end
    local none = mailauth.message_info("Subject: no from\r\n\r\nbody")
    assert.are.same({}, none.from_domains)
    assert.are.equal(0, none.from_fields)
    assert.matches("no From field", none.author_problem)
  end)

  it("stays bounded on hostile input", function()
    local many = "From: " .. string.rep("a@b.example,\r\n ", 10000) .. "\r\n\r\n"
    local info = mailauth.message_info(many)
    assert.are.equal(64, #info.from_addresses)
    assert.matches("more than 64 From mailboxes", info.author_problem)
    local deep = "From: " .. string.rep("(", 100000) .. "a@b.example\r\n\r\n"
    assert.is_string(mailauth.message_info(deep).author_problem)
    assert.has_error(function() mailauth.message_info(nil) end)
  end)
end)

describe("mailauth.check", function()
  local r = demo_resolver()
  local demo = dofile("examples/demo.lua")

  local function run(i, resolver)
    local c = demo.connections[i]
    return mailauth.check(helpers.read("examples/" .. c.message), {
      ip = c.ip, helo = c.helo, sender = c.sender, resolver = resolver or r,
      authserv_id = demo.authserv_id, now = demo.now })
  end

  it("passes a tenant's own signed mail and reports it in Authentication-Results", function()
    local rep = run(1)
    assert.are.equal("pass", rep.iprev.result)
    assert.are.equal("pass", rep.spf.result)
    assert.are.equal("none", rep.spf_helo.result)
    assert.are.equal(1, #rep.dkim)
    assert.are.equal("pass", rep.dkim[1].result)
    assert.are.equal("contoso.com", rep.dkim[1].domain)
    assert.are.equal("pass", rep.dmarc.result)
    assert.are.equal("reject", rep.dmarc.policy)
    local ar = assert(mailauth.authres.parse(rep.authentication_results))
    assert.are.equal("mx.example.net", ar.authserv_id)
    local methods = {}
    for _, res in ipairs(ar.results) do methods[#methods + 1] = res.method .. "=" .. res.result end
    assert.are.same({ "iprev=pass", "spf=pass", "spf=none", "dkim=pass", "dmarc=pass",
                      "arc=none" }, methods)
  end)

  it("fails DMARC for another tenant forging the From through the same pool", function()
    local rep = run(2)
    assert.are.equal("pass", rep.iprev.result)
    assert.are.equal("pass", rep.spf.result)
    assert.are.equal("pass", rep.dkim[1].result)
    assert.are.equal("fabrikam.onmicrosoft.com", rep.dkim[1].domain)
    assert.are.equal("fail", rep.dmarc.result)
    assert.are.equal("reject", rep.dmarc.disposition)
    local exchange = require "mailauth.exchange"
    local t = exchange.trust(rep, { tenants = demo.tenants })
    assert.is_false(t.trusted)
    assert.is_true(t.evidence.eop_ip)
    assert.is_true(t.evidence.eop_ptr)
    local ok = exchange.trust(run(1), { tenants = demo.tenants })
    assert.is_true(ok.trusted)
    assert.are.equal("dkim", ok.via)
    assert.are.equal("contoso.onmicrosoft.com", ok.tenant)
  end)

  it("checks a bounce's SPF as postmaster@HELO and an unsigned message as dkim=none", function()
    local rep = run(5)
    assert.are.equal("postmaster@localhost", rep.spf.properties[1].value)
    assert.matches("smtp.mailfrom=postmaster@localhost", rep.authentication_results)
    assert.matches("dkim=none", rep.authentication_results)
    assert.are.same({}, rep.dkim)
  end)

  it("asks the independent checks' first questions together", function()
    local dns = fakedns.new({}, { over = r })
    local asked = dns.log
    run(1, dns.resolve)
    -- iprev's PTR, both SPF records and the DKIM key, before any follow-up
    assert.are.same({ "PTR 50.22.107.40.in-addr.arpa", "TXT contoso.com",
                      "TXT EUR03-DB5-obe.outbound.protection.outlook.com",
                      "TXT selector1._domainkey.contoso.com" },
                    { asked[1], asked[2], asked[3], asked[4] })
  end)

  it("works through a yielding resolver inside a coroutine", function()
    -- every question yields (name, qtype); the loop below answers it
    local co = coroutine.wrap(function() return "done", run(3, fakedns.new({}, { yield = true }).resolve) end)
    local a, b = co()
    while a ~= "done" do a, b = co(r:query(a, b)) end
    assert.are.equal("pass", b.dmarc.result)
  end)

  local STALWART_001 = "arc/stalwart/001.txt"
  helpers.it_with_testdata(STALWART_001, "validates ARC alongside DKIM: a real Gmail-relayed chain (stalwart 001)",
  function()
    local text = helpers.read(helpers.testdata(STALWART_001))
    local dns, msg = text:match("^(.-)\n\n(.*)$")
    -- each "<name> <TXT>" line a TXT record; any other question NXDOMAIN
    local recs = {}
    for l in dns:gmatch("[^\n]+") do
      local n, v = l:match("^(%S+) (.*)$")
      recs[n:lower()] = { TXT = { v }, fault = { unlisted = "NXDOMAIN" } }
    end
    local fake = fakedns.new(recs)
    local asked = fake.names
    local rep = mailauth.check((msg:gsub("\r?\n", "\r\n")), { authserv_id = "mx.example", now = 1700000000,
      resolver = fake.resolve })
    assert.are.equal("pass", rep.arc.result, rep.arc.problem)
    assert.are.equal("google.com", rep.arc.chain[#rep.arc.chain].domain)
    assert.matches("^i=1; mx%.google%.com;", rep.arc.chain[1].authentication_results)
    assert.matches("arc=pass %(?[^;]*header%.oldest%-pass=0", rep.authentication_results)
    -- the ARC seal key is asked in the same round as the DKIM keys
    local arc_at, dkim_at
    for i, n in ipairs(asked) do
      if n == "arc-20160816._domainkey.google.com" then arc_at = i end
      if n:match("^ietf1%._domainkey") then dkim_at = dkim_at or i end
    end
    assert.is_true(arc_at ~= nil and dkim_at ~= nil)
  end)

  it("raises on wrong argument types", function()
    assert.has_error(function() mailauth.check(nil, {}) end)
    assert.has_error(function() mailauth.check("x", { ip = 5, resolver = r }) end)
    assert.has_error(function() mailauth.check("x", { ip = "not an ip", resolver = r }) end)
  end)
end)

describe("regressions", function()
  it("does not report an empty From domain for a NUL or control byte (fuzz_message)", function()
    for _, bad in ipairs { "a@\0b.example", "a@b\1.example", "a@\127" } do
      local info = mailauth.message_info("From: " .. bad .. "\r\n\r\n")
      assert.are.same({}, info.from_domains)
      assert.is_string(info.author_problem)
    end
  end)
end)
