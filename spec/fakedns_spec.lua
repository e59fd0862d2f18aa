-- spec/support/fakedns.lua, the specs' one fake DNS: its answers have the
-- shape of DESIGN.md's job protocol and agree with the offline zone
-- resolver (src/dns/zone.c) on the same data; each fault marker gives the
-- answer its comment promises, seen through a real check; the log says
-- what was asked, in order.  Mutation check: with the rcode markers
-- answered NOERROR instead, 9 cases fail (SERVFAIL, TIMEOUT, REFUSED,
-- NXDOMAIN, a node that is a fault, one type, unlisted, patterns,
-- options.fault, over); with no log entry written, 4 fail.
local mailauth = require "mailauth"
local fakedns = require "fakedns"
local helpers = require "spec.support.helpers"

local ZONE_TEXT = [[
$ORIGIN example.
$TTL 600
@ IN SOA ns hm 1 2 3 4 60
a IN A 192.0.2.1
a IN TXT "v=spf1 ip4:192.0.2.1 -all"
mx IN MX 10 a.example.
c1 IN CNAME c2
c2 IN CNAME a
l1 IN CNAME l2
l2 IN CNAME l1
]]
-- The same data as a fakedns zone table.
local ZONE = {
  ["a.example"] = { A = { "192.0.2.1" }, TXT = { "v=spf1 ip4:192.0.2.1 -all" }, ttl = 600 },
  ["mx.example"] = { MX = { { 10, "a.example" } }, ttl = 600 },
  ["c1.example"] = { CNAME = "c2.example", ttl = 600 },
  ["c2.example"] = { CNAME = "a.example", ttl = 600 },
  ["l1.example"] = { CNAME = "l2.example", ttl = 600 },
  ["l2.example"] = { CNAME = "l1.example", ttl = 600 },
  ["example"] = {},
}

describe("fakedns answers", function()
  local c = assert(mailauth.resolver { zones = { ZONE_TEXT } })
  local table_dns = fakedns.new(ZONE, { negative_ttl = 60 })
  local text_dns = fakedns.new({}, { zones = { ZONE_TEXT } })
  local questions = {
    { "a.example", "A" }, { "A.Example.", "A" }, { "a.example", "TXT" }, { "mx.example", "MX" },
    { "c1.example", "A" }, { "c1.example", "CNAME" }, { "l1.example", "A" },
    { "nx.example", "A" }, { "a.example", "AAAA" },
  }

  it("are the zone resolver's answers for the same data (rcode, records, ttl, cnames)", function()
    for _, q in ipairs(questions) do
      local want = c:query(q[1], q[2])
      local got = table_dns.resolve(q[1], q[2], 1)
      local label = q[2] .. " " .. q[1]
      assert.are.equal(want.rcode, got.rcode, label)
      assert.are.same(want.records, got.records, label)
      assert.are.same(want.cnames, got.cnames, label)
      assert.are.equal(want.ttl, got.ttl, label)
      assert.are.equal(want.secure, got.secure, label)
      assert.are.same(want, text_dns.resolve(q[1], q[2], 1), label .. " (zones =)")
    end
  end)

  it("follow a CNAME chain into the answer and stop a loop with SERVFAIL", function()
    local a = table_dns.resolve("c1.example", "TXT")
    assert.are.same({ "c2.example", "a.example" }, a.cnames)
    assert.are.same({ "v=spf1 ip4:192.0.2.1 -all" }, a.records)
    local loop = table_dns.resolve("l1.example", "TXT")
    assert.are.equal("SERVFAIL", loop.rcode)
    assert.are.same({ "l2.example" }, loop.cnames)
    -- a chain longer than max_cnames is cut the same way
    local short = fakedns.new(ZONE, { max_cnames = 1 }).resolve("c1.example", "A")
    assert.are.equal("SERVFAIL", short.rcode)
    assert.are.same({ "c2.example" }, short.cnames)
  end)

  it("carry a node's ttl and secure flag, and copy records", function()
    local dns = fakedns.new { ["s.example"] = { A = { "192.0.2.9" }, ttl = 42, secure = true } }
    local a = dns.resolve("s.example", "A")
    assert.are.same({ rcode = "NOERROR", records = { "192.0.2.9" }, ttl = 42, secure = true,
                      cnames = {} }, a)
    a.records[1] = "changed"
    assert.are.equal("192.0.2.9", dns.resolve("s.example", "A").records[1])
  end)

  it("read the zone live: a name added after new() is answered", function()
    local zone = {}
    local dns = fakedns.new(zone)
    assert.are.equal("NXDOMAIN", dns.resolve("late.example", "A").rcode)
    zone["late.example"] = { A = { "192.0.2.7" } }
    assert.are.same({ "192.0.2.7" }, dns.resolve("late.example", "A").records)
  end)
end)

