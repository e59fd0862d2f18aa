-- Options are checked (issue 14 item 1, issue 12 item 6): every public
-- function rejects a name it does not take, with the name it most likely
-- meant, and a value of the wrong kind, naming the option, in one message
-- form; every option it declares is accepted; and a DKIM result list passes
-- into DMARC as it is, from Lua and from C (spec/support/options_capi.c).
--
-- How it fails without the defence (mutation checks run on this branch):
-- with mailauth.check's options.check call commented out, 6 cases fail
-- (mail_from is accepted and SPF quietly checks postmaster@HELO; now = 1.5,
-- allow_sha1 = 1, org_domain = "walk" pass unnoticed); with the validator
-- call in mauth_check_new removed, 16 fail (core.check takes org_domian
-- and mail_from, every C-side wrong kind and range is accepted, and the C
-- program prints "accepted org_domian" and "accepted max_lookups 0"); with
-- core.options_fit (options.check's C fast path) passing every "integer"
-- value, 6 fail (now = 1.5, 2^31, -1, NaN, math.huge; pct_roll = -2^63).
package.path = "spec/support/?.lua;" .. package.path
local mailauth = require "mailauth"
local F = require "dkimfix"
local C = require "cstress"
local helpers = require "spec.support.helpers"
if not helpers.skip_without_testdata("dkim/") then return end

local NOW = 1667843664 -- the clock the RFC 8463 example is checked at elsewhere
local MSG = F.crlf(F.read("rfc8463/signed.eml"))
local RSA_PEM = F.read("rfc8463/rsa-test.private.pem")

-- The RFC 8463 keys as published, and a DMARC policy for their domain.
local function zone_text()
  local lines = { "$ORIGIN football.example.com.", "$TTL 300",
                  "@ IN SOA ns hostmaster 1 7200 3600 86400 300" }
  for owner, value in pairs(F.records(F.read("rfc8463/dns.txt"))) do
    local rel = owner:gsub("%.football%.example%.com$", "")
    lines[#lines + 1] = ('%s IN TXT "%s"'):format(rel, value)
  end
  lines[#lines + 1] = '_dmarc IN TXT "v=DMARC1; p=reject"'
  return table.concat(lines, "\n") .. "\n"
end
local ZONE = zone_text()
local R = assert(mailauth.resolver { zones = { ZONE } })

local function err_of(f, ...)
  local ok, e = pcall(f, ...)
  assert.is_false(ok, "no error raised")
  return (tostring(e):gsub("^[^:]*:%d+: ", ""))
end

-- Each public function, called with opts merged into what it needs.
local CALLS = {
  iprev = function(o) return mailauth.iprev("192.0.2.1", o) end,
  ptr = function(o) return mailauth.ptr("192.0.2.1", o) end,
  spf = function(o)
    local t = { ip = "192.0.2.1", sender = "a@football.example.com" }
    for k, v in pairs(o) do t[k] = v end
    return mailauth.spf(t)
  end,
  spf_received = function(o) return mailauth.spf_received({ result = "pass" }, o) end,
  dmarc = function(o)
    local t = { from = "football.example.com", org_domain = "tree" }
    for k, v in pairs(o) do t[k] = v end
    return mailauth.dmarc(t)
  end,
  org_domain = function(o) return mailauth.org_domain("a.example.com", o) end,
  dkim_verify = function(o) return mailauth.dkim_verify(MSG, o) end,
  dkim_sign = function(o)
    local t = { domain = "football.example.com", selector = "test", key = RSA_PEM }
    for k, v in pairs(o) do t[k] = v end
    return mailauth.dkim_sign(MSG, t)
  end,
  arc_verify = function(o) return mailauth.arc_verify(MSG, o) end,
  arc_seal = function(o)
    local t = { domain = "football.example.com", selector = "test", key = RSA_PEM,
                authentication_results = "spf=pass smtp.mailfrom=football.example.com" }
    for k, v in pairs(o) do t[k] = v end
    return mailauth.arc_seal(MSG, t)
  end,
  resolver = function(o) return mailauth.resolver(o) end,
  check = function(o)
    local t = { resolver = R, ip = "192.0.2.1", now = NOW }
    for k, v in pairs(o) do t[k] = v end
    return mailauth.check(MSG, t)
  end,
}

-- name -> a value of the right kind (as the README documents each).
local GOOD = {
  ip = "192.0.2.1", sender = "a@football.example.com", helo = "mx.football.example.com",
  scope = "mfrom", receiver = "mx.local", default_explanation = "see %{d}", now = NOW,
  max_lookups = 10, max_void_lookups = 2, max_mx_names = 10, max_ptr_names = 10,
  max_names = 10, resolver = R, time_budget = 5, from = "football.example.com",
  from_domains = { "football.example.com" }, author_problem = "two From fields",
  author_code = "author_multiple",
  spf = { result = "pass", domain = "football.example.com" }, dkim = {},
  org_domain = "tree", org_domain_compare = true, psl_file = "/usr/share/publicsuffix/public_suffix_list.dat",
  pct_roll = 0, shared_domains = { "example.net" }, allow_sha1 = true, min_key_bits = 1024,
  recipients = { "bob@example.net" },
  legacy_versions = false, domain = "football.example.com", selector = "test", key = RSA_PEM,
  algorithm = "rsa-sha256", canonicalization = "relaxed/simple", headers = { "from", "subject" },
  expire = 3600, identity = "@football.example.com", authentication_results = "spf=pass",
  authserv_id = "mx.local", cv = "none", nameservers = { "127.0.0.1" }, timeout = 1,
  retries = 0, cache = 10, cache_bytes = 65536, resolv_conf = "/dev/null", zones = { ZONE },
  zonefiles = {},
}

describe("options of every public function", function()
  for fname, call in pairs(CALLS) do
    it(fname .. ": accepts every option it declares", function()
      local decl = fname == "check" and require("mailauth.check")._options or require("mailauth.internal").options[fname]
      assert.is_truthy(decl, fname)
      assert.is_true(#decl.list > 0)
      for _, d in ipairs(decl.list) do
        assert(GOOD[d.name] ~= nil, "no sample value for " .. d.name)
        local opts = { [d.name] = GOOD[d.name] }
        if fname ~= "resolver" and fname ~= "dkim_sign" and fname ~= "arc_seal"
           and fname ~= "org_domain" and fname ~= "spf_received" and d.name ~= "resolver" then
          opts.resolver = R
        end
        local ok, e = pcall(call, opts)
        -- other outcomes are the check's business; no word against the option
        assert(ok or not tostring(e):find("option '" .. d.name .. "'", 1, true),
               fname .. " refused " .. d.name .. ": " .. tostring(e))
      end
    end)
  end
end)

describe("unknown option names", function()
  -- { function, misspelt name, the suggestion }
  local CASES = {
    { "iprev", "max_nmaes", "max_names" }, { "ptr", "resolvr", "resolver" },
    { "spf", "mail_from", "sender" }, { "spf", "max_lookup", "max_lookups" },
    { "spf_received", "recevier", "receiver" }, { "dmarc", "org_domian", "org_domain" },
    { "dmarc", "dkim_results", "dkim" }, { "org_domain", "psl", "psl_file" },
    { "dkim_verify", "min_keybits", "min_key_bits" }, { "dkim_sign", "selectr", "selector" },
    { "arc_verify", "time_budgt", "time_budget" }, { "arc_seal", "authserv", "authserv_id" },
    { "resolver", "nameserver", "nameservers" }, { "check", "mail_from", "sender" },
    { "check", "time_buget", "time_budget" },
    -- mailauth.spf hands its table to C unchecked: the core knows no
    -- resolver or time_budget, so without internal.run_checked's check
    -- again in Lua these say "option 'resolvr' is unknown" (no suggestion)
    { "spf", "resolvr", "resolver" }, { "spf", "time_budgt", "time_budget" },
  }
  for _, c in ipairs(CASES) do
    local fname, bad, near = c[1], c[2], c[3]
    it(("mailauth.%s rejects '%s' and suggests '%s'"):format(fname, bad, near), function()
      local opts = { [bad] = "x" }
      if fname ~= "resolver" then opts.resolver = R end
      if fname == "dkim_sign" or fname == "arc_seal" or fname == "org_domain"
         or fname == "spf_received" then opts.resolver = nil end
      assert.are.equal(("mailauth.%s: option '%s' is unknown (did you mean '%s'?)")
                       :format(fname, bad, near), err_of(CALLS[fname], opts))
    end)
  end

  it("gives the exact message of the issue for mailauth.check's mail_from", function()
    local ok, e = pcall(function()
      local rep = mailauth.check(MSG, { ip = "192.0.2.1", mail_from = "a@example.com", resolver = R })
      return rep
    end)
    assert.is_false(ok)
    assert.matches("mailauth.check: option 'mail_from' is unknown (did you mean 'sender'?)",
                   tostring(e), 1, true)
    -- and names the caller's line, not one inside mailauth
    assert.matches("options_spec.lua", tostring(e), 1, true)
  end)

  it("names the caller's line for mailauth.spf, whose options C checks", function()
    local ok, e = pcall(function()
      local r = mailauth.spf { ip = "192.0.2.1", mail_from = "a@example.com", resolver = R }
      return r
    end)
    assert.is_false(ok)
    assert.matches("options_spec.lua:%d+: mailauth.spf: option 'mail_from' is unknown "
                   .. "%(did you mean 'sender'%?%)$", tostring(e))
  end)

  it("says nothing it cannot back: no suggestion for a name far from all", function()
    assert.are.equal("mailauth.spf: option 'zzzzzzzzzz' is unknown",
                     err_of(CALLS.spf, { zzzzzzzzzz = 1, resolver = R }))
  end)

  it("rejects from the C core too (core.check, no Lua wrapper)", function()
    local check, err = mailauth.core.check("dmarc", { from = "example.com", org_domian = "tree" })
    assert.is_nil(check)
    assert.are.equal("option 'org_domian' is unknown (did you mean 'org_domain'?)", err)
    check, err = mailauth.core.check("spf", { ip = "192.0.2.1", mail_from = "a@example.com" })
    assert.is_nil(check)
    assert.are.equal("option 'mail_from' is unknown (did you mean 'sender'?)", err)
  end)
end)

describe("values of the wrong kind", function()
  local CASES = {
    { "iprev", { max_names = "ten" }, "option 'max_names' must be an integer from 1 to 100" },
    { "iprev", { max_names = 2.5 }, "option 'max_names' must be an integer from 1 to 100" },
    { "ptr", { max_names = 0 }, "option 'max_names' must be an integer from 1 to 100" },
    { "spf", { max_lookups = 1.5 }, "option 'max_lookups' must be an integer from 1 to 100" },
    { "spf", { receiver = function() end }, "option 'receiver' must be a string" },
    { "spf", { scope = "rcpt" }, "option 'scope' must be one of: mfrom helo" },
    { "dmarc", { pct_roll = 100 }, "option 'pct_roll' must be an integer from 0 to 99" },
    { "dmarc", { dkim = { "pass" } }, "option 'dkim' must be a list of maps" },
    { "dmarc", { shared_domains = "example.net" }, "option 'shared_domains' must be a list of strings" },
    { "dmarc", { spf = "pass" }, "option 'spf' must be a map" },
    { "org_domain", { psl_file = true }, "option 'psl_file' must be a string" },
    { "dkim_verify", { allow_sha1 = "yes" }, "option 'allow_sha1' must be a boolean" },
    { "dkim_verify", { min_key_bits = 256 }, "option 'min_key_bits' must be an integer from 512 to 16384" },
    { "dkim_sign", { headers = "from" }, "option 'headers' must be a list of strings" },
    { "dkim_sign", { algorithm = "rsa-sha1" }, "option 'algorithm' must be one of: rsa-sha256 ed25519-sha256" },
    { "arc_verify", { now = "today" }, "option 'now' must be an integer from 0 to 9223372036854775807" },
    { "arc_seal", { cv = "maybe" }, "option 'cv' must be one of: none pass fail" },
    { "check", { now = 1.5 }, "option 'now' must be an integer from 0 to 2147483647" },
    { "check", { allow_sha1 = 1 }, "option 'allow_sha1' must be a boolean" },
    { "check", { org_domain = "walk" }, "option 'org_domain' must be one of: psl tree" },
    { "check", { time_budget = "5" }, "option 'time_budget' must be a number of seconds in (0, 3600]" },
    -- the ends of core.options_fit's integer test (options.check's C fast
    -- path): each must fall through to the Lua loop, which raises
    { "check", { now = 2 ^ 31 }, "option 'now' must be an integer from 0 to 2147483647" },
    { "check", { now = -1 }, "option 'now' must be an integer from 0 to 2147483647" },
    { "check", { now = 0 / 0 }, "option 'now' must be an integer from 0 to 2147483647" },
    { "check", { now = math.huge }, "option 'now' must be an integer from 0 to 2147483647" },
    { "check", { pct_roll = -2 ^ 63 }, "option 'pct_roll' must be an integer from 0 to 99" },
    { "check", { authserv_id = 5 }, "option 'authserv_id' must be a string" },
  }
  for _, c in ipairs(CASES) do
    local fname, opts, want = c[1], c[2], c[3]
    local name = next(opts)
    it(("mailauth.%s: %s = %s"):format(fname, name, tostring(opts[name])), function()
      if fname ~= "dkim_sign" and fname ~= "arc_seal" and fname ~= "org_domain" then
        opts.resolver = R
      end
      assert.are.equal(("mailauth.%s: %s"):format(fname, want), err_of(CALLS[fname], opts))
    end)
  end

  it("takes whole numbers as integers on every Lua (LuaJIT has only floats)", function()
    assert.are.equal("none", mailauth.spf({ ip = "192.0.2.1", sender = "a@football.example.com",
                                            max_lookups = 10.0, resolver = R }).result)
  end)
end)

describe("a DKIM result list passes into DMARC as it is", function()
  local function dmarc_of(dkim)
    return mailauth.dmarc { from = "football.example.com", dkim = dkim, resolver = R,
                            pct_roll = 0, org_domain = "tree" }
  end

  it("from Lua: mailauth.dkim_verify's list, unchanged", function()
    local sigs = mailauth.dkim_verify(MSG, { resolver = R, now = NOW })
    assert.are.equal(2, #sigs)
    assert.are.equal("pass", sigs[1].result)
    local r = dmarc_of(sigs)
    assert.are.equal("pass", r.result)
    assert.are.equal("reject", r.policy)
    assert.are.equal("football.example.com", r.dkim_domain)
    assert.is_true(r.dkim_aligned)
    -- the same answer as the {result, domain} copies the binding once made
    local copies = {}
    for i, s in ipairs(sigs) do copies[i] = { result = s.result, domain = s.domain } end
    local old = dmarc_of(copies)
    assert.are.same({ old.result, old.policy, old.dkim_domain, old.dkim_aligned },
                    { r.result, r.policy, r.dkim_domain, r.dkim_aligned })
  end)

  it("fails DMARC when the signatures fail (the list is really read)", function()
    local bad = MSG:gsub("Joe%.", "Joe!", 1)
    local sigs = mailauth.dkim_verify(bad, { resolver = R, now = NOW })
    assert.are.equal("fail", sigs[1].result)
    local r = dmarc_of(sigs)
    assert.are.equal("fail", r.result)
    assert.are.equal("reject", r.disposition)
  end)

  it("from C: mauth_opts, dkim_verify, then dmarc with the signatures list", function()
    local dir = F.tmpdir()
    local bdir = assert(C.build_dir(), "no build directory with mailauth/core.so in package.cpath")
    local san = bdir:match("asan") and "-fsanitize=address,undefined " or ""
    local bin = dir .. "/options_capi"
    C.compile("gcc", "-O2 -g " .. san, "options_capi", C.core_objects(bdir), bin, dir .. "/build.log")
    F.write(dir .. "/zone", ZONE)
    F.write(dir .. "/msg.eml", MSG)
    local p = io.popen(("env -u LD_PRELOAD %s %s %s %d"):format(C.sh_quote(bin),
                       C.sh_quote(dir .. "/zone"), C.sh_quote(dir .. "/msg.eml"), NOW))
    local out = p:read("*a")
    assert.is_truthy(p:close(), out)
    -- what Lua says for the same message and zone
    local sigs = mailauth.dkim_verify(MSG, { resolver = R, now = NOW })
    local r = dmarc_of(sigs)
    local want = {}
    for _, s in ipairs(sigs) do want[#want + 1] = ("dkim %s %s"):format(s.result, s.domain) end
    want[#want + 1] = ("dmarc %s %s %s"):format(r.result, r.policy, r.dkim_domain)
    want[#want + 1] = "error option 'org_domian' is unknown (did you mean 'org_domain'?)"
    want[#want + 1] = "error option 'max_lookups' must be an integer from 1 to 100"
    assert.are.equal(table.concat(want, "\n") .. "\n", out)
    assert.matches("dmarc pass reject football.example.com", out, 1, true)
  end)
end)
