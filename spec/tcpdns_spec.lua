-- lua/mailauth/tcpdns.lua, the pipelined DNS-over-TCP batch resolver under
-- mailauth.haproxy and mailauth.rspamd, driven here by luasocket (plain
-- Lua, every Lua) against the harness's Knot server.
local helpers = require "spec.support.helpers"
local tcpdns = require "mailauth.tcpdns"
local mailauth = require "mailauth"
local socket = require "socket"

local NS = helpers.test_nameserver()

-- luasocket as the host's socket; counts the connections and sends.
local function host(counts)
  return { name = "test", keep = true, connect = function(h, port, timeout)
    local s = socket.tcp()
    s:settimeout(timeout)
    if not s:connect(h, port) then s:close() return nil end
    counts.connections = counts.connections + 1
    local sent = 0
    return {
      send = function(_, bytes)
        sent = sent + 1
        -- a server that closed the kept connection after a batch
        if counts.close_after and sent > counts.close_after then s:close() return nil end
        counts.sends = counts.sends + 1
        return s:send(bytes) == #bytes
      end,
      read = function(_, n) return s:receive(n) end,
      close = function() s:close() end,
    }
  end }
end

describe("#integration tcpdns", function()
  it("pipelines a batch on one connection, asks each question once, caches by TTL", function()
    assert(NS, "MAILAUTH_TEST_NS is not set: run the specs through make test")
    local counts = { connections = 0, sends = 0 }
    local r = tcpdns.resolver({ nameservers = { NS } }, host(counts))
    local qs = { { name = "example.com", type = "TXT" }, { name = "mail.example.com", type = "A" },
                 { name = "EXAMPLE.com", type = "TXT" }, { name = "nx.example.com", type = "A" },
                 { name = "selector1._domainkey.example.com", type = "TXT" } }
    local a = r:query_many(qs, 2)
    assert.are.same({ "NOERROR", "NOERROR", "NOERROR", "NXDOMAIN", "NOERROR" },
                    { a[1].rcode, a[2].rcode, a[3].rcode, a[4].rcode, a[5].rcode })
    assert.are.same({ "192.0.2.25" }, a[2].records)
    assert.are.equal(a[1], a[3]) -- asked once
    assert.are.same({ "selector1-example-com._domainkey.tenant.example.com" }, a[5].cnames)
    assert.are.same({ 1, 1, 4, 1 }, { counts.connections, counts.sends, r.stats.queries, r.stats.batches })
    -- the next batch of the same check reuses the connection
    r:query_many({ { name = "pair.example.com", type = "A" } }, 2)
    assert.are.same({ 1, 2 }, { counts.connections, counts.sends })
    -- and what was answered comes from the cache (TTLs of 60-300 s)
    local again = r:query_many(qs, 2)
    assert.are.equal("192.0.2.25", again[2].records[1])
    assert.are.same({ 2, 5 }, { counts.sends, r.stats.queries })
    assert.is_true(r.stats.cache.hits >= 5)
    r:close()
  end)

  it("serves mailauth.check as a batch resolver: the zone driver's results", function()
    local counts = { connections = 0, sends = 0 }
    local r = tcpdns.resolver({ nameservers = { NS }, cache = 0 }, host(counts))
    local msg = "From: a@example.com\r\nTo: b@example.net\r\nSubject: x\r\n\r\nhi\r\n"
    local got = mailauth.check(msg, { ip = "192.0.2.25", helo = "mail.example.com",
                                      sender = "a@example.com", resolver = r })
    local want = mailauth.check(msg, { ip = "192.0.2.25", helo = "mail.example.com", sender = "a@example.com",
      resolver = assert(mailauth.resolver { nameservers = { NS }, timeout = 2 }) })
    assert.are.equal(want.authentication_results, got.authentication_results)
    assert.are.equal(1, counts.connections)
    assert.are.equal(counts.sends, r.stats.batches)
    r:close()
  end)

  it("opens a kept connection again when the server closed it", function()
    local counts = { connections = 0, sends = 0, close_after = 1 }
    local r = tcpdns.resolver({ nameservers = { NS }, cache = 0 }, host(counts))
    assert.are.equal("NOERROR", r:query("example.com", "TXT").rcode)
    assert.are.equal("192.0.2.25", r:query("mail.example.com", "A").records[1])
    assert.are.same({ 2, 1 }, { counts.connections, r.stats.failures })
    r:close()
  end)

  it("answers TIMEOUT when no server takes the connection", function()
    local probe = assert(socket.bind("127.0.0.1", 0))
    local _, port = probe:getsockname()
    probe:close()
    local r = tcpdns.resolver({ nameservers = { "127.0.0.1@" .. port }, timeout = 1 },
                              host { connections = 0, sends = 0 })
    local t0 = socket.gettime()
    local a = r:query_many({ { name = "example.com", type = "TXT" } }, 1)
    assert.are.equal("TIMEOUT", a[1].rcode)
    assert.is_true(socket.gettime() - t0 < 1.5)
  end)

  it("raises clear errors on wrong arguments", function()
    local h = host { connections = 0, sends = 0 }
    helpers.assert_errors {
      { function() tcpdns.resolver(nil, h) end, "nameservers = " },
      { function() tcpdns.resolver({ nameservers = { 53 } }, h) end, "a nameserver must be a string" },
      { function() tcpdns.resolver({ nameservers = { "127.0.0.1@99999" } }, h) end, "bad port" },
      { function() tcpdns.resolver({ nameservers = { "127.0.0.1@53" }, timeout = "2" }, h) end, "timeout must be" },
      { function() tcpdns.resolver({ nameservers = { "127.0.0.1@53" } }, h):query_many("x") end, "table of questions" },
      { function() tcpdns.resolver({ nameservers = { "127.0.0.1@53" } }, h):query_many({ "x" }) end,
        "questions%[1%] must be" },
      { function() tcpdns.resolver({ nameservers = { "127.0.0.1@53" } }, h):query_many({}, "soon") end,
        "seconds expected" },
    }
  end)
end)
