-- Regressions found by the fuzz targets (fuzz/): names and the zone driver.
local mailauth = require "mailauth"

local function hex(s)
  return (s:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end))
end

local ZONE = [[
$ORIGIN example.com.
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 86400 60
@ IN TXT "v=spf1 -all"
]]

describe("regress 001 (fuzz_zone)", function()
  it("answers a valid name whose text is longer than 253 bytes", function()
    -- Labels of 63, 63, 63 and 61 octets, each written \065: 1003 bytes of text for
    -- a 255-octet name.  The zone driver copied it into a 261-byte buffer.
    local label = ("\\065"):rep(63)
    local name = table.concat({ label, label, label, ("\\065"):rep(61) }, ".")
    assert.equal(1003, #name)
    local r = assert(mailauth.resolver{ zones = { ZONE } })
    local a = r:query(name, "TXT")
    assert.equal("REFUSED", a.rcode)   -- outside the only zone
    a = r:query(name:sub(1, 4 * 63) .. ".example.com", "TXT")
    assert.equal("NXDOMAIN", a.rcode)
  end)

  it("reports a zone syntax error (records read before it are freed)", function()
    local r, err = mailauth.resolver{ zones = { ZONE .. "x IN A 192.0.2.1\nbroken line here\n" } }
    assert.is_nil(r)
    assert.matches("zone line 6", err)
  end)

  it("gives a record without a TTL the $TTL, else the previous record's", function()
    -- RFC 2308 §4 and RFC 1035 §5.1; Knot serves the fixture zones this way.
    local r = assert(mailauth.resolver{ zones = {
      'x.test. 60 IN TXT "a"\ny.test. IN TXT "b"\n$TTL 100\n' ..
      'z.test. IN TXT "c"\nw.test. 5 IN TXT "d"\nv.test. IN TXT "e"\n' } })
    local got = {}
    for _, n in ipairs { "x", "y", "z", "w", "v" } do
      got[#got + 1] = r:query(n .. ".test", "TXT").ttl
    end
    assert.same({ 60, 60, 100, 5, 100 }, got)
  end)

  it("refuses $INCLUDE in zone text", function()
    local r, err = mailauth.resolver{ zones = { "$INCLUDE /etc/hostname\n" } }
    assert.is_nil(r)
    assert.is_string(err)
  end)
end)

describe("regress 001 (fuzz_names)", function()
  it("rejects a name ending in an empty label", function()
    local q, err = mailauth.dns.query_wire("example.com..", "A", 1)
    assert.is_nil(q)
    assert.is_string(err)
  end)

  it("tells an escaped backslash before the final dot from an escaped dot", function()
    -- "a\\." is the label a\ and the root; "a\." is the one label "a.".
    local q1 = assert(mailauth.dns.query_wire("a\\\\.", "A", 1))
    local q2 = assert(mailauth.dns.query_wire("a\\.", "A", 1))
    assert.equal("\2a\\\0", q1:sub(13, 16))
    assert.equal("\2a.\0", q2:sub(13, 16))
  end)
end)

describe("regress 001 (fuzz_parse_wire)", function()
  it("caps the negative-caching TTL of an SOA at one day", function()
    -- NXDOMAIN for no.example.com TXT, SOA TTL 4e9 and MINIMUM 3e9
    -- (built with dnspython).
    local wire = hex("d12581030001000000010000026e6f076578616d706c6503636f6d0000100001"
      .. "c00f00060001ee6b2800001e036e7331c00f0168c00f0000000100000e10000002"
      .. "5800015180b2d05e00")
    local a = assert(mailauth.dns.parse_wire(wire))
    assert.equal("NXDOMAIN", a.rcode)
    assert.equal(86400, a.ttl)
  end)
end)
