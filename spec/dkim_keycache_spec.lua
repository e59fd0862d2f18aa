-- The process-wide cache of decoded DKIM public keys (src/core/crypto.c) must
-- never change a result.  Every expectation here comes from how the data
-- was made, not from mailauth: a signature made with key X passes with X's
-- record and fails with any other key's (RFC 6376 6.1.3); a record whose
-- p= is not a key of its k= type, or an empty p=, is a permerror (6.1.2);
-- Mail::DKIM's corpus says its mine_ietf01 messages pass.  The keys are
-- fixtures of dkimpy, RFC 6376 appendix C and RFC 8463 (../shared/testdata/dkim/).
-- Records change between verifications through a Lua resolver over a table.
local mailauth = require "mailauth"
local F = require "dkimfix"
local helpers = require "spec.support.helpers"
if not helpers.skip_without_testdata("dkim/") then return end

local NOW = 1700000000
local DOMAIN, SELECTOR = "example.com", "sel"
local OWNER = SELECTOR .. "._domainkey." .. DOMAIN

local function p_of(record)
  return assert(record:match("p=([%w%+/=]+)"), "no p= in fixture record")
end

-- Two RSA-1024 and two Ed25519 keys, all different.
local KEYS = {
  rsaA = { k = "rsa", alg = "rsa-sha256", pem = F.read("dkimpy/test.private"),
           p = p_of(F.read("dkimpy/test.txt")) },
  rsaB = { k = "rsa", alg = "rsa-sha256", pem = F.read("rfc6376/C-brisbane.private.pem"),
           p = p_of(F.read("rfc6376/C-dns.txt")) },
  edA = { k = "ed25519", alg = "ed25519-sha256",
          pem = F.ed25519_pem(F.read("dkimpy/ed25519test.key")),
          p = p_of(F.read("dkimpy/ed25519test.dns")) },
  edB = { k = "ed25519", alg = "ed25519-sha256",
          pem = F.ed25519_pem(F.read("rfc8463/ed25519-brisbane.seed.b64")),
          p = p_of(F.read("rfc8463/dns.txt"):match("brisbane%S+ ([^\n]+)")) },
}
local NAMES = { "rsaA", "rsaB", "edA", "edB" }
local OTHER = { rsaA = "rsaB", rsaB = "rsaA", edA = "edB", edB = "edA" }

