-- Attack class "signature t= far in the future" (issue 9; RFC 6376 §3.5
-- t=, and DESIGN.md: never when the signature's time lies in the future).
-- A signature dated ahead of the clock (beyond exchange.clock_skew, 300 s)
-- was made by a signer with a wrong clock or prepared for a later replay;
-- exchange.trust refuses it with rule "future-timestamp".  The clock is
-- the report's `now` (mailauth.check puts it there).  Signed by dkimpy
-- (its clock set for the call) and by mailauth.dkim_sign (now =).
--
-- Mutation check: with the future-timestamp test removed from
-- coverage_refusal (lua/mailauth/exchange.lua) and the author fields
-- simulated, both one-day-ahead cases failed "expected future-timestamp,
-- got nil" (trusted via dkim).
local T = require "spec.support.tenant"

T.describe("attack: signature time in the future", function()

  it("mailauth.check reports the clock it judged by", function()
    assert.are.equal(T.NOW, T.check(T.message(T.FIELDS)).now)
  end)

  for signer, sign in pairs(T.SIGNERS) do
    it("refuses a " .. signer .. " signature dated a day ahead", function()
      local rep = T.check(sign(T.message(T.FIELDS), T.contoso { timestamp = T.NOW + 86400 }))
      assert.are.equal("pass", rep.dkim[1].result)
      assert.are.equal(T.NOW + 86400, rep.dkim[1].timestamp)
      local t = T.trust(rep)
      assert.is_false(t.trusted)
      assert.are.equal("future-timestamp", t.rule, t.reason)
    end)

    it("positive control: within the clock skew it is trusted (" .. signer .. ")", function()
      local rep = T.check(sign(T.message(T.FIELDS), T.contoso { timestamp = T.NOW + 60 }))
      local t = T.trust(rep)
      assert.is_true(t.trusted, t.reason)
    end)
  end
end)
