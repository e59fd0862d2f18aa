-- Attack class "l= with appended body text" (issue 9): a genuine tenant
-- signature with l= (RFC 6376 §3.5, §8.2) still verifies after someone
-- appends text to the body; the DKIM result reports body_length and
-- unsigned_body_bytes, and exchange.trust must refuse with rule "l=".
-- Signed by dkimpy (length=True); mailauth.dkim_sign writes no l=, so its
-- case is a report whose l= has no unsigned count (fail closed).
--
-- Mutation check: with the l= test removed from coverage_refusal
-- (lua/mailauth/exchange.lua) and the author fields simulated, the
-- appended-text case failed "expected l=, got nil" (trusted via dkim) and
-- the unknown-count case too.
local T = require "spec.support.tenant"

T.describe("attack: l= with appended body text", function()
  local signed = T.sign_dkimpy(T.message(T.FIELDS), T.contoso { length = true })

  it("positive control: the signed body as sent is trusted", function()
    local rep = T.check(signed)
    assert.are.equal("pass", rep.dkim[1].result)
    assert.are.equal(0, rep.dkim[1].unsigned_body_bytes)
    local t = T.trust(rep)
    assert.is_true(t.trusted, t.reason)
  end)

  it("refuses the signature once text is appended after the l= bytes", function()
    local rep = T.check(signed .. "\r\nPS: pay to IBAN XX00 0000 0000 today.\r\n")
    assert.are.equal("pass", rep.dkim[1].result)        -- l= makes it verify
    assert.is_true(rep.dkim[1].unsigned_body_bytes > 0)
    local t = T.trust(rep)
    assert.is_false(t.trusted)
    assert.are.equal("l=", t.rule, t.reason)
    assert.matches("^l=: ", t.reason)
  end)

  it("refuses an l= whose unsigned byte count is unknown", function()
    local rep = T.check(T.sign_mailauth(T.message(T.FIELDS), T.contoso()))
    rep.from_fields, rep.from_count = 1, 1
    rep.dkim[1].body_length, rep.dkim[1].unsigned_body_bytes = 10, nil
    local t = T.trust(rep)
    assert.is_false(t.trusted)
    assert.are.equal("l=", t.rule, t.reason)
  end)
end)
