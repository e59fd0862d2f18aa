-- The ldns resolver against a real DNS server: Knot on 127.0.0.1, started
-- by spec/support/run-specs.sh with the zones in spec/fixtures/zones.
local mailauth = require "mailauth"
local socket = require "socket"
local helpers = require "spec.support.helpers"

local NS = helpers.test_nameserver()

describe("#integration the ldns resolver", function()
  assert(NS, "MAILAUTH_TEST_NS is not set: run the specs through make test")
  local offline = assert(mailauth.resolver { zonefiles = { "spec/fixtures/zones/example.com.zone" } })

  local function fresh(opts)
    opts = opts or {}
    opts.nameservers = opts.nameservers or { NS }
    opts.timeout = opts.timeout or 2
    opts.retries = opts.retries or 0
    return assert(mailauth.resolver(opts))
  end

  it("answers A, AAAA, MX, PTR and TXT as the zone says", function()
    local r = fresh()
    assert.are.same({ "192.0.2.25" }, r:query("mail.example.com", "A").records)
    assert.are.same({ "2001:db8::25" }, r:query("mail.example.com", "AAAA").records)
    assert.are.same({ { preference = 10, exchange = "mail.example.com" } },
                    r:query("example.com", "MX").records)
    assert.are.same({ "mail.example.com" }, r:query("25.2.0.192.in-addr.arpa", "PTR").records)
    local txt = r:query("example.com", "TXT")
    assert.are.same({ "v=spf1 mx -all" }, txt.records)
    assert.are.equal(300, txt.ttl)
  end)

  it("joins a 2048-bit DKIM key split in strings", function()
    local r = fresh()
    local a = r:query("sel2048._domainkey.example.com", "TXT")
    assert.are.same(offline:query("sel2048._domainkey.example.com", "TXT").records, a.records)
    assert.is_true(#a.records[1] > 255)
  end)

  it("takes a 2.9 KB TXT over UDP with EDNS0 and a 5.9 KB one over TCP", function()
    local r = fresh()
    assert.are.equal(2928, #r:query("big.example.com", "TXT").records[1])
    assert.are.equal(0, r:stats().tcp)
    local huge = r:query("huge.example.com", "TXT")
    assert.are.equal("NOERROR", huge.rcode)
    assert.are.same(offline:query("huge.example.com", "TXT").records, huge.records)
    assert.are.equal(1, r:stats().tcp)
  end)

  it("tells NXDOMAIN from NODATA, and reports a refused name", function()
    local r = fresh()
    local nx = r:query("nothing.example.com", "A")
    assert.are.equal("NXDOMAIN", nx.rcode)
    assert.are.equal(60, nx.ttl)
    local nodata = r:query("onlya.example.com", "TXT")
    assert.are.equal("NOERROR", nodata.rcode)
    assert.are.same({}, nodata.records)
    assert.are.equal("REFUSED", r:query("example.org", "TXT").rcode)
  end)

  it("gives TIMEOUT within the timeout when a server does not answer", function()
    local silent = assert(socket.udp())
    assert(silent:setsockname("127.0.0.1", 0))
    local _, port = silent:getsockname()
    local r = fresh { nameservers = { "127.0.0.1@" .. port }, timeout = 0.3, retries = 1 }
    local t0 = socket.gettime()
    local a = r:query("mail.example.com", "A")
    local took = socket.gettime() - t0
    silent:close()
    assert.are.equal("TIMEOUT", a.rcode)
    assert.is_true(took >= 0.5 and took < 2.0, "took " .. took .. " s")
    assert.are.equal(2, r:stats().queries) -- the first try and one retry
    assert.are.equal(1, r:stats().timeouts)
  end)

  it("falls over to the next nameserver", function()
    local silent = assert(socket.udp())
    assert(silent:setsockname("127.0.0.1", 0))
    local _, port = silent:getsockname()
    local r = fresh { nameservers = { "127.0.0.1@" .. port, NS }, timeout = 0.3 }
    assert.are.same({ "192.0.2.25" }, r:query("mail.example.com", "A").records)
    silent:close()
  end)

  it("caches answers for their TTL and asks again when it has passed", function()
    local r = fresh { cache = 100 }
    r:query("mail.example.com", "A")
    r:query("MAIL.example.com.", "A")
    local s = r:stats()
    assert.are.equal(1, s.queries)
    assert.are.equal(1, s.cache_hits)
    -- The cache hands out the time left, not the original TTL.
    assert.is_true(r:query("mail.example.com", "A").ttl <= 300)
    -- Negative answers are kept too (RFC 2308), failures never.
    r:query("nothing.example.com", "A")
    r:query("nothing.example.com", "A")
    assert.are.equal(2, r:stats().queries)
    r:query("example.org", "A")
    r:query("example.org", "A")
    assert.are.equal(4, r:stats().queries)
    -- short.example.com has a TTL of 1 second.
    r:query("short.example.com", "TXT")
    r:query("short.example.com", "TXT")
    assert.are.equal(5, r:stats().queries)
    socket.sleep(1.2)
    assert.are.same({ "expires in one second" }, r:query("short.example.com", "TXT").records)
    assert.are.equal(6, r:stats().queries)
  end)

  it("shares its cache between checks", function()
    local r = fresh { cache = 100 }
    assert.are.equal("pass", mailauth.iprev("192.0.2.25", { resolver = r }).result)
    local before = r:stats().queries
    assert.are.equal("pass", mailauth.iprev("192.0.2.25", { resolver = r }).result)
    assert.are.equal(before, r:stats().queries)
  end)

  it("runs iprev to each outcome", function()
    local r = fresh()
    assert.are.equal("pass", mailauth.iprev("192.0.2.25", { resolver = r }).result)
    assert.are.equal("pass", mailauth.iprev("2001:db8::25", { resolver = r }).result)
    assert.are.equal("pass", mailauth.iprev("192.0.2.26", { resolver = r }).result)
    assert.are.equal("fail", mailauth.iprev("192.0.2.27", { resolver = r }).result)
    assert.are.equal("fail", mailauth.iprev("192.0.2.28", { resolver = r }).result)
    assert.are.equal("permerror", mailauth.iprev("192.0.2.29", { resolver = r }).result)
    -- 30's PTR name is in a zone this server refuses to serve.
    assert.are.equal("temperror", mailauth.iprev("192.0.2.30", { resolver = r }).result)
  end)

  it("asks the forward lookups of one step in parallel", function()
    local silent = assert(socket.udp())
    assert(silent:setsockname("127.0.0.1", 0))
    local _, port = silent:getsockname()
    -- Ten forward lookups to a silent server: in parallel they cost one
    -- timeout, one after the other they would cost ten.
    local r = fresh { timeout = 0.4 }
    local ptr = r:query("40.2.0.192.in-addr.arpa", "PTR")
    assert.are.equal(11, #ptr.records)
    local slow = fresh { nameservers = { "127.0.0.1@" .. port }, timeout = 0.4 }
    local t0 = socket.gettime()
    local res = mailauth.iprev("192.0.2.40", { resolver = function(name, qtype)
      if qtype == "PTR" then return ptr end
      return nil
    end })
    assert.are.equal("temperror", res.result)
    local answers = slow:query_many {
      { name = "multi0.example.com", type = "A" }, { name = "multi1.example.com", type = "A" },
      { name = "multi2.example.com", type = "A" }, { name = "multi3.example.com", type = "A" },
    }
    local took = socket.gettime() - t0
    silent:close()
    for _, a in ipairs(answers) do assert.are.equal("TIMEOUT", a.rcode) end
    assert.is_true(took < 1.2, "took " .. took .. " s")
  end)

  it("reads nameservers from a resolv.conf", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write("# test\nsearch example.com\nnameserver ", NS, "\n")
    f:close()
    local r = assert(mailauth.resolver { resolv_conf = path, timeout = 2 })
    os.remove(path)
    assert.are.same({ "192.0.2.25" }, r:query("mail.example.com", "A").records)
    local none, err = mailauth.resolver { resolv_conf = "/nonexistent/resolv.conf" }
    assert.is_nil(none)
    assert.matches("cannot read", err)
  end)

  it("moves DNS bytes for hosts that carry them (query_wire/parse_wire)", function()
    local host, port = NS:match("^(.-)@(%d+)$")
    local udp = assert(socket.udp())
    assert(udp:setpeername(host, tonumber(port)))
    udp:settimeout(2)
    assert(udp:send(assert(mailauth.dns.query_wire("sel2048._domainkey.example.com", "TXT", 4242))))
    local reply = assert(udp:receive())
    udp:close()
    local a = assert(mailauth.dns.parse_wire(reply))
    assert.are.equal(4242, a.id)
    assert.are.same(offline:query("sel2048._domainkey.example.com", "TXT").records, a.records)
    -- Over TCP, as HAProxy's core.tcp() would (RFC 7766 length prefix).
    local tcp = assert(socket.tcp())
    tcp:settimeout(2)
    assert(tcp:connect(host, tonumber(port)))
    local q = assert(mailauth.dns.query_wire("huge.example.com", "TXT", 7))
    assert(tcp:send(string.char(math.floor(#q / 256), #q % 256) .. q))
    local len = assert(tcp:receive(2))
    local body = assert(tcp:receive(len:byte(1) * 256 + len:byte(2)))
    tcp:close()
    a = assert(mailauth.dns.parse_wire(body))
    assert.are.equal(5856, #a.records[1])
  end)

  it("rejects bad options with a clear error", function()
    local r, err = mailauth.resolver { nameservers = { "not-an-address" } }
    assert.is_nil(r)
    assert.matches("nameservers%[1%]", err)
    assert.has_error(function() mailauth.resolver { nameservers = "127.0.0.1" } end)
    assert.has_error(function() mailauth.resolver { timeout = -1, nameservers = { NS } } end)
    assert.has_error(function() mailauth.resolver(5) end)
  end)
end)