describe("fakedns fault markers through real checks", function()
  local function spf(zone, options, sender)
    local dns = fakedns.new(zone, options)
    return mailauth.spf { ip = "192.0.2.1", sender = sender or "u@a.example", resolver = dns.resolve },
           dns
  end
  local SPF_OK = { ["a.example"] = { TXT = { "v=spf1 ip4:192.0.2.1 -all" } } }

  it("the zone as given passes (the baseline the faults below change)", function()
    assert.are.equal("pass", spf(SPF_OK).result)
  end)

  for _, rcode in ipairs { "SERVFAIL", "TIMEOUT", "REFUSED" } do
    it(rcode .. " at a name: SPF temperror naming the query and the rcode", function()
      local r = spf { ["a.example"] = { TXT = { "v=spf1 +all" }, fault = rcode } }
      assert.are.equal("temperror", r.result)
      assert.are.equal("DNS TXT lookup of a.example failed: " .. rcode, r.problem)
    end)
  end

  it("NXDOMAIN over listed records: SPF none, the records never seen", function()
    local r = spf { ["a.example"] = { TXT = { "v=spf1 +all" }, fault = "NXDOMAIN" } }
    assert.are.equal("none", r.result)
  end)

  it("a node that is just a fault ('TIMEOUT') is that fault for every type", function()
    local r = spf { ["a.example"] = "TIMEOUT" }
    assert.are.equal("temperror", r.result)
    assert.matches("TIMEOUT", r.problem)
  end)

  it("a fault for one type leaves the others answered", function()
    local zone = { ["a.example"] = { TXT = { "v=spf1 a -all" }, A = { "192.0.2.1" },
                                     fault = { A = "SERVFAIL" } } }
    local r = spf(zone)
    assert.are.equal("temperror", r.result)
    assert.are.equal("DNS A lookup of a.example failed: SERVFAIL", r.problem)
  end)

  it("an 'unlisted' fault hits only the types the node does not list", function()
    local zone = { ["a.example"] = { TXT = { "v=spf1 a -all" }, fault = { unlisted = "TIMEOUT" } } }
    local r, dns = spf(zone)
    assert.are.equal("temperror", r.result)
    assert.are.equal("DNS A lookup of a.example failed: TIMEOUT", r.problem)
    assert.are.same({ "TXT a.example", "A a.example" }, dns.log)
  end)

  it("patterns: every name matching fails (the stalwart suite's _dns_error.)", function()
    local zone = { ["a.example"] = { TXT = { "v=spf1 include:x._dns_error.example -all" } },
                   ["x._dns_error.example"] = { TXT = { "v=spf1 +all" } } }
    local r = spf(zone, { patterns = { ["_dns_error%."] = "SERVFAIL" } })
    assert.are.equal("temperror", r.result)
    assert.matches("x%._dns_error%.example failed: SERVFAIL", r.problem)
  end)

  it("options.fault fails every question: iprev temperror", function()
    local dns = fakedns.new({}, { fault = "SERVFAIL" })
    local r = mailauth.iprev("192.0.2.1", { resolver = dns.resolve })
    assert.are.equal("temperror", r.result)
    assert.matches("SERVFAIL", r.problem)
    assert.are.same({ "PTR 1.2.0.192.in-addr.arpa" }, dns.log)
  end)

  it("over: faults on top of zone text, the rest answered by it", function()
    local dns = fakedns.new({ ["c1.example"] = "REFUSED" }, { zones = { ZONE_TEXT } })
    assert.are.equal("pass", mailauth.spf { ip = "192.0.2.1", sender = "u@a.example",
                                             resolver = dns.resolve }.result)
    local r = mailauth.spf { ip = "192.0.2.1", sender = "u@c1.example", resolver = dns.resolve }
    assert.are.equal("temperror", r.result)
    assert.matches("REFUSED", r.problem)
  end)

  it("MALFORMED: an answer the binding refuses, a Lua error naming it", function()
    local ok, err = pcall(mailauth.iprev, "192.0.2.1",
                          { resolver = fakedns.new({}, { fault = "MALFORMED" }).resolve })
    assert.is_false(ok)
    assert.matches("answer: records%[1%] must be", err)
  end)

  it("answer: a shape given as it is (a cnames that is no list: a Lua error)", function()
    local zone = { ["a.example"] = { fault = { answer = { rcode = "NOERROR", records = {}, cnames = "x" } } } }
    local ok, err = pcall(spf, zone)
    assert.is_false(ok)
    assert.matches("answer: cnames must be a table of names", err)
  end)

  it("NOANSWER: the resolver returns nothing, a server failure (iprev temperror)", function()
    local r = mailauth.iprev("192.0.2.1", { resolver = fakedns.new({}, { fault = "NOANSWER" }).resolve })
    assert.are.equal("temperror", r.result)
  end)

  -- SPF for u@a.example through a yielding fake inside a coroutine; each
  -- yield is resumed with resume(name, qtype).  The result and the yields.
  local function spf_yielding(resume)
    local dns = fakedns.new(SPF_OK, { yield = true })
    local co = coroutine.wrap(function()
      return "done", mailauth.spf { ip = "192.0.2.1", sender = "u@a.example", resolver = dns.resolve }
    end)
    local yields, a, b = {}, co()
    while a ~= "done" do
      yields[#yields + 1] = b .. " " .. a
      a, b = co(resume(a, b))
    end
    return b, yields
  end

  it("yield: each question yields (name, qtype) and the zone answers after", function()
    local r, yields = spf_yielding(function() end)
    assert.are.same({ "TXT a.example" }, yields)
    assert.are.equal("pass", r.result)
  end)

  it("yield: a table resumed with is the answer", function()
    local r = spf_yielding(function() return { rcode = "SERVFAIL", records = {} } end)
    assert.are.equal("temperror", r.result)
    assert.matches("SERVFAIL", r.problem)
  end)

  it("delay: the answer comes after the delay, cut to the loop's timeout", function()
    local clock = mailauth.core.monotonic
    local t0 = clock()
    local r = spf(SPF_OK, { fault = { delay = 0.1 } })
    assert.is_true(clock() - t0 >= 0.1)
    assert.are.equal("pass", r.result)
    local dns = fakedns.new(SPF_OK, { fault = { delay = 5, rcode = "TIMEOUT" } })
    t0 = clock()
    r = mailauth.spf { ip = "192.0.2.1", sender = "u@a.example", resolver = dns.resolve,
                       time_budget = 0.2 }
    assert.is_true(clock() - t0 < 1.5)
    assert.are.equal("temperror", r.result)
    assert.is_true(dns.timeouts[1] > 0 and dns.timeouts[1] <= 0.2, tostring(dns.timeouts[1]))
  end)

  it("a CNAME chain reaches a check: SPF through it, and a loop is temperror", function()
    local zone = { ["alias.example"] = { CNAME = "a.example" },
                   ["a.example"] = { TXT = { "v=spf1 ip4:192.0.2.1 -all" } },
                   ["loop.example"] = { CNAME = "loop.example" } }
    assert.are.equal("pass", spf(zone, nil, "u@alias.example").result)
    local r = spf(zone, nil, "u@loop.example")
    assert.are.equal("temperror", r.result)
    assert.matches("SERVFAIL", r.problem)
  end)

  helpers.it_with_testdata("dkim/rfc8463/", "a DKIM key behind a CNAME chain: key_cnames is the chain",
  function()
    local F = require "dkimfix"
    local recs = F.records(F.read("rfc8463/dns.txt"))
    local msg = F.crlf(F.read("rfc8463/signed.eml"))
    local zone = {
      ["brisbane._domainkey.football.example.com"] = { CNAME = "k1.keys.example" },
      ["k1.keys.example"] = { CNAME = "k2.keys.example" },
      ["k2.keys.example"] = { TXT = { recs["brisbane._domainkey.football.example.com"] } },
      ["test._domainkey.football.example.com"] = { CNAME = "test.loop.example" },
      ["test.loop.example"] = { CNAME = "test._domainkey.football.example.com" },
    }
    local r = mailauth.dkim_verify(msg, { resolver = fakedns.new(zone).resolve, now = 1667843664 })
    assert.are.equal("pass", r[1].result, r[1].problem)
    assert.are.same({ "k1.keys.example", "k2.keys.example" }, r[1].key_cnames)
    assert.are.equal("temperror", r[2].result)
    assert.are.same({ "test.loop.example" }, r[2].key_cnames)
  end)
end)

describe("fakedns log", function()
  it("records what was asked, in order, as asked, with counts", function()
    local zone = {
      ["a.example"] = { TXT = { "v=spf1 include:inc.example a:Host.Example -all" } },
      ["inc.example"] = { TXT = { "v=spf1 -all" } },
      ["host.example"] = { A = { "192.0.2.1" } },
    }
    local log = {}
    local dns = fakedns.new(zone, { log = log })
    local r = mailauth.spf { ip = "192.0.2.1", sender = "u@a.example", resolver = dns.resolve }
    assert.are.equal("pass", r.result)
    assert.are.equal(log, dns.log)
    assert.are.same({ "TXT a.example", "TXT inc.example", "A Host.Example" }, dns.log)
    assert.are.same({ "a.example", "inc.example", "Host.Example" }, dns.names)
    assert.are.equal(3, dns:count())
    assert.are.equal(2, dns:count("TXT"))
    assert.are.equal(1, dns:count("A", "host.example"))
    assert.are.equal(0, dns:count("MX"))
    mailauth.spf { ip = "192.0.2.1", sender = "u@a.example", resolver = dns.resolve }
    assert.are.equal(2, dns:count("TXT", "a.example"))
    dns:reset()
    assert.are.same({}, dns.log)
    assert.are.same({}, dns.names)
    assert.are.equal(0, dns:count())
  end)

  it("logs a question even when a fault answers it", function()
    local dns = fakedns.new({ ["a.example"] = "SERVFAIL" })
    mailauth.spf { ip = "192.0.2.1", sender = "u@a.example", resolver = dns.resolve }
    assert.are.same({ "TXT a.example" }, dns.log)
  end)
end)
