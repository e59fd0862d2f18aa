-- Regression found while writing fuzz/fuzz_authres.c (its memory bound now
-- catches it; seed fuzz/seeds/authres/regress-quoted-alloc): the parser sized
-- each quoted-string by the rest of the field, so 64 KB of `""` pairs
-- allocated (and zeroed) about 600 MB and took over a second.  Peak memory is
-- read from /proc/self/status (Linux); the specs run on Debian.
local authres = require "mailauth.authres"

local function peak_kb()
  local f = io.open("/proc/self/status")
  if not f then return nil end
  local s = f:read("a") or f:read("*a")
  f:close()
  return tonumber(s:match("VmHWM:%s*(%d+)"))
end

describe("regress 010 (fuzz_authres)", function()
  it("parses a field of many quoted strings in memory linear in its size", function()
    local before = peak_kb()
    -- lenient: words after the authserv-id, each a quoted keyword
    local r = assert(authres.parse("example.com" .. (' ""'):rep(21000) .. ";", { lenient = true }))
    assert.equal("none", r.result)
    -- strict: 50 results of 64 quoted property values each (the limits allow it)
    local res = "; spf=pass" .. (' smtp.mailfrom=""'):rep(64)
    local text = "example.com" .. res:rep(50)
    assert.is_true(#text < 65536)
    r = assert(authres.parse(text))
    assert.equal(50, #r.results)
    assert.equal(64, #r.results[50].properties)
    assert.equal("", r.results[50].properties[64].value)
    local after = peak_kb()
    if before and after then
      assert.is_true(after - before < 64 * 1024, ("peak memory grew %d kB"):format(after - before))
    end
  end)

  it("still reports an unterminated quoted-string where it starts", function()
    local r, why = authres.parse('example.com; spf=pass smtp.mailfrom="abc')
    assert.is_nil(r)
    assert.equal("unterminated quoted-string at byte 36", why)
  end)
end)
