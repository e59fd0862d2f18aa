-- CNAME chains in DNS answers (RFC 1034 §3.6.2 and §4.3.2, RFC 2181
-- §5.4.1 and §10.1) and what DKIM makes of them.
--
-- Every answer says how it was reached: `cnames`, the names the chain went
-- through from the asked name, in order, lowercase, without a trailing dot.
-- Records count only when owned by the asked name or by the chain's last
-- name; a reply that carries records for any other name is not believed for
-- them.  Microsoft 365 publishes a custom domain's DKIM selectors as CNAMEs
-- into the tenant (selector1._domainkey.contoso.com CNAME
-- selector1-contoso-com._domainkey.contoso.onmicrosoft.com, and since 2025
-- ... CNAME selector1-contoso-com._domainkey.contoso.n-v1.dkim.mail.microsoft),
-- so a DKIM result reports that chain as key_cnames.
--
-- Wire replies are assembled here byte by byte (RFC 1035 §4.1), and once by
-- dnspython under /usr/bin/python3 (with name compression), so the parser
-- is checked against encoders that are not ldns.
local mailauth = require "mailauth"
local F = require "dkimfix"
local helpers = require "spec.support.helpers"

local NOW = 1764000000
local T_A, T_CNAME, T_TXT = 1, 5, 16

