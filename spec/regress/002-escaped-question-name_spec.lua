-- Regression found by spec/support/sanitizer-smoke.lua against Knot: the
-- network resolver compared the question of a reply with the asked name as
-- text, so a name written with \DDD escapes never matched its reply (the
-- server spells "\109" as "m") and every such question timed out.
local mailauth = require "mailauth"

describe("regress 002 #integration", function()
  local ns = os.getenv("MAILAUTH_TEST_NS")

  it("matches replies to names written with escapes", function()
    assert.is_string(ns, "run under spec/support/run-specs.sh (Knot)")
    local r = assert(mailauth.resolver{ nameservers = { ns }, timeout = 2, retries = 0 })
    local a = r:query("\\109ail.EXAMPLE.com", "A")
    assert.equal("NOERROR", a.rcode)
    assert.same({ "192.0.2.25" }, a.records)
    assert.equal(0, r:stats().timeouts)
  end)
end)
