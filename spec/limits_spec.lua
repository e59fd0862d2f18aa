-- Limits that must not cut silently: a name too long to ask is a defined
-- result, never a shorter name evaluated in its place.
--
-- On main (ceb2e1b) the first and third describe blocks fail:
--   * an SPF <domain> of 254+ octets whose 254th octet is a dot was cut to
--     its first 253 octets and that other name evaluated: result "pass"
--     from the shorter name's "v=spf1 +all" (expected "none");
--   * r:query / r:query_many read a name only up to a NUL byte:
--     "a.example\0.evil" was answered NOERROR with a.example's address
--     (expected BADNAME, no records).
-- The second block (RFC 7208 §7.3's cut of macro expansions) passes on
-- main too: it pins the one place where cutting is what the RFC says.
local mailauth = require "mailauth"

-- 253 octets (RFC 1035 §2.3.4's 255 on the wire): 63 + 63 + 63 + 61 + 3 dots.
local D253 = ("a"):rep(63) .. "." .. ("b"):rep(63) .. "." .. ("c"):rep(63) .. "."
  .. ("d"):rep(61)
assert(#D253 == 253)

-- The fake DNS over the zone (NXDOMAIN elsewhere); log gets "QTYPE name".
local fakedns = require "fakedns"
local function resolver(zone, log)
  return fakedns.new(zone, { log = log }).resolve
end

describe("limits: an SPF <domain> over 253 octets (RFC 7208 §4.3)", function()
  -- The shorter name, had it been asked, says pass.
  local zone = { [D253] = { TXT = { "v=spf1 +all" } }, [D253:sub(1, 251)] = { TXT = { "v=spf1 +all" } } }

  for _, case in ipairs {
    { "a dot as its 254th octet", D253 .. ".example" },
    { "a dot as its 254th octet and a root dot", D253 .. ".example." },
    { "254 octets, the last a letter", D253 .. "e" },
    { "a final label past the limit", D253:sub(1, 251) .. ".xx" },
  } do
    it("is none, naming the limit, with no question asked: " .. case[1], function()
      local log = {}
      for _, opts in ipairs {
        { sender = "user@" .. case[2] },
        { helo = case[2] },
      } do
        opts.ip, opts.resolver = "192.0.2.1", resolver(zone, log)
        local r = mailauth.spf(opts)
        assert.equal("none", r.result)
        assert.matches("253 octets", r.problem)
        assert.same({}, log)
      end
    end)
  end

  it("still evaluates a name of exactly 253 octets (and with its root dot)", function()
    for _, name in ipairs { D253, D253 .. "." } do
      local log = {}
      local r = mailauth.spf { ip = "192.0.2.1", sender = "user@" .. name,
                               resolver = resolver(zone, log) }
      assert.equal("pass", r.result)
      assert.same({ "TXT " .. D253 }, log)
    end
  end)
end)

describe("limits: macro expansions over 253 octets are cut from the left (RFC 7208 §7.3)", function()
  it("asks the expansion with whole labels removed from its left until it fits", function()
    -- %{l} is 60 octets: five of them and "e.example" make 5 * 61 + 9 = 314;
    -- removing one label gives 253, the name asked.
    local lp = ("x"):rep(60)
    local spec_target = (lp .. "."):rep(4) .. "e.example"
    assert.equal(253, #spec_target)
    local log = {}
    local zone = {
      ["example.com"] = { TXT = { "v=spf1 exists:%{l}.%{l}.%{l}.%{l}.%{l}.e.example -all" } },
      [spec_target] = { A = { "127.0.0.2" } },
    }
    local r = mailauth.spf { ip = "192.0.2.1", sender = lp .. "@example.com",
                             resolver = resolver(zone, log) }
    assert.equal("pass", r.result)
    assert.same({ "TXT example.com", "A " .. spec_target }, log)
  end)
end)

describe("limits: resolver names with a NUL byte", function()
  local z = assert(mailauth.resolver { zones = { "$ORIGIN example.\n$TTL 300\na IN A 192.0.2.1\n" } })

  it("r:query answers BADNAME instead of asking the name up to the NUL", function()
    local a = z:query("a.example\0.evil.example", "A")
    assert.equal("BADNAME", a.rcode)
    assert.same({}, a.records)
    local ok = z:query("a.example", "A")
    assert.equal("NOERROR", ok.rcode)
    assert.same({ "192.0.2.1" }, ok.records)
  end)

  it("r:query_many answers BADNAME for that question only", function()
    local m = z:query_many { { name = "a.example\0x", type = "A" }, { name = "a.example", type = "A" },
                             { name = "\0", type = "TXT" } }
    assert.equal("BADNAME", m[1].rcode)
    assert.same({}, m[1].records)
    assert.equal("NOERROR", m[2].rcode)
    assert.same({ "192.0.2.1" }, m[2].records)
    assert.equal("BADNAME", m[3].rcode)
  end)
end)
