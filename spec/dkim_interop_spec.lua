-- Differential DKIM specs: dkimpy (python3-dkim + python3-nacl) and
-- Mail::DKIM (libmail-dkim-perl; rsa only: bookworm's version has no
-- ed25519) are run at test time as
-- oracles, fully offline (their DNS lookups are answered from a file).
--   dkimpy signs    -> mailauth verifies (pass; tampered: fail)
--   mailauth signs  -> dkimpy (and Mail::DKIM for rsa) verify (pass; tampered: fail)
-- in every canonicalisation pair, for rsa-sha256 and ed25519-sha256.
local mailauth = require "mailauth"
local F = require "dkimfix"
local helpers = require "spec.support.helpers"
if not helpers.skip_without_testdata("dkim/") then return end

local PY = "/usr/bin/python3 spec/support/dkimpy_oracle.py"
local PERL = "/usr/bin/perl spec/support/maildkim_oracle.pl"

local CANONS = { "simple/simple", "simple/relaxed", "relaxed/simple", "relaxed/relaxed" }
local MESSAGES = { "test.message", "rfc6376.msg", "test_extra.message" }

local KEYS, RECORDS = F.dkimpy_keys()
local DOMAIN = "example.com"

local function tamper(signed)
  return signed .. "A line added in transit.\r\n"
end

local function run_oracle(cmd, dir)
  local ok = os.execute(cmd .. " '" .. dir .. "' >'" .. dir .. "/oracle.log' 2>&1")
  return ok == true or ok == 0
end

describe("dkim interop with dkimpy and Mail::DKIM", function()
  local dir
  local cases = {}      -- { name, msg, key, canon }
  local verdicts = {}   -- file -> { py = "...", perl = "..." }

  setup(function()
    dir = F.tmpdir()
    local dns = {}
    for name, v in pairs(RECORDS) do dns[#dns + 1] = name .. " " .. v end
    F.write(dir .. "/dns.txt", table.concat(dns, "\n") .. "\n")
    for name, k in pairs(KEYS) do F.write(dir .. "/" .. name .. ".key", F.read(k.file)) end
    local jobs = {}
    local n = 0
    for _, file in ipairs(MESSAGES) do
      local msg = F.crlf(F.read("dkimpy/" .. file))
      for kname, key in pairs(KEYS) do
        for _, canon in ipairs(CANONS) do
          n = n + 1
          local c = { id = n, file = file, msg = msg, kname = kname, key = key, canon = canon }
          cases[#cases + 1] = c
          F.write(("%s/in%d.eml"):format(dir, n), msg)
          jobs[#jobs + 1] = table.concat({ "sign", "in" .. n .. ".eml", "py" .. n .. ".eml",
            kname .. ".key", key.selector, DOMAIN, key.alg, canon, "0" }, "\t")
          -- mailauth's signature, and a tampered copy, for the oracles
          local h = assert(mailauth.dkim_sign(msg, { domain = DOMAIN, selector = key.selector,
            key = key.pem, algorithm = key.alg, canonicalization = canon, now = 1700000000 }))
          c.ma = h .. "\r\n" .. msg
          F.write(("%s/ma%d.eml"):format(dir, n), c.ma)
          F.write(("%s/mabad%d.eml"):format(dir, n), tamper(c.ma))
          for _, f in ipairs{ "ma", "mabad" } do
            jobs[#jobs + 1] = table.concat({ "verify", f .. n .. ".eml", f .. n .. ".py" }, "\t")
            jobs[#jobs + 1] = table.concat({ "verify", f .. n .. ".eml", f .. n .. ".pl" }, "\t")
          end
        end
      end
    end
    -- one dkimpy signature with l= (body length)
    jobs[#jobs + 1] = table.concat({ "sign", "in1.eml", "pylen.eml", "rsa.key", "test",
      DOMAIN, "rsa-sha256", "relaxed/relaxed", "1" }, "\t")
    F.write(dir .. "/jobs.txt", table.concat(jobs, "\n") .. "\n")
    -- dkimpy writes the .py verdicts; Mail::DKIM the .pl ones (same job list,
    -- each oracle ignores the output names of the other by extension).
    local pyjobs, pljobs = {}, {}
    for _, j in ipairs(jobs) do
      if j:match("%.pl$") then pljobs[#pljobs + 1] = j else pyjobs[#pyjobs + 1] = j end
    end
    F.write(dir .. "/jobs.txt", table.concat(pyjobs, "\n") .. "\n")
    assert(run_oracle(PY, dir), F.slurp(dir .. "/oracle.log"))
    F.write(dir .. "/jobs.txt", table.concat(pljobs, "\n") .. "\n")
    assert(run_oracle(PERL, dir), F.slurp(dir .. "/oracle.log"))
  end)

  teardown(function() F.rmdir(dir) end)

  local function verify(msg)
    return mailauth.dkim_verify(msg, { resolver = F.resolver(RECORDS), now = 1700000000 })
  end

  for _, file in ipairs(MESSAGES) do
    for _, kname in ipairs{ "rsa", "ed" } do
      for _, canon in ipairs(CANONS) do
        local label = ("%s %s %s"):format(file, KEYS[kname].alg, canon)
        local function case()
          for _, c in ipairs(cases) do
            if c.file == file and c.kname == kname and c.canon == canon then return c end
          end
        end

        it("dkimpy signs, mailauth verifies: " .. label, function()
          local c = case()
          local signed = F.slurp(("%s/py%d.eml"):format(dir, c.id))
          assert.truthy(signed:match("^DKIM%-Signature:"), signed:sub(1, 200))
          local r = verify(signed)
          assert.equal(1, #r)
          assert.equal("pass", r[1].result, r[1].problem)
          assert.equal(canon, r[1].canonicalization)
          assert.equal(KEYS[kname].alg, r[1].algorithm)
          r = verify(tamper(signed))
          assert.equal("fail", r[1].result)
        end)

        it("mailauth signs, dkimpy and Mail::DKIM verify: " .. label, function()
          local c = case()
          assert.equal("pass", F.slurp(("%s/ma%d.py"):format(dir, c.id)))
          assert.matches("^fail", F.slurp(("%s/mabad%d.py"):format(dir, c.id)))
          if kname == "ed" then
            -- Debian's Mail::DKIM 1.20230212 predates its ed25519 support.
            assert.matches("unsupported algorithm ed25519%-sha256",
                           F.slurp(("%s/ma%d.pl"):format(dir, c.id)))
          else
            assert.matches("^pass", F.slurp(("%s/ma%d.pl"):format(dir, c.id)))
            assert.matches("^fail", F.slurp(("%s/mabad%d.pl"):format(dir, c.id)))
          end
          -- and mailauth agrees with itself
          assert.equal("pass", verify(c.ma)[1].result)
          assert.equal("fail", verify(tamper(c.ma))[1].result)
        end)
      end
    end
  end

  it("honours dkimpy's l= and reports the unsigned bytes added after it", function()
    local signed = F.slurp(dir .. "/pylen.eml")
    local r = verify(signed)
    assert.equal("pass", r[1].result, r[1].problem)
    assert.is_number(r[1].body_length)
    assert.equal(0, r[1].unsigned_body_bytes)
    local extra = "Click here: http://phish.example/\r\n"
    r = verify(signed .. extra)
    assert.equal("pass", r[1].result)
    assert.equal(#extra, r[1].unsigned_body_bytes)
    assert.matches(#extra .. " body bytes after the signed length", r[1].problem)
  end)
end)
