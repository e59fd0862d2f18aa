-- Helpers for the spec/attack_from_*_spec.lua files: an RSA key made at test
-- time with openssl, an offline zone where the attacker's domain publishes
-- that key and a DMARC record (so, undefended, DMARC passes for the
-- attacker) and the victim's domain a p=reject record, and the two signers:
-- dkimpy (Debian python3-dkim under /usr/bin/python3, independent of us) and
-- mailauth.dkim_sign.
local mailauth = require "mailauth"
local F = require "dkimfix"

local A = {}

A.ATTACKER = "attacker.example"
A.VICTIM = "victim.example"
A.SELECTOR = "s1"
A.HEADERS = { "from", "to", "subject", "date" }	-- not oversigned, as Exchange Online signs

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>/dev/null"))
  local out = p:read("*a")
  p:close()
  return out
end

-- 1 when dkimpy can run here (else the dkimpy cases are skipped with a notice).
local have_dkimpy
function A.have_dkimpy()
  if have_dkimpy == nil then
    local ok = os.execute("/usr/bin/python3 -c 'import dkim' >/dev/null 2>&1")
    have_dkimpy = ok == true or ok == 0
  end
  return have_dkimpy
end

-- Key, zone and resolver; call once per spec file (setup), A.teardown after.
function A.setup()
  local ctx = { dir = F.tmpdir() }
  ctx.keyfile = ctx.dir .. "/key.pem"
  sh("openssl genrsa -out '" .. ctx.keyfile .. "' 2048")
  ctx.pem = F.slurp(ctx.keyfile)
  assert(ctx.pem and ctx.pem:find("PRIVATE KEY"), "openssl genrsa failed")
  local pub = sh("(openssl rsa -in '" .. ctx.keyfile .. "' -pubout -outform DER 2>/dev/null) | base64 -w0")
  assert(#pub > 200, "openssl rsa -pubout failed")
  local chunks = {}
  for i = 1, #pub, 200 do chunks[#chunks + 1] = '"' .. pub:sub(i, i + 199) .. '"' end
  local zone = table.concat({
    "$ORIGIN example.",
    "@ IN SOA ns hm 1 2 3 4 60",
    ('%s._domainkey.attacker IN TXT "v=DKIM1; k=rsa; p=" %s'):format(A.SELECTOR,
                                                                  table.concat(chunks, " ")),
    '_dmarc.attacker IN TXT "v=DMARC1; p=reject; adkim=r; aspf=r"',
    'attacker IN TXT "v=spf1 ip4:' .. "192.0.2.10" .. ' -all"',
    '_dmarc.victim IN TXT "v=DMARC1; p=reject"',
    "" }, "\n")
  ctx.resolver = assert(mailauth.resolver { zones = { zone } })
  return ctx
end

function A.teardown(ctx)
  if ctx then F.rmdir(ctx.dir) end
end

-- dkimpy is slow to start (seconds on a loaded machine): one process signs
-- a batch, job i reading in.i and writing out.i.
local PY = [[
import sys, dkim
key = open(sys.argv[2], 'rb').read()
for line in open(sys.argv[1]):
    n, domain, hdrs = line.split()
    msg = open(sys.argv[3] + '/in.' + n, 'rb').read()
    try:
        sig = dkim.sign(msg, sys.argv[4].encode(), domain.encode(), key,
                        canonicalize=(b'relaxed', b'relaxed'),
                        include_headers=[h.encode() for h in hdrs.split(':')])
        out = sig + msg
    except Exception as e:
        out = ('error: %s' % e).encode()
    open(sys.argv[3] + '/out.' + n, 'wb').write(out)
]]

local function key_of(message, domain, headers)
  return domain .. "\0" .. table.concat(headers, ":") .. "\0" .. message
end

-- Signs every { message, domain, headers } with dkimpy in one process; A.sign
-- then finds them.  Without it A.sign starts dkimpy once per message.
function A.presign(ctx, items)
  ctx.signed = ctx.signed or {}
  local jobs, py = {}, ctx.dir .. "/sign.py"
  F.write(py, PY)
  for i, it in ipairs(items) do
    local domain, headers = it[2] or A.ATTACKER, it[3] or A.HEADERS
    F.write(ctx.dir .. "/in." .. i, it[1])
    jobs[#jobs + 1] = ("%d %s %s"):format(i, domain, table.concat(headers, ":"))
  end
  F.write(ctx.dir .. "/jobs", table.concat(jobs, "\n") .. "\n")
  sh(("/usr/bin/python3 '%s' '%s' '%s' '%s' %s"):format(py, ctx.dir .. "/jobs", ctx.keyfile,
    ctx.dir, A.SELECTOR))
  for i, it in ipairs(items) do
    local out = F.slurp(ctx.dir .. "/out." .. i) or "error: no output"
    ctx.signed[key_of(it[1], it[2] or A.ATTACKER, it[3] or A.HEADERS)] = out
  end
end

-- The setup and teardown of a From attack spec's describe block: a context
-- (A.setup), and, where dkimpy is present, the control message and
-- message_of(case) for every case presigned in one dkimpy run.  set(ctx)
-- hands the context to the block's its.
function A.presigned_context(control, cases, message_of, set)
  local busted = require "busted"
  local ctx
  busted.setup(function()
    ctx = A.setup()
    set(ctx)
    if A.have_dkimpy() then
      local items = { { control } }
      for _, c in ipairs(cases) do items[#items + 1] = { message_of(c) } end
      A.presign(ctx, items)
    end
  end)
  busted.teardown(function() A.teardown(ctx) end)
end

-- The message signed by signer ("dkimpy" | "mailauth") with d=domain.
function A.sign(ctx, signer, message, domain, headers)
  domain = domain or A.ATTACKER
  headers = headers or A.HEADERS
  if signer == "mailauth" then
    local h, err = mailauth.dkim_sign(message, { domain = domain, selector = A.SELECTOR,
      key = ctx.pem, headers = headers, canonicalization = "relaxed/relaxed" })
    assert(h, err)
    return h .. "\r\n" .. message
  end
  local k = key_of(message, domain, headers)
  if not (ctx.signed and ctx.signed[k]) then A.presign(ctx, { { message, domain, headers } }) end
  local out = ctx.signed[k]
  assert(out:find("^DKIM%-Signature:"), "dkimpy did not sign: " .. out:sub(1, 200))
  return out
end

-- mailauth.check on the offline zone, now; with spf = true the message also
-- comes from the attacker's SPF-authorised address (MAIL FROM aligned).
A.ATTACKER_IP = "192.0.2.10"
function A.check(ctx, message, spf)
  return mailauth.check(message, { resolver = ctx.resolver, now = os.time(), pct_roll = 0,
    ip = spf and A.ATTACKER_IP or nil, sender = spf and ("bounce@" .. A.ATTACKER) or nil,
    helo = spf and ("mx." .. A.ATTACKER) or nil })
end

-- A passing DKIM result for domain in a report.
function A.dkim_pass(report, domain)
  for _, d in ipairs(report.dkim or {}) do
    if d.result == "pass" and d.domain == (domain or A.ATTACKER) then return true end
  end
  return false
end

-- A message around the given header lines (a list), CRLF line ends.
function A.message(lines, body)
  return table.concat(lines, "\r\n") .. "\r\nTo: <user@recipient.example>\r\n" ..
         "Subject: Invoice\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n\r\n" ..
         (body or "Please pay the attached invoice.\r\n")
end

-- Which signers run here; dkimpy only under /usr/bin/python3 with python3-dkim.
function A.signers()
  if A.have_dkimpy() then return { "dkimpy", "mailauth" } end
  io.stderr:write("attack specs: /usr/bin/python3 with dkim missing: dkimpy cases skipped\n")
  return { "mailauth" }
end

-- The assertions every attack shares: genuinely signed for the attacker's
-- domain, yet DMARC permerror naming the problem, and no From domain.
-- With spf, SPF for the attacker's MAIL FROM must pass instead of DKIM (the
-- header-limit cases: DKIM itself refuses a message past the limits).
function A.assert_refused(report, pattern, label, spf)
  if spf then
    assert(report.spf and report.spf.result == "pass" and report.spf.domain == A.ATTACKER,
           label .. ": SPF did not pass for the attacker")
  else
    assert(A.dkim_pass(report, A.ATTACKER), label .. ": not genuinely signed (dkim: " ..
           tostring(report.dkim and report.dkim[1] and report.dkim[1].problem) .. ")")
  end
  assert(report.author_problem, label .. ": no author_problem")
  assert(report.author_problem:find(pattern), label .. ": author_problem '" ..
         report.author_problem .. "' does not name " .. pattern)
  assert(report.dmarc.result == "permerror", label .. ": dmarc " .. tostring(report.dmarc.result))
  assert(report.dmarc.problem == report.author_problem, label .. ": dmarc problem " ..
         tostring(report.dmarc.problem))
  assert(report.dmarc.policy == nil, label .. ": a policy was evaluated")
  assert(report.from_domain == nil, label .. ": from_domain " .. tostring(report.from_domain))
end

-- The positive control: the clean message passes DMARC for the attacker.
function A.assert_clean_pass(report, label)
  assert(A.dkim_pass(report, A.ATTACKER), label .. ": not signed")
  assert(report.author_problem == nil, label .. ": " .. tostring(report.author_problem))
  assert(report.dmarc.result == "pass", label .. ": dmarc " .. tostring(report.dmarc.result) ..
         " " .. tostring(report.dmarc.problem))
  assert(report.from_domain == A.ATTACKER, label .. ": from_domain " .. tostring(report.from_domain))
  assert(report.from_fields == 1 and report.from_count == 1, label .. ": counts")
end

return A