local MESSAGE = F.crlf(F.read("dkimpy/test.message"))
for _, name in ipairs(NAMES) do
  local key = KEYS[name]
  local h = assert(mailauth.dkim_sign(MESSAGE, { domain = DOMAIN, selector = SELECTOR,
    key = key.pem, algorithm = key.alg, canonicalization = "relaxed/relaxed", now = NOW }))
  key.signed = h .. "\r\n" .. MESSAGE
  -- b= is the signature header's last tag (folded): other values for it
  local head, b = h:match("^(.*; b=)(.*)$")
  b = b:gsub("%s", "")
  local first = b:sub(1, 1) == "A" and "B" or "A"
  local mid = math.floor(#b / 2)
  local other = b:sub(mid, mid) == "A" and "B" or "A"
  key.b_first = head .. first .. b:sub(2) .. "\r\n" .. MESSAGE    -- same length
  key.b_middle = head .. b:sub(1, mid - 1) .. other .. b:sub(mid + 1) .. "\r\n" .. MESSAGE
  key.b_short = head .. b:sub(1, 64) .. "\r\n" .. MESSAGE         -- 48 bytes
  -- A signed header changed: the body hash still matches, the signature does not.
  key.header_changed = key.signed:gsub("\r\nSubject: Testing\r\n", "\r\nSubject: Testinh\r\n")
  assert(key.header_changed ~= key.signed)
end

local recs = {}
local resolve = F.resolver(recs)

local function publish(text) recs[OWNER] = text end
local function record(name, p) return ("v=DKIM1; k=%s; p=%s"):format(KEYS[name].k, p or KEYS[name].p) end

local function verify(msg, extra)
  local opts = { resolver = resolve, now = NOW }
  for k, v in pairs(extra or {}) do opts[k] = v end
  local r = mailauth.dkim_verify(msg, opts)
  assert(#r == 1, "one signature expected")
  return r[1]
end

-- Counts checks so a failure says which one, without printing.
local function expect(want, msg, label, extra)
  local r = verify(msg, extra)
  assert.are.equal(want, r.result, label .. ": " .. tostring(r.problem))
  return r
end

describe("dkim key cache: results never depend on it", function()
  it("rotation: one selector answering key A, then B, alternately", function()
    local pattern = { "A", "B", "A", "A", "B", "B", "A", "B", "B", "A" }
    local n = 0
    for round = 1, 30 do
      for _, fam in ipairs { "rsa", "ed" } do
        local published = fam .. pattern[(round - 1) % #pattern + 1]
        publish(record(published))
        for _, signer in ipairs { fam .. "A", fam .. "B" } do
          local want = signer == published and "pass" or "fail"
          local r = expect(want, KEYS[signer].signed, ("round %d: %s signed, %s published")
                           :format(round, signer, published))
          if want == "fail" then assert.matches("signature did not verify", r.problem) end
          n = n + 1
        end
      end
    end
    assert.are.equal(120, n)
  end)

  it("a failed RSA/Ed25519 verification leaves nothing behind for the next one", function()
    for _, name in ipairs(NAMES) do
      local key = KEYS[name]
      publish(record(name))
      for i = 1, 25 do
        expect("pass", key.signed, name .. " good #" .. i)
        local r = expect("fail", key.header_changed, name .. " header changed #" .. i)
        assert.matches("signature did not verify", r.problem)
        expect("pass", key.signed, name .. " good after header change #" .. i)
        expect("fail", key.b_first, name .. " b= first digit changed #" .. i)
        expect("pass", key.signed, name .. " good after b= change #" .. i)
        expect("fail", key.b_middle, name .. " b= middle digit changed #" .. i)
        expect("pass", key.signed, name .. " good after b= change #" .. i)
        expect("fail", key.b_short, name .. " b= cut short #" .. i)
        expect("pass", key.signed, name .. " good after b= cut short #" .. i)
      end
    end
  end)

  it("rsa-sha1 and rsa-sha256 with the same key, interleaved (Mail::DKIM corpus)", function()
    local LEGACY = { allow_sha1 = true, legacy_versions = true, now = 1667843664 }
    local dns = F.fake_dns(F.read("mail-dkim/FAKE_DNS.dat"))
    local owner = "selector1._domainkey.messiah.edu"
    local msgs = {}
    for _, f in ipairs { "mine_ietf01_1.txt", "mine_ietf01_3.txt", "mine_ietf01_2.txt", "mine_ietf01_4.txt" } do
      local m = F.read("mail-dkim/corpus/" .. f)
      local bad = m:gsub("\nSubject: dkim test", "\nSubject: dkim tesT")
      assert(bad ~= m)
      msgs[#msgs + 1] = { name = f, good = m, bad = bad }
    end
    recs[owner] = dns[owner]
    for i = 1, 40 do
      for j, m in ipairs(msgs) do
        -- alternate good and tampered so each digest's context sees both
        local tampered = (i + j) % 2 == 0
        local r = expect(tampered and "fail" or "pass", tampered and m.bad or m.good,
                         ("%s %s #%d"):format(m.name, tampered and "tampered" or "good", i), LEGACY)
        if tampered then assert.matches("signature did not verify", r.problem) end
      end
    end
    recs[owner] = nil
  end)

  it("more key texts than cache slots (FWS layouts of four keys), round robin", function()
    -- Each variant is the same key published with whitespace in a new place:
    -- different text, so a different cache entry.
    local variants = {}
    for _, name in ipairs(NAMES) do
      local p = KEYS[name].p
      local step = math.max(1, math.floor(#p / 90))
      for pos = 1, #p - 1, step do
        local ws = ({ " ", "  ", "\t", " \t " })[#variants % 4 + 1]
        variants[#variants + 1] = { name = name, p = p:sub(1, pos) .. ws .. p:sub(pos + 1) }
      end
    end
    assert.is_true(#variants > 300)
    local n = 0
    for round = 1, 3 do
      for i = 1, #variants do
        -- a different order each round, so different texts meet in a slot
        local v = variants[(i * (2 * round + 1)) % #variants + 1]
        publish(record(v.name, v.p))
        local r = expect("pass", KEYS[v.name].signed, ("round %d: %s variant"):format(round, v.name))
        if KEYS[v.name].k == "rsa" then assert.are.equal(1024, r.key_bits) end
        expect("fail", KEYS[OTHER[v.name]].signed, ("round %d: %s signed, %s variant published")
               :format(round, OTHER[v.name], v.name))
        n = n + 2
      end
    end
    assert.is_true(n > 1800)
  end)

  it("long p= texts around the cache's text limit still verify", function()
    for _, name in ipairs(NAMES) do
      local p = KEYS[name].p
      for _, total in ipairs { 1499, 1500, 1501, 3000 } do
        local padded = p:sub(1, 10) .. (" "):rep(total - #p) .. p:sub(11)
        assert.are.equal(total, #padded)
        for _ = 1, 3 do
          publish(record(name, padded))
          expect("pass", KEYS[name].signed, name .. " p= of " .. total .. " bytes")
          expect("fail", KEYS[OTHER[name]].signed, OTHER[name] .. " vs " .. name .. " p= of " .. total)
        end
      end
    end
  end)

  it("the same p= text under another k= is not the cached key", function()
    for i = 1, 20 do
      -- RSA text cached as an RSA key, then offered as an Ed25519 key
      publish(record("rsaA"))
      expect("pass", KEYS.rsaA.signed, "rsaA #" .. i)
      publish("v=DKIM1; k=ed25519; p=" .. KEYS.rsaA.p)
      expect("permerror", KEYS.edA.signed, "edA against an RSA p= under k=ed25519 #" .. i)
      -- Ed25519 text cached, then offered as an RSA key
      publish(record("edA"))
      expect("pass", KEYS.edA.signed, "edA #" .. i)
      publish("v=DKIM1; k=rsa; p=" .. KEYS.edA.p)
      expect("permerror", KEYS.rsaA.signed, "rsaA against an Ed25519 p= under k=rsa #" .. i)
    end
  end)

  it("a key revoked (empty p=) after it was cached is a permerror", function()
    for _, name in ipairs(NAMES) do
      for i = 1, 10 do
        publish(record(name))
        expect("pass", KEYS[name].signed, name .. " before revocation #" .. i)
        publish(("v=DKIM1; k=%s; p="):format(KEYS[name].k))
        local r = expect("permerror", KEYS[name].signed, name .. " revoked #" .. i)
        assert.matches("revoked", r.problem)
        publish(("v=DKIM1; k=%s; p= "):format(KEYS[name].k))
        expect("permerror", KEYS[name].signed, name .. " revoked (p= and a space) #" .. i)
      end
    end
  end)

  it("a bad p= is not remembered as a key, nor a good one as bad", function()
    for _, name in ipairs(NAMES) do
      local p = KEYS[name].p
      local broken = p:sub(1, 20) .. "!" .. p:sub(22)   -- not base64
      local cut = p:sub(1, #p - 8)                       -- base64, not a key
      for i = 1, 10 do
        publish(record(name, broken))
        expect("permerror", KEYS[name].signed, name .. " non-base64 p= #" .. i)
        publish(record(name, cut))
        expect("permerror", KEYS[name].signed, name .. " truncated p= #" .. i)
        publish(record(name))
        expect("pass", KEYS[name].signed, name .. " good p= #" .. i)
      end
    end
  end)
end)

-- The cache from several threads: spec/support/keycache_threads.c, linked
-- with the core objects of the module under test, verifies the cases below
-- from 6 threads (each with its own offline zone resolver) while its main
-- thread empties the cache in a loop.  Over 300 p= texts (FWS layouts of the
-- four keys) share the 128 slots, so keys are evicted all the time.
local C = require "cstress"
local sh_quote = C.sh_quote

-- Variant j of a p= text: whitespace somewhere inside it.
local function layout(p, j)
  local pos = (j * 5) % (#p - 1) + 1
  return p:sub(1, pos) .. (" "):rep(1 + math.floor(j / (#p - 1)) % 3) .. p:sub(pos + 1)
end

-- A zone-file TXT record, in strings of at most 200 bytes.
local function txt_rr(owner, value)
  local parts = {}
  for i = 1, #value, 200 do parts[#parts + 1] = '"' .. value:sub(i, i + 199) .. '"' end
  return owner .. ". 300 IN TXT " .. table.concat(parts, " ")
end

describe("dkim key cache under threads (keycache_threads.c)", function()
  local dir, bin, ncases, expected_count = nil, nil, 0, {}

  setup(function()
    dir = F.tmpdir()
    local bdir = assert(C.build_dir(), "no build directory with mailauth/core.so in package.cpath")
    local san = bdir:match("asan") and "-fsanitize=address,undefined " or ""
    bin = dir .. "/keycache_threads"
    C.compile("gcc", "-O2 -g " .. san, "keycache_threads", C.core_objects(bdir), bin,
              dir .. "/build.log")
    local zone, cases, nfiles = {}, {}, 0
    local function add(msg, want, copies)
      nfiles = nfiles + 1
      F.write(("%s/m%d.eml"):format(dir, nfiles), msg)
      for _ = 1, copies or 1 do
        ncases = ncases + 1
        cases[#cases + 1] = ("m%d.eml\t%s"):format(nfiles, want)
        expected_count[want] = (expected_count[want] or 0) + 1
      end
    end
    local function sign_header(name, selector)
      local key = KEYS[name]
      return assert(mailauth.dkim_sign(MESSAGE, { domain = DOMAIN, selector = selector,
        key = key.pem, algorithm = key.alg, now = NOW }))
    end
    local function sign(name, selector) return sign_header(name, selector) .. "\r\n" .. MESSAGE end
    local texts = {}
    local function variant(name, j)
      local p = KEYS[name].p
      local v = layout(p, j)
      while texts[v] do j = j + 37; v = layout(p, j) end
      texts[v] = true
      return v
    end
    for _, name in ipairs(NAMES) do
      local k = KEYS[name].k
      for j = 1, 40 do
        local good, cross = ("g%d-%s"):format(j, name), ("x%d-%s"):format(j, name)
        zone[#zone + 1] = txt_rr(good .. "._domainkey." .. DOMAIN,
                                 "v=DKIM1; k=" .. k .. "; p=" .. variant(name, j))
        zone[#zone + 1] = txt_rr(cross .. "._domainkey." .. DOMAIN,
                                 "v=DKIM1; k=" .. k .. "; p=" .. variant(OTHER[name], j + 1000))
        local h = sign_header(name, good)
        local signed = h .. "\r\n" .. MESSAGE
        add(signed, "pass")
        add((signed:gsub("\r\nSubject: Testing\r\n", "\r\nSubject: Testinh\r\n")), "fail")
        local head, b = h:match("^(.*; b=)(.*)$")
        b = b:gsub("%s", "")
        local flipped = b:sub(1, 20) .. (b:sub(21, 21) == "A" and "B" or "A") .. b:sub(22)
        add(head .. flipped .. "\r\n" .. MESSAGE, "fail")
        add(sign(name, cross), "fail")
      end
      -- the exact text, its revocation, and the other type's text under this k=
      zone[#zone + 1] = txt_rr("p-" .. name .. "._domainkey." .. DOMAIN, record(name))
      zone[#zone + 1] = txt_rr("r-" .. name .. "._domainkey." .. DOMAIN, "v=DKIM1; k=" .. k .. "; p=")
      local alien = k == "rsa" and KEYS.edA.p or KEYS.rsaA.p
      zone[#zone + 1] = txt_rr("t-" .. name .. "._domainkey." .. DOMAIN,
                               "v=DKIM1; k=" .. k .. "; p=" .. alien)
      add(sign(name, "p-" .. name), "pass")
      add(sign(name, "r-" .. name), "permerror")
      add(sign(name, "t-" .. name), "permerror")
    end
    -- Texts of the two keys of a type that compete for one cache slot
    -- ("slots" mode: the cache's own slot function), verified 8 times as often:
    -- a key evicted while another thread verifies with it, and a verify
    -- context given back to a slot that moved on, show up here first.
    local function slots_of(k, list)
      F.write(dir .. "/texts.txt", table.concat(list, "\n") .. "\n")
      local out = {}
      local pipe = io.popen(("%s slots %d < %s/texts.txt"):format(sh_quote(bin),
                            k == "rsa" and 1 or 2, sh_quote(dir)))
      for line in pipe:lines() do out[#out + 1] = tonumber(line) end
      pipe:close()
      assert(#out == #list, "keycache_threads slots")
      return out
    end
    local hot = 0
    for _, fam in ipairs { { "rsaA", "rsaB", 6 }, { "edA", "edB", 4 } } do
      local a, b, want = fam[1], fam[2], fam[3]
      local k = KEYS[a].k
      local by_slot = { {}, {} }
      for side, name in ipairs { a, b } do
        local p, list = KEYS[name].p, {}
        for pos = 1, #p - 1 do
          for nsp = 1, 2 do
            local t = p:sub(1, pos) .. (" "):rep(nsp) .. p:sub(pos + 1)
            if not texts[t] then list[#list + 1] = t end
          end
        end
        for i, slot in ipairs(slots_of(k, list)) do by_slot[side][slot] = by_slot[side][slot] or list[i] end
      end
      local found = 0
      for slot = 0, 127 do
        local ta, tb = by_slot[1][slot], by_slot[2][slot]
        if ta and tb and found < want then
          found = found + 1
          texts[ta], texts[tb] = true, true
          local sa, sb = ("h%d-%s"):format(found, a), ("h%d-%s"):format(found, b)
          zone[#zone + 1] = txt_rr(sa .. "._domainkey." .. DOMAIN, "v=DKIM1; k=" .. k .. "; p=" .. ta)
          zone[#zone + 1] = txt_rr(sb .. "._domainkey." .. DOMAIN, "v=DKIM1; k=" .. k .. "; p=" .. tb)
          local signed = sign(a, sa)
          add(signed, "pass", 8)
          add(sign(b, sb), "pass", 8)
          add(sign(b, sa), "fail", 8)
          add(sign(a, sb), "fail", 8)
          add((signed:gsub("\r\nSubject: Testing\r\n", "\r\nSubject: Testinh\r\n")), "fail", 8)
        end
      end
      hot = hot + found
    end
    assert.is_true(hot >= 6, "too few texts sharing a slot")
    -- rsa-sha1 and rsa-sha256 with one key (Mail::DKIM's corpus: pass)
    local dns = F.fake_dns(F.read("mail-dkim/FAKE_DNS.dat"))
    zone[#zone + 1] = txt_rr("selector1._domainkey.messiah.edu", dns["selector1._domainkey.messiah.edu"])
    for _, f in ipairs { "mine_ietf01_1.txt", "mine_ietf01_2.txt", "mine_ietf01_3.txt", "mine_ietf01_4.txt" } do
      local m = F.read("mail-dkim/corpus/" .. f)
      add(m, "pass")
      add((m:gsub("\nSubject: dkim test", "\nSubject: dkim tesT")), "fail")
    end
    F.write(dir .. "/zone.txt", table.concat(zone, "\n") .. "\n")
    F.write(dir .. "/cases.txt", table.concat(cases, "\n") .. "\n")

  end)

  teardown(function() if os.getenv("KEEP_KEYCACHE_DIR") then io.stderr:write(dir, "\n") else F.rmdir(dir) end end)

  it("6 threads, every result as expected while the cache is emptied in a loop", function()
    assert.is_true(ncases > 1000)
    assert.is_true(expected_count.pass > 300 and expected_count.fail > 700)
    local threads, passes = 6, 6
    local ok, out, log = C.run(bin, dir, threads, passes)
    assert.is_true(ok, "keycache_threads failed: " .. log .. out)
    local verified, clears = out:match("^ok (%d+) (%d+)")
    assert.are.equal(threads * passes * ncases, tonumber(verified))
    assert.is_true(tonumber(clears) > 0)
  end)

  -- The same with ThreadSanitizer, when a compiler here has it: the core
  -- built with -fsanitize=thread (by make, into build/tsan, so the three
  -- Lua ABIs share it).  libcrypto is not instrumented; see the .supp file.
  it("the same under ThreadSanitizer: no race reported", function()
    local done, out, log = C.run_tsan("keycache_threads", dir, 4, 2, "suppressions=spec/support/keycache_tsan.supp")
    if done == nil then
      pending("no compiler with -fsanitize=thread here")
      return
    end
    assert.is_nil(log:find("WARNING: ThreadSanitizer", 1, true), log)
    assert.is_true(done, "keycache_threads under tsan: " .. log .. out)
    assert.are.equal(4 * 2 * ncases, tonumber(out:match("^ok (%d+)")))
  end)
end)
