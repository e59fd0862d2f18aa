-- Attack class "Replay with added fields" (issue 9): a genuine tenant
-- signature (Exchange Online signs From, To, Subject, ... once each, it
-- does not oversign) over a message to which someone adds a second
-- Subject, To, Reply-To, Date or From above the signed copy.  The signature
-- still verifies (RFC 6376 §5.4.2 signs the bottom-most instance) while a
-- mail client shows the added one; exchange.trust must refuse with rule
-- "unsigned-field".  Signed by dkimpy (/usr/bin/python3) and by
-- mailauth.dkim_sign with keys generated at test time, published offline.
--
-- Mutation check: with the unsigned-field test removed from
-- coverage_refusal (lua/mailauth/exchange.lua) and the author fields
-- present (author's from_count, simulated locally), 8 of the 10 attack
-- cases failed: trusted = true via dkim; the two added-From cases were
-- still refused, by the author rule (two From fields).
local T = require "spec.support.tenant"

T.describe("attack: replay with added fields", function()

  local added = {
    Subject = "Subject: Urgent: new bank details",
    To = "To: accounts@example.net",
    ["Reply-To"] = "Reply-To: attacker@evil.example",
    Date = "Date: Fri, 27 Nov 2026 08:00:00 +0000",
    From = "From: CEO <ceo@contoso.com>",
  }

  for signer, sign in pairs(T.SIGNERS) do
    describe("signed by " .. signer, function()
      local genuine = sign(T.message(T.FIELDS), T.contoso())

      it("positive control: the clean genuine message is trusted via dkim", function()
        local rep = T.check(genuine)
        assert.are.equal("pass", rep.dkim[1].result)
        assert.is_nil(rep.dkim[1].unsigned_headers)
        assert.are.equal("pass", rep.dmarc.result)
        local t = T.trust(rep)
        assert.is_true(t.trusted, t.reason)
        assert.are.equal("dkim", t.via)
        assert.are.equal("contoso.onmicrosoft.com", t.tenant)
      end)

      for name, field in pairs(added) do
        it("refuses the signature when a second " .. name .. " is added", function()
          local rep = T.check(T.prepend(genuine, field))
          assert.are.equal("pass", rep.dkim[1].result)        -- still verifies
          assert.matches(name:lower(), rep.dkim[1].unsigned_headers:lower(), 1, true)
          local t = T.trust(rep)
          assert.is_false(t.trusted)
          if name == "From" then
            -- two From fields: the author rule may refuse first
            assert.is_truthy(t.rule == "unsigned-field" or t.rule == "author", t.reason)
          else
            assert.are.equal("unsigned-field", t.rule, t.reason)
            assert.matches("^unsigned%-field: ", t.reason)
          end
        end)
      end
    end)
  end
end)
