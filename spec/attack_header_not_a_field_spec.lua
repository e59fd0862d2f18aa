-- Attack class "a field folded before its colon" (Composition Kills, Chen,
-- Paxson, Jiang, USENIX Security 2020, Fig. 6(b), applied to the fields a
-- client shows besides From): a replaying attacker prepends
-- "Subject\r\n : Urgent ..." (or Reply-To, To) above a genuine tenant
-- signature.  The message reader keeps the line as no field
-- (message_problem "a header line is not a field"), so DKIM counts no
-- added Subject and reports no unsigned_headers, while a client that
-- unfolds before it reads field names shows it as the Subject (and, for
-- most, the first one).  The From reader flags such a line only when it
-- starts "From" (attack_from_multiple_spec.lua).  exchange.trust must
-- refuse: rule "unsigned-field", the header section not read cleanly.
-- Signed by dkimpy (/usr/bin/python3) and by mailauth.dkim_sign.
--
-- How it fails without the defence: with header_refusal
-- (lua/mailauth/exchange.lua) not consulted in trust(), every attack case
-- fails (trusted is true, via dkim).
local T = require "spec.support.tenant"

local LINES = {
  Subject = "Subject\r\n : Urgent: new bank details",
  ["Reply-To"] = "Reply-To\r\n : attacker@evil.example",
  To = "To\r\n : accounts@example.net",
  ["Subject (no colon)"] = "Subject Urgent: new bank details",
}

T.describe("attack: a shown field that the reader does not take for a field", function()
  for signer, sign in pairs(T.SIGNERS) do
    describe("signed by " .. signer, function()
      local genuine = sign(T.message(T.FIELDS), T.contoso())

      it("positive control: the genuine message is trusted, no message_problem", function()
        local rep = T.check(genuine)
        assert.is_nil(rep.message_problem)
        assert.is_true(T.trust(rep).trusted)
      end)

      for name, line in pairs(LINES) do
        it("refuses it when a folded " .. name .. " line is prepended", function()
          local rep = T.check(T.prepend(genuine, line))
          assert.are.equal("pass", rep.dkim[1].result)        -- still verifies
          assert.is_nil(rep.dkim[1].unsigned_headers)         -- DKIM counts no copy
          assert.is_nil(rep.author_problem)
          assert.is_truthy(rep.message_problem)
          local t = T.trust(rep)
          assert.is_false(t.trusted, t.reason)
          assert.are.equal("unsigned-field", t.rule, t.reason)
          assert.matches("not read cleanly", t.reason, 1, true)
        end)
      end
    end)
  end
end)
