-- Attack class "key in testing mode" (issue 9, RFC 6376 §3.6.1: with t=y
-- "Verifiers MUST NOT treat messages from Signers in testing mode
-- differently from unsigned email").  The tenant's selector2 key (a CNAME
-- from contoso.com into contoso.onmicrosoft.com, as Microsoft publishes
-- them) carries t=y; a genuine signature with it must not be trusted:
-- rule "testing-key".  Signed by dkimpy and by mailauth.dkim_sign.
--
-- Mutation check: with the testing-key test removed from coverage_refusal
-- (lua/mailauth/exchange.lua) and the author fields simulated, both
-- signers' cases failed "expected testing-key, got nil" (trusted via dkim).
local T = require "spec.support.tenant"

T.describe("attack: key in testing mode", function()

  for signer, sign in pairs(T.SIGNERS) do
    it("refuses a " .. signer .. " signature made with a t=y key", function()
      local rep = T.check(sign(T.message(T.FIELDS), T.contoso { selector = "selector2", key = "testing" }))
      assert.are.equal("pass", rep.dkim[1].result)
      assert.is_true(rep.dkim[1].testing)
      local t = T.trust(rep)
      assert.is_false(t.trusted)
      assert.are.equal("testing-key", t.rule, t.reason)
    end)

    it("positive control: the same message with the production key is trusted (" .. signer .. ")", function()
      local rep = T.check(sign(T.message(T.FIELDS), T.contoso()))
      assert.is_false(rep.dkim[1].testing)
      assert.is_true(T.trust(rep).trusted)
    end)
  end
end)