-- ---- DNS messages by hand (RFC 1035 §4.1; big-endian, no compression) ----
local function u16(n) return string.char(math.floor(n / 256) % 256, n % 256) end
local function u32(n) return u16(math.floor(n / 65536) % 65536) .. u16(n % 65536) end
local function wname(s)
  local out = {}
  for label in s:gmatch("[^.]+") do out[#out + 1] = string.char(#label) .. label end
  return table.concat(out) .. "\0"
end
local function cname_rr(owner, target, ttl)
  local rdata = wname(target)
  return wname(owner) .. u16(T_CNAME) .. u16(1) .. u32(ttl or 300) .. u16(#rdata) .. rdata
end
-- TXT rdata: character-strings of at most 255 octets (RFC 1035 §3.3.14)
local function txt_rr(owner, text, ttl)
  local parts = {}
  for i = 1, #text, 255 do
    local piece = text:sub(i, i + 254)
    parts[#parts + 1] = string.char(#piece) .. piece
  end
  local rdata = table.concat(parts)
  return wname(owner) .. u16(T_TXT) .. u16(1) .. u32(ttl or 300) .. u16(#rdata) .. rdata
end
-- A reply (QR, RD, RA) to one IN question, answer section as given.
local function reply(qname, qtype, answers, opts)
  opts = opts or {}
  return u16(opts.id or 4242) .. string.char(0x81, 0x80 + (opts.rcode or 0))
         .. u16(1) .. u16(#answers) .. u16(0) .. u16(0)
         .. wname(qname) .. u16(qtype) .. u16(1) .. table.concat(answers)
end
local function parse(bytes) return assert(mailauth.dns.parse_wire(bytes)) end

-- ---- keys and messages ----
local function sh(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("*a")
  p:close()
  return out
end

-- A fresh RSA key: PEM for the signer, p= (base64 SubjectPublicKeyInfo) for DNS.
local function new_key()
  local path = os.tmpname()
  sh(("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out %s 2>/dev/null"):format(path))
  local pem = helpers.read(path)
  local p = sh(("openssl pkey -in %s -pubout -outform DER 2>/dev/null | base64 -w0"):format(path))
  os.remove(path)
  assert(pem:match("PRIVATE KEY") and #p > 300, "openssl did not make a key")
  return { pem = pem, record = "v=DKIM1; k=rsa; p=" .. p }
end

local MESSAGE = table.concat({
  "From: Megan Bowen <megan@contoso.com>",
  "To: Partner <partner@example.net>",
  "Subject: Q3 figures",
  "Date: Tue, 25 Nov 2025 10:00:00 +0000",
  "Message-ID: <q3-figures@contoso.com>",
  "",
  "The figures are attached.",
  "",
}, "\r\n")

local function sign(msg, key, domain, selector)
  local h = assert(mailauth.dkim_sign(msg, { domain = domain, selector = selector,
    key = key.pem, algorithm = "rsa-sha256", now = NOW - 60 }))
  return h .. "\r\n" .. msg
end

local function zone(text) return assert(mailauth.resolver { zones = { text } }) end
-- A TXT value in master-file syntax: quoted strings of at most 255 octets.
local function quoted(text)
  local parts = {}
  for i = 1, #text, 250 do parts[#parts + 1] = '"' .. text:sub(i, i + 249) .. '"' end
  return table.concat(parts, " ")
end

local CONTOSO = "contoso.com"
local TENANT = "contoso.onmicrosoft.com"
local MOERA_TARGET = "selector1-contoso-com._domainkey." .. TENANT
local V1_TARGET = "selector2-contoso-com._domainkey.contoso.n-v1.dkim.mail.microsoft"

describe("dns cnames: the zone resolver follows and reports the chain", function()
  local z = zone([[
$TTL 300
contoso.com. IN SOA ns.contoso.com. h.contoso.com. 1 3600 600 86400 60
selector1._domainkey.contoso.com. IN CNAME Selector1-Contoso-com._domainkey.CONTOSO.onmicrosoft.com.
selector2._domainkey.contoso.com. IN CNAME selector2-contoso-com._domainkey.contoso.n-v1.dkim.mail.microsoft.
direct._domainkey.contoso.com. IN TXT "v=DKIM1; p=direct"
a.contoso.com. IN CNAME b.contoso.com.
b.contoso.com. 60 IN CNAME c.contoso.com.
c.contoso.com. IN TXT "c"
loop1.contoso.com. IN CNAME loop2.contoso.com.
loop2.contoso.com. IN CNAME loop1.contoso.com.
self.contoso.com. IN CNAME self.contoso.com.
dangling.contoso.com. IN CNAME gone.contoso.com.
onmicrosoft.com. IN SOA ns.onmicrosoft.com. h.onmicrosoft.com. 1 3600 600 86400 60
selector1-contoso-com._domainkey.contoso.onmicrosoft.com. IN TXT "v=DKIM1; p=tenant"
dkim.mail.microsoft. IN SOA ns.dkim.mail.microsoft. h.dkim.mail.microsoft. 1 3600 600 86400 60
selector2-contoso-com._domainkey.contoso.n-v1.dkim.mail.microsoft. IN TXT "v=DKIM1; p=v1"
]])

  it("answers a Microsoft 365 selector through its CNAME into the tenant, both forms", function()
    local a = z:query("selector1._domainkey.contoso.com", "TXT")
    assert.are.equal("NOERROR", a.rcode)
    assert.are.same({ "v=DKIM1; p=tenant" }, a.records)
    -- as published, but lowercase and without the final dot
    assert.are.same({ MOERA_TARGET }, a.cnames)
    local b = z:query("selector2._domainkey.contoso.com", "TXT")
    assert.are.same({ "v=DKIM1; p=v1" }, b.records)
    assert.are.same({ V1_TARGET }, b.cnames)
  end)

  it("gives an empty chain to a name answered directly, and the chain in order otherwise", function()
    assert.are.same({}, z:query("direct._domainkey.contoso.com", "TXT").cnames)
    local a = z:query("a.contoso.com", "TXT")
    assert.are.same({ "c" }, a.records)
    assert.are.same({ "b.contoso.com", "c.contoso.com" }, a.cnames)
    assert.are.equal(60, a.ttl) -- the least TTL along the chain
    -- The same from query_many and for a question asking the CNAME itself.
    local many = z:query_many { { name = "a.contoso.com", type = "TXT" } }
    assert.are.same({ "b.contoso.com", "c.contoso.com" }, many[1].cnames)
    local own = z:query("a.contoso.com", "CNAME")
    assert.are.same({ "b.contoso.com" }, own.records)
    assert.are.same({}, own.cnames)
  end)

  it("ends a loop (and a name aliased to itself) with SERVFAIL and the links before it", function()
    local a = z:query("loop1.contoso.com", "TXT")
    assert.are.equal("SERVFAIL", a.rcode)
    assert.are.same({}, a.records)
    assert.are.same({ "loop2.contoso.com" }, a.cnames)
    local s = z:query("self.contoso.com", "TXT")
    assert.are.equal("SERVFAIL", s.rcode)
    assert.are.same({}, s.cnames)
  end)

  it("reports the chain to a name that does not exist with NXDOMAIN (RFC 6604 §2.1)", function()
    local a = z:query("dangling.contoso.com", "TXT")
    assert.are.equal("NXDOMAIN", a.rcode)
    assert.are.same({ "gone.contoso.com" }, a.cnames)
  end)

  it("follows at most 8 links (RFC 1034 §5.3.3: a bound, not a hang)", function()
    local lines = { "$TTL 300", "x. IN SOA ns.x. h.x. 1 3600 600 86400 60" }
    for i = 1, 9 do lines[#lines + 1] = ("l%d.x. IN CNAME l%d.x."):format(i, i + 1) end
    lines[#lines + 1] = 'l10.x. IN TXT "end"'
    local long = zone(table.concat(lines, "\n") .. "\n")
    local nine = long:query("l1.x", "TXT")        -- 9 links: one too many
    assert.are.equal("SERVFAIL", nine.rcode)
    assert.are.equal(8, #nine.cnames)
    local eight = long:query("l2.x", "TXT")       -- 8 links: answered
    assert.are.same({ "end" }, eight.records)
    assert.are.equal(8, #eight.cnames)
    assert.are.equal("l10.x", eight.cnames[8])
  end)
end)

describe("dns cnames: wire replies (RFC 2181 §5.4.1)", function()
  -- Attack: a reply whose answer section carries a TXT owned by a name the
  -- question did not ask (an off-path forgery that won the race, or a
  -- careless server).  Before the defence, mauth_wire_parse took every
  -- record of the asked type whatever its owner.  Mutation check (the owner
  -- comparison in answer_from_pkt, src/dns/dnswire.c, removed; run 2026-12-01):
  -- 8 cases failed: this one saw records = { "v=DKIM1; p=ATTACKER" }; the
  -- next three, the CNAME-itself and the dnspython cases got the other
  -- names' records too; the forged-key DKIM case below gave "pass" for the
  -- attacker's own key; the HAProxy adapter case got p=EVIL beside p=GOOD.
  it("ignores records owned by an unrelated name", function()
    local a = parse(reply("sel._domainkey.victim.example", T_TXT, {
      txt_rr("sel._domainkey.attacker.example", "v=DKIM1; p=ATTACKER"),
    }))
    assert.are.equal("NOERROR", a.rcode)
    assert.are.same({}, a.records)
    assert.are.same({}, a.cnames)
  end)

  it("keeps the chain's end and drops a TXT for another tenant beside it", function()
    local a = parse(reply("selector1._domainkey.contoso.com", T_TXT, {
      cname_rr("selector1._domainkey.contoso.com", "Selector1-Contoso-Com._domainkey.contoso.onmicrosoft.com"),
      txt_rr("selector1-contoso-com._domainkey.evil.onmicrosoft.com", "v=DKIM1; p=EVIL"),
      txt_rr("selector1-contoso-com._domainkey.contoso.onmicrosoft.com", "v=DKIM1; p=GOOD", 120),
    }))
    assert.are.same({ "v=DKIM1; p=GOOD" }, a.records)
    assert.are.same({ MOERA_TARGET }, a.cnames)
    assert.are.equal(120, a.ttl)
  end)

  it("follows only a chain that starts at the asked name", function()
    -- a CNAME for some other name is no link of this chain
    local a = parse(reply("a.example", T_TXT, {
      cname_rr("b.example", "evil.example"),
      txt_rr("evil.example", "evil"),
      txt_rr("a.example", "real"),
    }))
    assert.are.same({ "real" }, a.records)
    assert.are.same({}, a.cnames)
  end)

  it("takes the data of the chain's end, not a record beside the asked name's CNAME", function()
    -- RFC 2181 §10.1: a name with a CNAME has no other data; a TXT claimed
    -- for it anyway is not the answer.
    local a = parse(reply("a.example", T_TXT, {
      cname_rr("a.example", "b.example"),
      txt_rr("a.example", "beside the CNAME"),
      txt_rr("b.example", "the answer"),
    }))
    assert.are.same({ "the answer" }, a.records)
    assert.are.same({ "b.example" }, a.cnames)
  end)

  it("makes a loop SERVFAIL, whatever the case of the names", function()
    local a = parse(reply("a.example", T_TXT, {
      cname_rr("a.example", "B.example"),
      cname_rr("b.EXAMPLE", "A.Example"),
      txt_rr("a.example", "never"),
    }))
    assert.are.equal("SERVFAIL", a.rcode)
    assert.are.same({}, a.records)
    assert.are.same({ "b.example" }, a.cnames)
    assert.are.equal(0, a.ttl)
  end)

  it("makes a chain of more than 8 links SERVFAIL", function()
    local function chain(links)
      local rrs = {}
      for i = 1, links do rrs[#rrs + 1] = cname_rr(("l%d.example"):format(i), ("l%d.example"):format(i + 1)) end
      rrs[#rrs + 1] = txt_rr(("l%d.example"):format(links + 1), "end")
      return parse(reply("l1.example", T_TXT, rrs))
    end
    local ok = chain(8)
    assert.are.equal("NOERROR", ok.rcode)
    assert.are.same({ "end" }, ok.records)
    assert.are.equal(8, #ok.cnames)
    local long = chain(9)
    assert.are.equal("SERVFAIL", long.rcode)
    assert.are.same({}, long.records)
    assert.are.equal(8, #long.cnames)
  end)

  it("answers a question for the CNAME itself with the CNAME, not through it", function()
    local a = parse(reply("a.example", T_CNAME, {
      cname_rr("a.example", "b.example"),
      cname_rr("b.example", "c.example"),
    }))
    assert.are.same({ "b.example" }, a.records)
    assert.are.same({}, a.cnames)
  end)

  it("reads a reply dnspython encoded (with name compression) the same way", function()
    if not sh("/usr/bin/python3 -c 'import dns.message; print(1)' 2>/dev/null"):match("1") then
      pending("dnspython under /usr/bin/python3 not found")
      return
    end
    local query = assert(mailauth.dns.query_wire("selector1._domainkey.contoso.com", "TXT", 777))
    local qhex = query:gsub(".", function(c) return ("%02x"):format(c:byte()) end)
    local out = sh(([[/usr/bin/python3 -c '
import binascii, dns.message, dns.rrset
q = dns.message.from_wire(binascii.unhexlify("%s"))
r = dns.message.make_response(q)
r.answer.append(dns.rrset.from_text("selector1._domainkey.contoso.com.", 300, "IN", "CNAME",
                                    "%s."))
r.answer.append(dns.rrset.from_text("selector1-contoso-com._domainkey.evil.onmicrosoft.com.", 300,
                                    "IN", "TXT", "\"v=DKIM1; p=EVIL\""))
r.answer.append(dns.rrset.from_text("%s.", 300, "IN", "TXT", "\"v=DKIM1; p=GOOD\""))
print(binascii.hexlify(r.to_wire()).decode())
']]):format(qhex, MOERA_TARGET, MOERA_TARGET))
    local bytes = out:gsub("%s", ""):gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end)
    local a = parse(bytes)
    assert.are.equal(777, a.id)
    assert.are.same({ "v=DKIM1; p=GOOD" }, a.records)
    assert.are.same({ MOERA_TARGET }, a.cnames)
  end)
end)

describe("dns cnames: Lua function resolvers", function()
  local key = new_key()
  local signed = sign(MESSAGE, key, CONTOSO, "selector1")

  local function verify(answer)
    local r = mailauth.dkim_verify(signed, { now = NOW, resolver = function(name, qtype)
      assert.are.equal("selector1._domainkey.contoso.com", name:lower())
      assert.are.equal("TXT", qtype)
      return answer
    end })
    assert.are.equal(1, #r)
    return r[1]
  end

  it("carries the chain a Lua resolver returns into key_cnames, normalised", function()
    local r = verify { rcode = "NOERROR", records = { key.record },
                       cnames = { "Selector1-Contoso-com._domainkey.Contoso.OnMicrosoft.com." } }
    assert.are.equal("pass", r.result, r.problem)
    assert.are.same({ MOERA_TARGET }, r.key_cnames)
  end)

  it("leaves key_cnames out when the answer has no chain", function()
    local r = verify { rcode = "NOERROR", records = { key.record } }
    assert.are.equal("pass", r.result, r.problem)
    assert.is_nil(r.key_cnames)
    assert.is_nil(verify({ rcode = "NOERROR", records = { key.record }, cnames = {} }).key_cnames)
  end)

  it("reports the chain on a failure too: a loop the resolver gave up on", function()
    local r = verify { rcode = "SERVFAIL", records = {}, cnames = { "loop2.contoso.com" } }
    assert.are.equal("temperror", r.result)
    assert.are.same({ "loop2.contoso.com" }, r.key_cnames)
  end)

  it("raises a Lua error for a cnames value of the wrong type", function()
    assert.has_error(function() verify { rcode = "NOERROR", records = {}, cnames = "a.example" } end,
                     "answer: cnames must be a table of names")
    assert.has_error(function() verify { rcode = "NOERROR", records = {}, cnames = { "a.example", {} } } end,
                     "answer: cnames[2] must be a string")
    assert.has_error(function() verify { rcode = "NOERROR", records = {}, cnames = { 7 } } end,
                     "answer: cnames[1] must be a string")
    -- a NUL would cut the name in C (before: "a.example\0.evil" became
    -- "a.example"): refused whole
    assert.has_error(function() verify { rcode = "NOERROR", records = {}, cnames = { "a.example\0.evil" } } end,
                     "answer: cnames[1] holds a NUL byte")
    local many = {}
    for i = 1, 65 do many[i] = i .. ".example" end
    assert.has_error(function() verify { rcode = "NOERROR", records = {}, cnames = many } end,
                     "answer: too many cnames (at most 64)")
  end)

  -- The attack through a host that hands over wire bytes: the reply for the
  -- victim's selector carries the attacker's key record under the
  -- attacker's own name.  Without the owner check (see above) this passed.
  it("does not verify a signature with a key record owned by another name", function()
    local evil = new_key()
    local forged = sign(MESSAGE, evil, CONTOSO, "selector1")
    local r = mailauth.dkim_verify(forged, { now = NOW, resolver = function(name)
      return parse(reply(name, T_TXT, { txt_rr("selector1._domainkey.attacker.example", evil.record) }))
    end })
    assert.are.equal("permerror", r[1].result)
    assert.matches("no key for signature", r[1].problem)
  end)
end)

describe("dns cnames: DKIM key_cnames for Microsoft 365 custom domains", function()
  local key = new_key()
  local z = zone(([[
$TTL 3600
contoso.com. IN SOA ns.contoso.com. h.contoso.com. 1 3600 600 86400 60
selector1._domainkey.contoso.com. IN CNAME %s.
selector2._domainkey.contoso.com. IN CNAME %s.
loop._domainkey.contoso.com. IN CNAME loop2._domainkey.contoso.com.
loop2._domainkey.contoso.com. IN CNAME loop._domainkey.contoso.com.
onmicrosoft.com. IN SOA ns.onmicrosoft.com. h.onmicrosoft.com. 1 3600 600 86400 60
%s. IN TXT %s
dkim.mail.microsoft. IN SOA ns.dkim.mail.microsoft. h.dkim.mail.microsoft. 1 3600 600 86400 60
%s. IN TXT %s
]]):format(MOERA_TARGET, V1_TARGET, MOERA_TARGET, quoted(key.record), V1_TARGET, quoted(key.record)))

  local function verify(msg)
    return mailauth.dkim_verify(msg, { resolver = z, now = NOW })
  end

  it("passes a custom-domain signature and names the tenant's key (onmicrosoft.com form)", function()
    local r = verify(sign(MESSAGE, key, CONTOSO, "selector1"))
    assert.are.equal(1, #r)
    assert.are.equal("pass", r[1].result, r[1].problem)
    assert.are.equal(CONTOSO, r[1].domain)
    assert.are.same({ MOERA_TARGET }, r[1].key_cnames)
  end)

  it("does the same for the 2025 form under dkim.mail.microsoft", function()
    local r = verify(sign(MESSAGE, key, CONTOSO, "selector2"))
    assert.are.equal("pass", r[1].result, r[1].problem)
    assert.are.same({ V1_TARGET }, r[1].key_cnames)
  end)

  it("keeps the chain per answer though both names publish the same p= (one key-cache entry)", function()
    -- The tenant's own signature asks the target name directly: no chain.
    -- src/core/crypto.c caches the decoded key by its p= text, shared by both;
    -- key_cnames comes from each signature's own answer, so it must differ.
    local both = sign(sign(MESSAGE, key, TENANT, "selector1-contoso-com"), key, CONTOSO, "selector1")
    for _ = 1, 2 do
      local r = verify(both)
      assert.are.equal(2, #r)
      assert.are.equal(CONTOSO, r[1].domain)
      assert.are.equal("pass", r[1].result, r[1].problem)
      assert.are.same({ MOERA_TARGET }, r[1].key_cnames)
      assert.are.equal(TENANT, r[2].domain)
      assert.are.equal("pass", r[2].result, r[2].problem)
      assert.is_nil(r[2].key_cnames)
    end
  end)

  it("ends a looping key name with temperror, reporting the links", function()
    local r = verify(sign(MESSAGE, key, CONTOSO, "loop"))
    assert.are.equal("temperror", r[1].result)
    assert.matches("SERVFAIL", r[1].problem)
    assert.are.same({ "loop2._domainkey.contoso.com" }, r[1].key_cnames)
  end)
end)

describe("dns cnames: the HAProxy adapter reads the chain from the wire", function()
  -- A stand-in for HAProxy's core.tcp(): it answers each DNS-over-TCP query
  -- (RFC 7766 length prefix) with a reply built by hand for its id and name.
  local function fake_core(answers_for)
    return { tcp = function()
      local sock, pending = {}, nil
      function sock.settimeout() end
      function sock.connect() return true end
      function sock.close() end
      function sock.send(_, data)
        local q = data:sub(3)
        local id = q:byte(1) * 256 + q:byte(2)
        local labels, p = {}, 13
        while q:byte(p) ~= 0 do
          local n = q:byte(p)
          labels[#labels + 1] = q:sub(p + 1, p + n)
          p = p + n + 1
        end
        local name = table.concat(labels, ".")
        local body = reply(name, T_TXT, answers_for(name), { id = id })
        pending = u16(#body) .. body
        return #data
      end
      function sock.receive(_, n)
        local out = pending:sub(1, n)
        pending = pending:sub(n + 1)
        return out
      end
      return sock
    end }
  end

  it("gives cnames and drops records owned by other names", function()
    local saved = rawget(_G, "core")
    _G.core = fake_core(function(name)
      return {
        cname_rr(name, MOERA_TARGET),
        txt_rr("selector1-contoso-com._domainkey.evil.onmicrosoft.com", "v=DKIM1; p=EVIL"),
        txt_rr(MOERA_TARGET, "v=DKIM1; p=GOOD"),
      }
    end)
    local ok, a = pcall(function()
      local resolve = require("mailauth.haproxy").resolver { nameservers = { "127.0.0.1@53" } }
      return resolve("selector1._domainkey.contoso.com", "TXT")
    end)
    _G.core = saved
    assert(ok, a)
    assert.are.equal("NOERROR", a.rcode)
    assert.are.same({ "v=DKIM1; p=GOOD" }, a.records)
    assert.are.same({ MOERA_TARGET }, a.cnames)
  end)
end)

describe("dns cnames: the Rspamd adapter asks the chain link by link", function()
  -- A stand-in for rspamd_dns.request as Rspamd 3.4 behaves (seen against
  -- Knot): a TXT question over an alias gives only the final TXT strings; a
  -- CNAME question gives the target; "requested record is not found" for
  -- NODATA.  DNS is { ["type name"] = { records } }.
  local DNS, asked = {}, {}
  package.loaded.rspamd_dns = { request = function(q)
    asked[#asked + 1] = q.type .. " " .. q.name
    local rec = DNS[q.type .. " " .. q.name:lower()]
    if rec then return true, rec end
    return false, "requested record is not found"
  end }
  local adapter = require "mailauth.rspamd"

  before_each(function()
    asked = {}
    DNS = {
      ["cname selector1._domainkey.contoso.com"] = { MOERA_TARGET .. "." },
      ["txt selector1._domainkey.contoso.com"] = { "v=DKIM1; p=GOOD" },
      ["txt contoso.com"] = { "v=spf1 -all" },
      ["cname loop._domainkey.contoso.com"] = { "loop2._domainkey.contoso.com" },
      ["cname loop2._domainkey.contoso.com"] = { "loop._domainkey.contoso.com" },
      ["txt loop._domainkey.contoso.com"] = { "never" },
    }
  end)

  it("gives a DKIM key name its chain and other questions none (by default)", function()
    local resolve = adapter.resolver({})
    local a = resolve("selector1._domainkey.contoso.com", "TXT")
    assert.are.same({ "v=DKIM1; p=GOOD" }, a.records)
    assert.are.same({ MOERA_TARGET }, a.cnames)
    assert.are.same({}, resolve("contoso.com", "TXT").cnames)
    assert.are.same({ "cname selector1._domainkey.contoso.com", "cname " .. MOERA_TARGET,
                      "txt selector1._domainkey.contoso.com", "txt contoso.com" }, asked)
  end)

  it("makes a loop SERVFAIL, and asks nothing extra with cnames = false", function()
    local a = adapter.resolver({})("loop._domainkey.contoso.com", "TXT")
    assert.are.equal("SERVFAIL", a.rcode)
    assert.are.same({ "loop2._domainkey.contoso.com" }, a.cnames)
    asked = {}
    local b = adapter.resolver({}, { cnames = false })("selector1._domainkey.contoso.com", "TXT")
    assert.are.same({}, b.cnames)
    assert.are.same({ "txt selector1._domainkey.contoso.com" }, asked)
  end)

  it("feeds the chain into DKIM's key_cnames", function()
    local key = new_key()
    DNS["txt selector1._domainkey.contoso.com"] = { key.record }
    local r = mailauth.dkim_verify(sign(MESSAGE, key, CONTOSO, "selector1"),
                                   { resolver = adapter.resolver({}), now = NOW })
    assert.are.equal("pass", r[1].result, r[1].problem)
    assert.are.same({ MOERA_TARGET }, r[1].key_cnames)
  end)
end)

describe("#integration dns cnames through Knot and the ldns resolver", function()
  local NS = helpers.test_nameserver()
  local TARGET = "selector1-example-com._domainkey.tenant.example.com"

  local function fresh()
    assert(NS, "MAILAUTH_TEST_NS is not set: run the specs through make test")
    return assert(mailauth.resolver { nameservers = { NS }, timeout = 2, retries = 0 })
  end

  it("reports the chain Knot put in the answer section, in order, and keeps it in the cache", function()
    local r = fresh()
    local a = r:query("chain1.example.com", "TXT")
    assert.are.equal("NOERROR", a.rcode)
    assert.are.same({ "end of the chain" }, a.records)
    -- the zone spells the second target CHAIN3.example.com.
    assert.are.same({ "chain2.example.com", "chain3.example.com" }, a.cnames)
    local again = r:query("chain1.example.com", "TXT")
    assert.are.equal(1, r:stats().cache_hits)
    assert.are.same(a.cnames, again.cnames)
    assert.are.same({}, r:query("example.com", "TXT").cnames)
  end)

  it("turns Knot's looping CNAMEs into SERVFAIL", function()
    local a = fresh():query("loop1.example.com", "TXT")
    assert.are.equal("SERVFAIL", a.rcode)
    assert.are.same({ "loop2.example.com" }, a.cnames)
  end)

  it("gives only the CNAME an authoritative server has for a name in another zone", function()
    -- Knot answers from its own zone only; the stub does not chase the
    -- alias (a recursive server would have), so the answer is the chain
    -- with no records.
    local a = fresh():query("outside.example.com", "TXT")
    assert.are.equal("NOERROR", a.rcode)
    assert.are.same({}, a.records)
    assert.are.same({ "mta.interop.example" }, a.cnames)
  end)

  it("verifies a signature whose selector is a CNAME, with key_cnames", function()
    local pem = F.read("dkimpy/test.private")
    local msg = MESSAGE:gsub("contoso%.com", "example.com")
    local h = assert(mailauth.dkim_sign(msg, { domain = "example.com", selector = "selector1",
      key = pem, algorithm = "rsa-sha256", now = NOW - 60 }))
    local r = mailauth.dkim_verify(h .. "\r\n" .. msg, { resolver = fresh(), now = NOW })
    assert.are.equal("pass", r[1].result, r[1].problem)
    assert.are.same({ TARGET }, r[1].key_cnames)
  end)
end)
