-- Microsoft 365 tenants for the attack specs, offline.  Keys are generated
-- at test time (openssl) and published in zone text; messages are signed
-- by dkimpy under /usr/bin/python3 (spec/support/dkimpy_sign.py) and by
-- mailauth.dkim_sign; Microsoft's ARC seal is made with a test key for a
-- d=microsoft.com selector of that zone.  Nothing here is a real key
-- (1024-bit RSA, the RFC 8301 minimum: quick to make for every run).
--
--   contoso.onmicrosoft.com  the configured tenant (custom domain contoso.com,
--                            whose selector1/selector2 are CNAMEs into it)
--   evil.onmicrosoft.com     another tenant, the attacker
local mailauth = require "mailauth"
local F = require "spec.support.dkimfix"

local T = {}

T.NOW = 1795700000              -- the clock every check runs with
T.SIGNED_AT = T.NOW - 600       -- t= of the genuine signatures
T.IP = "40.107.22.50"           -- an EOP outbound address (examples' PTR zone)
T.HELO = "EUR03-DB5-obe.outbound.protection.outlook.com"
T.TENANTS = { { domain = "contoso.onmicrosoft.com", domains = { "contoso.com" } } }
-- How Exchange Online signs: these fields once each, From not oversigned.
T.EXCHANGE_HEADERS = { "from", "to", "cc", "subject", "date", "message-id", "reply-to" }

local PY = "/usr/bin/python3"
local dir

local function sh(cmd)
  local ok = os.execute(cmd)
  return ok == true or ok == 0
end

--- T.available() -> true | false, why (dkimpy and openssl present)
function T.available()
  if not sh("test -x " .. PY .. " && " .. PY .. " -c 'import dkim' >/dev/null 2>&1") then
    return false, "dkimpy is not installed under /usr/bin/python3 (sh spec/support/deps.sh)"
  end
  if not sh("openssl version >/dev/null 2>&1") then return false, "no openssl command" end
  return true
end

--- T.describe(title, body): a busted describe block that needs dkimpy and
-- openssl (one pending case naming what is missing otherwise) and removes
-- the keys it made when done.
function T.describe(title, body)
  local busted = require "busted"
  busted.describe(title, function()
    local ok, why = T.available()
    if not ok then
      busted.it("needs dkimpy", function() busted.pending(why) end)
      return
    end
    busted.teardown(T.cleanup)
    body()
  end)
end

local keys = {}
--- T.key(name) -> { pem = path, pem_text = ..., p = base64 public key }
function T.key(name)
  if keys[name] then return keys[name] end
  dir = dir or F.tmpdir()
  local pem = dir .. "/" .. name .. ".pem"
  assert(sh(("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out '%s' 2>/dev/null")
            :format(pem)), "openssl genpkey")
  assert(sh(("openssl pkey -in '%s' -pubout -outform DER -out '%s.der' 2>/dev/null"):format(pem, pem)))
  keys[name] = { pem = pem, pem_text = F.slurp(pem), p = F.b64encode(F.slurp(pem .. ".der")) }
  return keys[name]
end

local function txt(s)
  local parts = {}
  for i = 1, #s, 200 do parts[#parts + 1] = '"' .. s:sub(i, i + 199) .. '"' end
  return table.concat(parts, " ")
end

local function dkim_txt(key, extra)
  return txt("v=DKIM1; " .. (extra or "") .. "k=rsa; p=" .. key.p)
end

local function zone(origin, lines)
  return ("$ORIGIN %s.\n$TTL 300\n@ IN SOA ns1.%s. hostmaster.%s. 1 3600 600 86400 300\n@ IN NS ns1.%s.\n%s\n")
         :format(origin, origin, origin, origin, table.concat(lines, "\n"))
end

--- T.zones(extra) -> list of zone texts; extra: { ["onmicrosoft.com"] = { lines } }
function T.zones(extra)
  extra = extra or {}
  local contoso, evil, testing, ms = T.key("contoso"), T.key("evil"), T.key("testing"), T.key("microsoft")
  local function with(origin, lines)
    for _, l in ipairs(extra[origin] or {}) do lines[#lines + 1] = l end
    return zone(origin, lines)
  end
  return {
    with("onmicrosoft.com", {
      "selector1-contoso-com._domainkey.contoso IN TXT " .. dkim_txt(contoso),
      "selector1-contoso-onmicrosoft-com._domainkey.contoso IN TXT " .. dkim_txt(contoso),
      "selector2-contoso-com._domainkey.contoso IN TXT " .. dkim_txt(testing, "t=y; "),
      "selector1-evil-onmicrosoft-com._domainkey.evil IN TXT " .. dkim_txt(evil),
      '_dmarc.contoso IN TXT "v=DMARC1; p=reject"',
    }),
    with("contoso.com", {
      '@ IN TXT "v=spf1 include:spf.protection.outlook.com -all"',
      '_dmarc IN TXT "v=DMARC1; p=reject"',
      "selector1._domainkey IN CNAME selector1-contoso-com._domainkey.contoso.onmicrosoft.com.",
      "selector2._domainkey IN CNAME selector2-contoso-com._domainkey.contoso.onmicrosoft.com.",
    }),
    with("microsoft.com", {
      "arcselector9901._domainkey IN TXT " .. dkim_txt(ms),
    }),
    F.slurp("examples/zones/outlook.com.zone"),
    F.slurp("examples/zones/107.40.in-addr.arpa.zone"),
  }
end

function T.resolver(extra)
  return assert(mailauth.resolver { zones = T.zones(extra) })
end

--- T.message(fields, body) -> CRLF text; fields: list of "Name: value"
function T.message(fields, body)
  return table.concat(fields, "\r\n") .. "\r\n\r\n" .. (body or "Hello,\r\n\r\nthe figures are attached.\r\n")
end

T.FIELDS = {
  "From: Alice <alice@contoso.com>", "To: bob@example.net",
  "Subject: Quarterly figures", "Date: Thu, 26 Nov 2026 09:00:00 +0000",
  "Message-ID: <a1@contoso.com>", "Reply-To: alice@contoso.com",
}

--- T.sign_dkimpy(message, { domain, selector, key, headers, length, timestamp })
function T.sign_dkimpy(message, o)
  dir = dir or F.tmpdir()
  local src, out = dir .. "/in.eml", dir .. "/out.eml"
  F.write(src, message)
  os.remove(out)
  local cmd = ("%s spec/support/dkimpy_sign.py '%s' '%s' '%s' '%s' '%s' '%s' %s %d"):format(
    PY, src, out, T.key(o.key).pem, o.selector, o.domain,
    table.concat(o.headers or T.EXCHANGE_HEADERS, ","), o.length and "1" or "0",
    o.timestamp or T.SIGNED_AT)
  assert(sh(cmd), "dkimpy_sign.py failed: " .. cmd)
  return assert(F.slurp(out))
end

--- T.sign_mailauth(message, { domain, selector, key, headers, timestamp })
function T.sign_mailauth(message, o)
  local h = assert(mailauth.dkim_sign(message, {
    domain = o.domain, selector = o.selector, key = T.key(o.key).pem_text,
    headers = o.headers or T.EXCHANGE_HEADERS, now = o.timestamp or T.SIGNED_AT }))
  return h .. "\r\n" .. message
end

-- The genuine tenant signature for contoso.com, by either signer.
T.SIGNERS = {
  dkimpy = function(m, o) return T.sign_dkimpy(m, o) end,
  mailauth = function(m, o) return T.sign_mailauth(m, o) end,
}

function T.contoso(o)
  o = o or {}
  o.domain, o.selector, o.key = o.domain or "contoso.com", o.selector or "selector1", o.key or "contoso"
  return o
end

--- T.seal(message, aar_results) -> message with a microsoft.com ARC set
function T.seal(message, results, o)
  o = o or {}
  local text = assert(mailauth.arc_seal(message, {
    domain = "microsoft.com", selector = "arcselector9901", key = T.key("microsoft").pem_text,
    authserv_id = "mx.microsoft.com", authentication_results = results,
    now = o.timestamp or T.SIGNED_AT + 5 }))
  return text .. "\r\n" .. message
end

--- T.check(message, opts) -> mailauth.check report, as an MX sees EOP
function T.check(message, opts)
  opts = opts or {}
  return mailauth.check(message, {
    ip = T.IP, helo = T.HELO, sender = opts.sender or "alice@contoso.com",
    resolver = opts.resolver or T.resolver(), now = T.NOW, authserv_id = "mx.example.net",
    org_domain = opts.org_domain, pct_roll = 0, shared_domains = opts.shared_domains })
end

function T.trust(report, opts)
  local exchange = require "mailauth.exchange"
  opts = opts or {}
  opts.tenants = opts.tenants or T.TENANTS
  return exchange.trust(report, opts)
end

--- T.insert(message, field) -> the message with field prepended (as a
-- replaying attacker adds it, above the signature's copy)
function T.prepend(message, field)
  return field .. "\r\n" .. message
end

function T.cleanup()
  if dir then F.rmdir(dir) end
  dir, keys = nil, {}
end

return T
