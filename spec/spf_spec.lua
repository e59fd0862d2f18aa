-- mailauth.spf beyond the conformance suites: identities, options and
-- limits, parallel questions, Received-SPF, and hostile input.
-- Expected values come from RFC 7208 (section cited per case) or from
-- pyspf's own test data (../shared/testdata/spf/pyspf-extra/test.yml).
local mailauth = require "mailauth"
local core = require "mailauth.core"
local suite = require "spf_suite"
local helpers = require "spec.support.helpers"

local NOW = 1700000000

-- The fake DNS over zone: name -> { TXT = {...}, A = {...}, AAAA,
-- MX = {{pref, host}}, PTR } or "TIMEOUT"; log gets "QTYPE name".
local fakedns = require "fakedns"
local function resolver(zone, log)
  return fakedns.new(zone, { log = log }).resolve
end

local function spf(opts, zone, log)
  opts.resolver = opts.resolver or resolver(zone, log)
  opts.now = opts.now or NOW
  return mailauth.spf(opts)
end

-- Runs a check through the core's step API and returns the batches of questions.
local function batches(params, zone)
  local ask = resolver(zone)
  local check = assert(core.check("spf", params))
  local out = {}
  while check:step() == "dns" do
    local qs = check:questions()
    local batch = {}
    for _, q in ipairs(qs) do
      batch[#batch + 1] = q.type .. " " .. q.name
      check:answer(q.id, ask(q.name, q.type))
    end
    table.sort(batch)
    out[#out + 1] = batch
  end
  local r = check:result()
  check:close()
  return out, r
end

describe("mailauth.spf identities (RFC 7208 §2.3, §2.4, §4.3)", function()
  local zone = {
    ["example.com"] = { TXT = { "v=spf1 ip4:192.0.2.0/24 -all" } },
    ["mx.example.com"] = { TXT = { "v=spf1 a -all" }, A = { "198.51.100.7" } },
  }

  it("checks MAIL FROM with scope mfrom and property smtp.mailfrom", function()
    local r = spf({ ip = "192.0.2.9", sender = "Alice@Example.com", helo = "mx.example.com" }, zone)
    assert.are.equal("pass", r.result)
    assert.are.equal("mfrom", r.scope)
    assert.are.equal("Example.com", r.domain)
    assert.are.equal("spf", r.method)
    assert.are.same({ { ptype = "smtp", property = "mailfrom", value = "Alice@Example.com" } }, r.properties)
    assert.are.equal("ip4:192.0.2.0/24", r.mechanism)
    assert.are.equal("v=spf1 ip4:192.0.2.0/24 -all", r.record)
    assert.are.equal(0, r.lookups)
  end)

  it("checks the HELO identity when scope = 'helo'", function()
    local r = spf({ ip = "198.51.100.7", sender = "a@example.com", helo = "mx.example.com",
                    scope = "helo" }, zone)
    assert.are.equal("pass", r.result)
    assert.are.equal("helo", r.scope)
    assert.are.equal("mx.example.com", r.domain)
    assert.are.same({ { ptype = "smtp", property = "helo", value = "mx.example.com" } }, r.properties)
    assert.are.equal(1, r.lookups)
  end)

  it("uses postmaster@helo for an empty MAIL FROM, scope stays mfrom (§2.4)", function()
    local r = spf({ ip = "192.0.2.1", sender = "", helo = "mx.example.com" }, zone)
    assert.are.equal("fail", r.result)
    assert.are.equal("mfrom", r.scope)
    assert.are.equal("mx.example.com", r.domain)
    assert.are.same({ { ptype = "smtp", property = "mailfrom", value = "postmaster@mx.example.com" } },
                    r.properties)
  end)

  it("substitutes postmaster for a missing local-part (§4.3)", function()
    local z = { ["example.com"] = { TXT = { "v=spf1 exists:%{l}.x.example.com -all" } },
                ["postmaster.x.example.com"] = { A = { "127.0.0.2" } } }
    assert.are.equal("pass", spf({ ip = "192.0.2.1", sender = "@example.com", helo = "h.example" }, z).result)
    assert.are.equal("pass", spf({ ip = "192.0.2.1", sender = "example.com", helo = "h.example" }, z).result)
  end)

  it("treats an IPv4-mapped IPv6 client as IPv4 (§5)", function()
    local r = spf({ ip = "::ffff:192.0.2.77", sender = "a@example.com", helo = "h.example" }, zone)
    assert.are.equal("pass", r.result)
    assert.are.equal("192.0.2.77", r.ip)
  end)

  it("returns none for a single-label or malformed domain (§4.3)", function()
    assert.are.equal("none", spf({ ip = "192.0.2.1", sender = "a@localhost", helo = "h" }, zone).result)
    assert.are.equal("none", spf({ ip = "192.0.2.1", sender = "a@foo..example.com", helo = "h" }, zone).result)
  end)
end)

describe("mailauth.spf macros (RFC 7208 §7)", function()
  it("feeds %{t} from now and %{r} from receiver (default 'unknown')", function()
    local z = {
      ["example.com"] = { TXT = { "v=spf1 -all exp=why.example.com" } },
      ["why.example.com"] = { TXT = { "t=%{t} r=%{r} c=%{c} i=%{ir} s=%{S}" } },
    }
    local r = spf({ ip = "2001:db8::1", sender = "a b@example.com", helo = "h.example", now = 1234567890,
                    receiver = "mx.receiver.example" }, z)
    assert.are.equal("fail", r.result)
    assert.are.equal("t=1234567890 r=mx.receiver.example c=2001:db8::1 i=1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2 s=a%20b%40example.com",
                     r.explanation)
    r = spf({ ip = "192.0.2.1", sender = "a@example.com", helo = "h.example" }, z)
    assert.matches("r=unknown", r.explanation, 1, true)
  end)

  it("uses default_explanation when exp= is unusable and never changes the result (§6.2)", function()
    local z = {
      ["example.com"] = { TXT = { "v=spf1 -all exp=nothere.example.com" } },
    }
    local r = spf({ ip = "192.0.2.1", sender = "a@example.com", helo = "h.example",
                    default_explanation = "rejected %{i} for %{d}" }, z)
    assert.are.equal("fail", r.result)
    assert.are.equal("rejected 192.0.2.1 for example.com", r.explanation)
    z["example.com"] = { TXT = { "v=spf1 -all exp=x.example.com" } }
    z["x.example.com"] = "TIMEOUT"
    r = spf({ ip = "192.0.2.1", sender = "a@example.com", helo = "h.example" }, z)
    assert.are.equal("fail", r.result)
    assert.is_nil(r.explanation)
  end)
end)

describe("mailauth.spf limits (RFC 7208 §4.6.4), each an option", function()
  it("stops at max_lookups DNS-querying terms", function()
    local z = { ["example.com"] = { TXT = { "v=spf1 a:a1.example.com a:a2.example.com a:a3.example.com -all" } },
                ["a1.example.com"] = { A = { "10.0.0.1" } }, ["a2.example.com"] = { A = { "10.0.0.2" } },
                ["a3.example.com"] = { A = { "10.0.0.3" } } }
    local r = spf({ ip = "192.0.2.1", sender = "a@example.com", helo = "h.example", max_lookups = 2 }, z)
    assert.are.equal("permerror", r.result)
    assert.matches("max_lookups", r.problem, 1, true)
    assert.are.equal(2, r.lookups)
    r = spf({ ip = "192.0.2.1", sender = "a@example.com", helo = "h.example" }, z)
    assert.are.equal("fail", r.result)
    assert.are.equal(3, r.lookups)
  end)

  it("stops at max_void_lookups lookups that found nothing", function()
    local z = { ["example.com"] = { TXT = { "v=spf1 a:n1.example.com a:n2.example.com -all" } } }
    local r = spf({ ip = "192.0.2.1", sender = "a@example.com", helo = "h.example" }, z)
    assert.are.equal("fail", r.result)
    assert.are.equal(2, r.void_lookups)
    r = spf({ ip = "192.0.2.1", sender = "a@example.com", helo = "h.example", max_void_lookups = 1 }, z)
    assert.are.equal("permerror", r.result)
    assert.matches("max_void_lookups", r.problem, 1, true)
  end)

  it("stops at max_mx_names MX records", function()
    local z = { ["example.com"] = { TXT = { "v=spf1 mx -all" },
                                    MX = { { 10, "m1.example.com" }, { 20, "m2.example.com" }, { 30, "m3.example.com" } } },
                ["m3.example.com"] = { A = { "192.0.2.1" } } }
    assert.are.equal("pass", spf({ ip = "192.0.2.1", sender = "a@example.com", helo = "h" }, z).result)
    local r = spf({ ip = "192.0.2.1", sender = "a@example.com", helo = "h", max_mx_names = 2 }, z)
    assert.are.equal("permerror", r.result)
    assert.matches("max_mx_names", r.problem, 1, true)
  end)

  it("examines only max_ptr_names PTR names (the rest ignored, §4.6.4)", function()
    local z = { ["example.com"] = { TXT = { "v=spf1 ptr -all" } },
                ["1.2.0.192.in-addr.arpa"] = { PTR = { "p1.example.com", "p2.example.com" } },
                ["p2.example.com"] = { A = { "192.0.2.1" } } }
    assert.are.equal("pass", spf({ ip = "192.0.2.1", sender = "a@example.com", helo = "h" }, z).result)
    assert.are.equal("fail", spf({ ip = "192.0.2.1", sender = "a@example.com", helo = "h",
                                   max_ptr_names = 1 }, z).result)
  end)

  it("rejects out-of-range limit options with an error naming them", function()
    assert.has_error(function()
      spf({ ip = "192.0.2.1", sender = "a@example.com", max_lookups = 0 }, {})
    end, "mailauth.spf: option 'max_lookups' must be an integer from 1 to 100")
  end)
end)

describe("mailauth.spf asks independent questions together", function()
  it("asks the address records of all MX names in one step", function()
    local z = { ["example.com"] = { TXT = { "v=spf1 mx -all" },
                                    MX = { { 10, "m1.example.com" }, { 20, "m2.example.com" }, { 30, "m3.example.com" } } } }
    local b, r = batches({ ip = "192.0.2.1", sender = "a@example.com", helo = "h" }, z)
    assert.are.same({ { "TXT example.com" }, { "MX example.com" },
                      { "A m1.example.com", "A m2.example.com", "A m3.example.com" } }, b)
    assert.are.equal("fail", r.result)
  end)

  it("asks the forward lookups of the ptr mechanism in one step", function()
    local z = { ["example.com"] = { TXT = { "v=spf1 ptr -all" } },
                ["1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"] =
                  { PTR = { "a.example.com", "b.example.com", "other.example.net" } },
                ["b.example.com"] = { AAAA = { "2001:db8::1" } } }
    local b, r = batches({ ip = "2001:db8::1", sender = "a@example.com", helo = "h" }, z)
    assert.are.same({ { "TXT example.com" },
                      { "PTR 1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa" },
                      { "AAAA a.example.com", "AAAA b.example.com" } }, b)
    assert.are.equal("pass", r.result)
  end)
end)

describe("mailauth.spf_received (RFC 7208 §9.1)", function()
  -- the §9.1 example quotes envelope-from (not an RFC 5322 dot-atom)
  it("writes the header with the §9.1 keys", function()
    local z = { ["example.com"] = { TXT = { "v=spf1 ip4:192.0.2.0/24 -all" } } }
    local r = spf({ ip = "192.0.2.1", sender = "myname@example.com", helo = "foo.example.com" }, z)
    assert.are.equal("Received-SPF: pass (mybox.example.org: domain of myname@example.com designates "
      .. "192.0.2.1 as permitted sender) client-ip=192.0.2.1; envelope-from=\"myname@example.com\"; "
      .. "helo=foo.example.com; receiver=mybox.example.org; mechanism=\"ip4:192.0.2.0/24\"; identity=mailfrom",
      mailauth.spf_received(r, { receiver = "mybox.example.org" }))
    assert.matches("^Received%-SPF: pass %(", r.received_spf)
  end)

  -- received_spf is written on first read (spf.lua's spf_finish); the
  -- binding has the core leave it out, so without that reader the field
  -- is nil here, and without the receiver kept per call it lacks
  -- "receiver=".  Once read it is a plain field.
  it("fills received_spf on first read, with the call's receiver", function()
    local z = { ["example.com"] = { TXT = { "v=spf1 ip4:192.0.2.0/24 -all" } } }
    local o = { ip = "192.0.2.1", sender = "myname@example.com", helo = "foo.example.com" }
    local plain = spf(o, z)
    o.receiver, o.resolver = "mybox.example.org", nil
    local named = spf(o, z)
    assert.are.equal(mailauth.spf_received(plain), plain.received_spf)
    assert.are.equal(mailauth.spf_received(named, { receiver = "mybox.example.org" }),
                     named.received_spf)
    assert.matches("; receiver=mybox.example.org;", named.received_spf, 1, true)
    assert.is_nil(getmetatable(named))
    assert.are.equal(named.received_spf, rawget(named, "received_spf"))
    -- the C core still writes it for a C host (mauth_received_spf_format)
    assert.is_nil(rawget(core.run("spf", { ip = "192.0.2.1", sender = "a@example.com", now = NOW },
                                  core.zone_resolver({})), "received_spf"))
  end)

  -- pyspf's own tests carry expected headers; RFC 7208 leaves the comment
  -- text free, so the result word and the key=value pairs are compared.
  local extra = helpers.skip_without_testdata("spf/pyspf-extra/test.yml")
  local docs = extra and suite.load(extra) or {}
  local function kv(h)
    local out = {}
    h = h:gsub("%b()", "")
    for k, v in h:gmatch("([%w%-]+)=(\"[^\"]*\"[^;]*)") do out[k] = v:gsub('^"(.*)"$', "%1") end
    for k, v in h:gmatch("([%w%-]+)=([^\";%s][^;%s]*)") do out[k] = out[k] or v end
    return out
  end
  for _, c in ipairs(suite.cases(docs)) do
    local t = c.test
    if t.header then
      it("pyspf-extra " .. c.name, function()
        local r = mailauth.spf{ ip = t.host, sender = t.mailfrom, helo = t.helo,
                                resolver = suite.resolver(c.zone), now = NOW }
        local mine = mailauth.spf_received(r, { receiver = t.receiver }):gsub("^Received%-SPF: ", "")
        assert.are.equal(t.header:match("^(%a+)"):lower(), mine:match("^(%a+)"))
        local want, got = kv(t.header), kv(mine)
        for _, k in ipairs({ "client-ip", "envelope-from", "helo", "receiver", "identity", "mechanism" }) do
          assert.are.equal(want[k], got[k])
        end
      end)
    elseif c.name:match("^default%-modifier") then
      -- "default=" was a pre-RFC 4408 draft modifier; RFC 7208 §6 ignores
      -- unknown modifiers, so the record ends without a match: neutral (§4.7).
      it("pyspf-extra " .. c.name .. " (RFC 7208 §6: default= ignored -> neutral)", function()
        local r = mailauth.spf{ ip = t.host, sender = t.mailfrom, helo = t.helo,
                                resolver = suite.resolver(c.zone), now = NOW }
        assert.are.equal("neutral", r.result)
      end)
    else
      it("pyspf-extra " .. c.name, function()
        local r = mailauth.spf{ ip = t.host, sender = t.mailfrom, helo = t.helo,
                                resolver = suite.resolver(c.zone), now = NOW }
        assert.is_true(suite.accepts(c.expect, r.result), r.result)
      end)
    end
  end
end)

describe("mailauth.spf hostile input", function()
  local base = { ip = "192.0.2.1", sender = "a@example.com", helo = "h.example" }
  local function with(t)
    local o = {}
    for k, v in pairs(base) do o[k] = v end
    for k, v in pairs(t) do o[k] = v end
    return o
  end

  it("refuses a huge record as permerror", function()
    local z = { ["example.com"] = { TXT = { "v=spf1 " .. ("ip4:10.0.0.1 "):rep(6000) .. "-all" } } }
    local r = spf(with{}, z)
    assert.are.equal("permerror", r.result)
    assert.matches("longer than", r.problem, 1, true)
  end)

  it("stops 100 includes at the lookup limit", function()
    local parts = {}
    for i = 1, 100 do parts[i] = "include:i" .. i .. ".example.com" end
    local z = { ["example.com"] = { TXT = { "v=spf1 " .. table.concat(parts, " ") .. " -all" } } }
    for i = 1, 100 do z["i" .. i .. ".example.com"] = { TXT = { "v=spf1 -all" } } end
    local log = {}
    local r = spf(with{}, z, log)
    assert.are.equal("permerror", r.result)
    assert.matches("max_lookups", r.problem, 1, true)
    assert.are.equal(10, r.lookups)
    assert.are.equal(11, #log)
  end)

  it("ends include and redirect loops through the limits", function()
    local z = { ["example.com"] = { TXT = { "v=spf1 include:example.com -all" } } }
    assert.are.equal("permerror", spf(with{}, z).result)
    z = { ["example.com"] = { TXT = { "v=spf1 redirect=example.com" } } }
    assert.are.equal("permerror", spf(with{}, z).result)
    z = { ["example.com"] = { TXT = { "v=spf1 include:b.example.com -all" } },
          ["b.example.com"] = { TXT = { "v=spf1 include:example.com -all" } } }
    local r = spf(with{}, z)
    assert.are.equal("permerror", r.result)
    assert.are.equal(10, r.lookups)
  end)

  it("bounds macro bombs", function()
    -- 400 x %{s} of 100 kB: over the 1 MiB expansion bound -> permerror
    local z = { ["example.com"] = { TXT = { "v=spf1 exists:" .. ("%{s}"):rep(400) .. " -all" } } }
    local r = spf(with{ sender = ("x"):rep(100000) .. "@example.com" }, z)
    assert.are.equal("permerror", r.result)
    assert.matches("too large", r.problem, 1, true)
    -- 400 x %{s} of 400 bytes: 160 kB, cut from the left to one 253-octet name (§4.8)
    local log = {}
    z = { ["example.com"] = { TXT = { "v=spf1 exists:" .. ("%{s}."):rep(400) .. "x.example.com -all" } } }
    r = spf(with{ sender = ("x"):rep(50) .. "@example.com" }, z, log)
    assert.are.equal("fail", r.result)
    assert.are.equal(2, #log)
    assert.is_true(#log[2] - 2 <= 253 and #log[2] - 2 > 200)
    -- a long but bounded expansion is cut from the left to 253 (§4.8)
    local log = {}
    z = { ["example.com"] = { TXT = { "v=spf1 exists:" .. ("%{d}."):rep(20) .. "x.example.com -all" } } }
    r = spf(with{}, z, log)
    assert.are.equal("fail", r.result)
    assert.is_true(#log[2] - 2 <= 253)
    z = { ["example.com"] = { TXT = { "v=spf1 exists:%{l999999999999r+-.,/_=}.example.com -all" } } }
    assert.are.equal("fail", spf(with{}, z).result)
    z = { ["example.com"] = { TXT = { "v=spf1 exists:%{l0}.example.com -all" } } }
    assert.are.equal("permerror", spf(with{}, z).result)
  end)

  it("never asks names with labels over 63 or over 253 octets", function()
    local log = {}
    local z = { ["example.com"] = { TXT = { "v=spf1 a:" .. ("x"):rep(64) .. ".example.com -all" } } }
    local r = spf(with{}, z, log)
    assert.are.equal("fail", r.result)
    assert.are.same({ "TXT example.com" }, log)
    r = spf(with{ sender = "a@" .. ("abcdefghi."):rep(30) .. "com" }, z)
    assert.are.equal("none", r.result)
  end)

  it("takes over-long identities as data, not errors", function()
    local z = { ["example.com"] = { TXT = { "v=spf1 exists:%{l}.x.example.com -all" } } }
    -- a 10000-byte local-part: the exists name is cut to 253 from the left (§4.8)
    local log = {}
    local r = spf(with{ sender = ("ab."):rep(3333) .. "z@example.com" }, z, log)
    assert.are.equal("fail", r.result)
    assert.is_true(#log[2] - 2 <= 253)
    -- an over-long domain is malformed: none (§4.3)
    r = spf(with{ sender = "a@" .. ("x"):rep(70000) .. ".com" }, z)
    assert.are.equal("none", r.result)
    -- a huge HELO does not stop the MAIL FROM check
    r = spf(with{ helo = ("h"):rep(100000) }, z)
    assert.are.equal("fail", r.result)
  end)

  -- Issue 9 item 7 changed this: MAIL FROM and HELO come from the SMTP
  -- client, so a NUL there is an outcome (none, RFC 7208 §4.3), no longer
  -- a Lua error (a host that does not pcall would skip every check).
  it("treats NUL bytes in records as permerror and in MAIL FROM as none", function()
    local z = { ["example.com"] = { TXT = { "v=spf1 ip4:192.0.2.1\0 -all" } } }
    assert.are.equal("permerror", spf(with{}, z).result)
    z = { ["example.com"] = { TXT = { "v=spf1 a:x\0y.example.com -all" } } }
    assert.are.equal("permerror", spf(with{}, z).result)
    local r = spf(with{ sender = "a\0b@example.com" }, {})
    assert.are.equal("none", r.result)
    assert.matches("NUL", r.problem, 1, true)
  end)

  it("raises a Lua error naming the argument for misuse", function()
    local function err_of(opts)
      local ok, e = pcall(mailauth.spf, opts)
      assert.is_false(ok)
      return e
    end
    assert.matches("option 'ip' is required", err_of{ sender = "a@example.com" }, 1, true)
    assert.matches("option 'ip' must be a string", err_of{ ip = 42 }, 1, true)
    assert.matches("ip: not an IP address", err_of{ ip = "999.1.1.1", resolver = resolver({}) }, 1, true)
    assert.matches("ip: not an IP address", err_of{ ip = "192.0.2.1\0", resolver = resolver({}) }, 1, true)
    assert.matches("option 'sender' must be a string", err_of{ ip = "192.0.2.1", sender = {} }, 1, true)
    assert.matches("option 'scope' must be one of: mfrom helo", err_of{ ip = "192.0.2.1", scope = "rcpt" }, 1, true)
    assert.matches("option 'max_lookups' must be an integer from 1 to 100",
                   err_of{ ip = "192.0.2.1", max_lookups = "ten" }, 1, true)
    assert.matches("bad argument #1 to 'mailauth.spf'", err_of("192.0.2.1"), 1, true)
    -- an empty HELO is the client's doing: none with a problem (issue 9 item 7)
    local r = mailauth.spf { ip = "192.0.2.1", scope = "helo", resolver = resolver({}) }
    assert.are.equal("none", r.result)
    assert.matches("no HELO", r.problem, 1, true)
  end)

  it("parses garbage records to permerror without crashing", function()
    local junk = { "v=spf1 %", "v=spf1 a:%{", "v=spf1 a:%{d", "v=spf1 ip4:1.2.3.4/",
                   "v=spf1 ip6:::1//", "v=spf1 mx//129", "v=spf1 a/33", "v=spf1 a:.", "v=spf1 =x",
                   "v=spf1 -redirect=x.example.com", "v=spf1 exp=a.example.com exp=b.example.com",
                   "v=spf1 ip4:01.2.3.4", "v=spf1 a/024", "v=spf1 include:", "v=spf1 \255" }
    for _, rec in ipairs(junk) do
      local r = spf(with{}, { ["example.com"] = { TXT = { rec } } })
      assert.are.equal("permerror", r.result, rec)
    end
  end)
end)
