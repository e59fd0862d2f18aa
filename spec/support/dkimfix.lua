-- Helpers for the DKIM specs: fixture files, line ends, offline DNS.
local helpers = require "spec.support.helpers"
local fakedns = require "fakedns"
local F = {}

-- ../shared/testdata/dkim/, read in place; nil where it is absent (the
-- specs that read it skip whole: helpers.skip_without_testdata("dkim/")).
F.dir = helpers.testdata("dkim/")

-- A file under F.dir.
function F.read(path)
  assert(F.dir, "no ../shared/testdata/dkim/: skip with helpers.skip_without_testdata")
  return helpers.read(F.dir .. path)
end

-- LF -> CRLF (the stored messages mostly have LF line ends).
function F.crlf(s)
  return (s:gsub("\r\n", "\n"):gsub("\n", "\r\n"))
end

-- The fake DNS over { ["owner"] = "TXT value" | an answer table }, read at
-- each question (specs publish and withdraw keys between checks): a value
-- is the owner's one TXT record; an answer with no records and an rcode
-- other than NOERROR is that fault; any other answer is given as it is, for
-- every type.  log gets "QTYPE name" per question.
local function fakedns_node(v)
  if v == nil then return nil end
  if type(v) ~= "table" then return { TXT = { v } } end
  if v.rcode and v.rcode ~= "NOERROR" and next(v.records or {}) == nil then return v.rcode end
  return { fault = { answer = v } }
end

function F.resolver(records, log)
  local zone = setmetatable({}, { __index = function(_, owner) return fakedns_node(records[owner]) end })
  return fakedns.new(zone, { log = log }).resolve
end

-- "<owner> <value>" lines (stalwart, rfc8463/dns.txt, C-dns.txt).
function F.records(text, into)
  into = into or {}
  for line in text:gmatch("[^\r\n]+") do
    local owner, value = line:match("^(%S+)%s+(.*)$")
    if owner and not owner:match("^[#;]") then
      into[owner:lower():gsub("%.$", "")] = value
    end
  end
  return into
end

-- Mail::DKIM's FAKE_DNS.dat: NXDOMAIN / timeouts / SERVFAIL / "" markers.
function F.fake_dns(text)
  local r = {}
  for line in text:gmatch("[^\r\n]+") do
    local owner, value = line:match("^(%S+)%s+(.-)%s*$")
    if owner and not owner:match("^[#;]") then
      owner = owner:lower()
      if value == "NXDOMAIN" then r[owner] = { rcode = "NXDOMAIN", records = {} }
      elseif value == "~~Query timed out~~" then r[owner] = { rcode = "TIMEOUT", records = {} }
      elseif value == "~~SERVFAIL~~" then r[owner] = { rcode = "SERVFAIL", records = {} }
      elseif value == '""' then r[owner] = { rcode = "NOERROR", records = { "" } }
      else r[owner] = value end
    end
  end
  return r
end

-- stalwart's format: records, an empty line, then the message.
function F.stalwart(name)
  local text = F.read("stalwart/" .. name)
  local head, message = text:match("^(.-)\n\n(.*)$")
  return F.records(head), F.crlf(message)
end

-- Tab-separated expectation files, "#" comments skipped.
function F.tsv(path)
  local rows = {}
  for line in F.read(path):gmatch("[^\n]+") do
    if not line:match("^#") then
      local row = {}
      for cell in (line .. "\t"):gmatch("([^\t]*)\t") do row[#row + 1] = cell end
      rows[#rows + 1] = row
    end
  end
  return rows
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

function F.b64decode(s)
  s = s:gsub("[^%w%+/]", "")
  local out, bits, n = {}, 0, 0
  for c in s:gmatch(".") do
    bits = bits * 64 + (B64:find(c, 1, true) - 1)
    n = n + 6
    if n >= 8 then
      n = n - 8
      local byte = math.floor(bits / 2 ^ n)
      out[#out + 1] = string.char(byte)
      bits = bits - byte * 2 ^ n
    end
  end
  return table.concat(out)
end

-- the library's own encoder: inputs for the specs, not what they judge
F.b64encode = require("mailauth.internal").base64

-- An Ed25519 private key PEM (PKCS#8, RFC 8410) from a base64 32-byte seed.
function F.ed25519_pem(seed_b64)
  local seed = F.b64decode(seed_b64)
  assert(#seed == 32, "seed is not 32 bytes")
  local der = "\48\46\2\1\0\48\5\6\3\43\101\112\4\34\4\32" .. seed
  local b64 = F.b64encode(der)
  return "-----BEGIN PRIVATE KEY-----\n" .. b64 .. "\n-----END PRIVATE KEY-----\n"
end

F.write = helpers.write

-- dkimpy's two test keys (../shared/testdata/dkim/dkimpy/), by name: alg,
-- selector, file (the key file as dkimpy reads it), dns (the TXT record) and
-- pem (the key as mailauth takes it); and the records of both at example.com.
function F.dkimpy_keys()
  local keys = {
    rsa = { alg = "rsa-sha256", selector = "test", file = "dkimpy/test.private",
            dns = F.read("dkimpy/test.txt"):gsub("%s+$", "") },
    ed = { alg = "ed25519-sha256", selector = "ed", file = "dkimpy/ed25519test.key",
           dns = F.read("dkimpy/ed25519test.dns"):gsub("%s+$", "") },
  }
  keys.rsa.pem = F.read(keys.rsa.file)
  keys.ed.pem = F.ed25519_pem(F.read(keys.ed.file))
  return keys, {
    ["test._domainkey.example.com"] = keys.rsa.dns,
    ["ed._domainkey.example.com"] = keys.ed.dns,
  }
end

F.slurp = helpers.read_if

-- A fresh temporary directory (removed with F.rmdir).
function F.tmpdir()
  local p = os.tmpname()
  os.remove(p)
  assert(os.execute("mkdir -p '" .. p .. "'"))
  return p
end

function F.rmdir(p)
  if p and p:match("^/tmp/") then os.execute("rm -rf '" .. p .. "'") end
end

return F
