-- Differential test against npm `mailauth` (postalsys, 4.x): both libraries
-- judge the same DKIM-signed messages (signed by dkimpy, see
-- spec/support/gen_interop.py) against the same Knot DNS server, and their
-- SPF, DKIM and DMARC verdicts must agree.  npm's verdicts are computed now,
-- by spec/support/npm/oracle.js, never read from a stored file.  Where the
-- two disagree, KNOWN below names the RFC section that decides, asserts
-- npm's value as observed (so an npm change is noticed) and mailauth's as
-- the RFC requires.
--
-- Needs: node, `npm ci --prefix spec/support/npm` (spec/support/deps.sh does
-- both) and the Knot server of spec/support/run-specs.sh (MAILAUTH_TEST_NS).
-- Runs under Lua 5.4 only: the other ABIs run the same C code, and one node
-- start per run keeps the suite short.
if _VERSION ~= "Lua 5.4" then return end

local mailauth = require "mailauth"
local cjson = require "cjson"
local helpers = require "spec.support.helpers"

local NS = helpers.test_nameserver()
local DIR = "spec/fixtures/interop/"
local MANIFEST = dofile(DIR .. "manifest.lua")
local NOW = MANIFEST.now

-- Disagreements with npm mailauth 4.13.3, each decided by an RFC.
--   [id] = { [field] = { npm = observed npm value, expect = mailauth's value, why = ... } }
-- field: "spf.result", "dmarc.result", "dmarc.spf_aligned", "dkim.N.result", ...
local STRICT_NOT_ENFORCED = "npm mailauth's getAlignment(from, list, { strict }) receives an " ..
  "object, always truthy, and after its strict loop falls through to the relaxed org-domain " ..
  "match, so adkim=s/aspf=s never fail an org-domain match. RFC 7489 §3.1.1 (DKIM) and " ..
  "§3.1.2 (SPF): in strict mode only an exact match of the domains aligns"
local KNOWN = {
  ["dmarc-strict-dkim"] = {
    ["dmarc.result"] = { npm = "pass", expect = "fail", why = STRICT_NOT_ENFORCED },
    ["dmarc.dkim_aligned"] = { npm = true, expect = false, why = STRICT_NOT_ENFORCED },
  },
  ["dmarc-strict-spf"] = {
    ["dmarc.result"] = { npm = "pass", expect = "fail", why = STRICT_NOT_ENFORCED },
    ["dmarc.spf_aligned"] = { npm = true, expect = false, why = STRICT_NOT_ENFORCED },
  },
  ["dkim-body-tampered"] = {
    ["dkim.1.result"] = { npm = "neutral", expect = "fail", why = "RFC 6376 §6.1.3: a body hash " ..
      "mismatch is PERMFAIL (body hash did not verify); RFC 8601 §2.7.1: a signature that fails " ..
      "verification is 'fail' ('neutral' is for signatures that could not be processed)" },
  },
  ["dkim-simple-body-ws"] = {
    ["dkim.1.result"] = { npm = "neutral", expect = "fail", why = "as dkim-body-tampered: " ..
      "RFC 6376 §6.1.3 PERMFAIL, RFC 8601 §2.7.1 'fail'" },
  },
  ["dkim-missing-key"] = {
    ["dkim.1.result"] = { npm = "neutral", expect = "permerror", why = "RFC 6376 §6.1.2: no key " ..
      "record (NXDOMAIN) is PERMFAIL (no key for signature); RFC 8601 §2.7.1: an unrecoverable " ..
      "error that a later attempt will not fix is 'permerror'" },
  },
  ["dkim-revoked-key"] = {
    ["dkim.1.result"] = { npm = "neutral", expect = "permerror", why = "RFC 6376 §3.6.1: an " ..
      "empty p= means the key was revoked, §6.1.2: PERMFAIL (key revoked); RFC 8601 §2.7.1 " ..
      "'permerror'" },
  },
}

local function run_npm()
  local jobs = { ns = NS, messages = {} }
  for i, m in ipairs(MANIFEST.messages) do
    jobs.messages[i] = { id = m.id, file = DIR .. m.id .. ".eml",
                         ip = m.ip, helo = m.helo, sender = m.sender }
  end
  local input = os.tmpname()
  local f = assert(io.open(input, "wb"))
  f:write(cjson.encode(jobs))
  f:close()
  local errors = os.tmpname()
  -- No LD_PRELOAD: make asan preloads the sanitizer runtimes, which node must not get.
  local p = assert(io.popen(("env -u LD_PRELOAD node spec/support/npm/oracle.js < %s 2> %s")
                            :format(input, errors), "r"))
  local out = p:read("a")
  local ok = p:close()
  local err = helpers.read(errors)
  os.remove(input)
  os.remove(errors)
  assert(ok, "npm oracle failed (sh spec/support/deps.sh installs it): " .. err:sub(1, 2000))
  return cjson.decode(out)
end

local function run_mailauth(resolver, m)
  return mailauth.check(helpers.read(DIR .. m.id .. ".eml"),
                        { ip = m.ip, helo = m.helo, sender = m.sender, resolver = resolver,
                          authserv_id = "mx.interop.example", now = NOW })
end

local function value(v)
  if v == cjson.null then return nil end
  return v
end

-- npm lists an unsigned message as one { result = "none" } entry without a
-- domain; count that (on either side) as no signature.
local function signatures(list)
  if #list == 1 and list[1].result == "none" and value(list[1].domain) == nil then
    return {}
  end
  return list
end

-- What mailauth must say where npm says npm_value.
local function expected(id, field, npm_value)
  local known = KNOWN[id] and KNOWN[id][field]
  if known then return known.expect end
  return npm_value
end

describe("#integration npm mailauth interop", function()
  assert(NS, "MAILAUTH_TEST_NS is not set: run the specs through make test")
  local npm, ours
  local agreements, explained = 0, 0

  setup(function()
    npm = run_npm()
    local resolver = assert(mailauth.resolver { nameservers = { NS }, timeout = 2, retries = 1 })
    ours = {}
    for _, m in ipairs(MANIFEST.messages) do
      assert(npm[m.id], "npm gave no result for " .. m.id)
      ours[m.id] = run_mailauth(resolver, m)
    end
  end)

  -- One comparison: agreement, or the documented disagreement.
  local function compare(id, field, npm_value, our_value)
    local known = KNOWN[id] and KNOWN[id][field]
    if known then
      assert.are.equal(known.npm, npm_value, ("%s %s: npm changed (%s)"):format(id, field, known.why))
      assert.are.equal(known.expect, our_value, ("%s %s: %s"):format(id, field, known.why))
      explained = explained + 1
    else
      assert.are.equal(npm_value, our_value, ("%s %s: npm says %s, mailauth %s")
                       :format(id, field, tostring(npm_value), tostring(our_value)))
      agreements = agreements + 1
    end
  end

  it("has at least 30 messages", function()
    assert.is_true(#MANIFEST.messages >= 30)
  end)

  for _, m in ipairs(MANIFEST.messages) do
    local id = m.id
    it(id .. ": SPF (" .. m.about .. ")", function()
      local n, o = npm[id].spf, ours[id].spf
      compare(id, "spf.result", n.result, o.result)
      compare(id, "spf.domain", n.domain, o.domain)
    end)

    it(id .. ": DMARC", function()
      local n, o = npm[id].dmarc, ours[id].dmarc
      compare(id, "dmarc.result", n.result, o.result)
      compare(id, "dmarc.org_domain", n.domain, o.org_domain)
      if n.result == "pass" or n.result == "fail" then
        -- npm reports the policy that applies (sp= for a subdomain found
        -- through the org record, §6.3), as mailauth's `policy` does.
        compare(id, "dmarc.policy", n.policy, o.policy)
        compare(id, "dmarc.spf_aligned", value(n.alignment.spf.result) ~= nil, o.spf_aligned)
        compare(id, "dmarc.dkim_aligned", value(n.alignment.dkim.result) ~= nil, o.dkim_aligned)
      end
    end)

    it(id .. ": DKIM", function()
      local n, o = signatures(npm[id].dkim), signatures(ours[id].dkim)
      compare(id, "dkim.count", #n, #o)
      for i = 1, #n do
        compare(id, ("dkim.%d.domain"):format(i), n[i].domain, o[i].domain)
        compare(id, ("dkim.%d.selector"):format(i), n[i].selector, o[i].selector)
        compare(id, ("dkim.%d.algorithm"):format(i), n[i].algorithm, o[i].algorithm)
        compare(id, ("dkim.%d.canonicalization"):format(i), n[i].canonicalization,
                o[i].canonicalization)
        compare(id, ("dkim.%d.result"):format(i), n[i].result, o[i].result)
      end
    end)

    it(id .. ": Authentication-Results says the same", function()
      local n, o = npm[id], ours[id]
      local ar = assert(mailauth.authres.parse(o.authentication_results))
      assert.are.equal("mx.interop.example", ar.authserv_id)
      local by = { spf = {}, dkim = {}, dmarc = {} }
      for _, res in ipairs(ar.results) do
        local props = {}
        for _, p in ipairs(res.properties) do props[p.ptype .. "." .. p.property] = p.value end
        res.props = props
        if by[res.method] then table.insert(by[res.method], res) end
      end
      local mfrom
      for _, res in ipairs(by.spf) do
        if res.props["smtp.mailfrom"] then mfrom = res end
      end
      assert.are.equal(expected(id, "spf.result", n.spf.result), mfrom.result)
      assert.are.equal(expected(id, "dmarc.result", n.dmarc.result), by.dmarc[1].result)
      local sigs = signatures(n.dkim)
      if #sigs == 0 then
        -- RFC 8601 §2.7.1: dkim=none when the message is not signed.
        assert.are.equal(1, #by.dkim)
        assert.are.equal("none", by.dkim[1].result)
      else
        assert.are.equal(#sigs, #by.dkim)
        for i, sig in ipairs(sigs) do
          assert.are.equal(expected(id, ("dkim.%d.result"):format(i), sig.result), by.dkim[i].result)
          assert.are.equal(sig.domain, by.dkim[i].props["header.d"])
          assert.are.equal(sig.selector, by.dkim[i].props["header.s"])
        end
      end
    end)
  end

  it("used every documented disagreement", function()
    local n = 0
    for id, fields in pairs(KNOWN) do
      for field in pairs(fields) do
        n = n + 1
        assert(ours[id], "KNOWN names an unknown message " .. id)
      end
    end
    assert.are.equal(n, explained)
    assert.is_true(agreements > 0)
  end)
end)
