-- Attack class "l= laundered through Microsoft's ARC seal": a tenant
-- signature with l= (RFC 6376 §3.5, §8.2) still passes after someone
-- appends text to the body.  Sent through Exchange Online (a mailbox of
-- any tenant that forwards), Microsoft verifies it, writes dkim=pass
-- header.d=contoso.com in its ARC-Authentication-Results and seals the
-- whole message, appended text included: its own AMS has no l=.  On the
-- DKIM path exchange.trust refuses the l= (attack_body_length_spec.lua);
-- on the ARC path it trusted the AAR's dkim=pass, which does not say l=.
-- The DKIM-Signature is still in the message: its l= and unsigned byte
-- count must refuse the ARC path too (rule "l="), and a seal whose AAR
-- names a signature the message no longer carries must not stand alone
-- (rule "arc").  Here the tenant key is also left unpublished (only ARC
-- can trust), and then published.
-- Signed by dkimpy (length=True); the seal by mailauth.arc_seal.
--
-- How it fails without the defence: with signatures_refusal not called in
-- arc_trust (lua/mailauth/exchange.lua), all three attack cases fail
-- (trusted is true, via arc: with the key published, the DKIM path's l=
-- refusal is overridden by the ARC trust).
local mailauth = require "mailauth"
local T = require "spec.support.tenant"

local WITH_DKIM = "spf=pass smtp.mailfrom=contoso.com; dkim=pass header.d=contoso.com; "
                  .. "dmarc=pass header.from=contoso.com; arc=none"
local PS = "\r\nPS: new bank details, pay to IBAN XX00 0000 0000 today.\r\n"

T.describe("attack: l= with appended text, sealed by microsoft.com", function()
  for _, selector in ipairs({ "unpublished", "selector1" }) do
    describe("tenant key " .. (selector == "selector1" and "published" or "unpublished"), function()
      local signed = T.sign_dkimpy(T.message(T.FIELDS), T.contoso { length = true,
                                                                    selector = selector })

      it("positive control: sealed as signed (no byte past l=), trusted", function()
        local rep = T.check(T.seal(signed, WITH_DKIM))
        assert.are.equal("pass", rep.arc.result)
        local t = T.trust(rep, { trust_arc = true })
        assert.is_true(t.trusted, t.reason)
        -- the published key lets the DKIM path trust first
        assert.are.equal(selector == "selector1" and "dkim" or "arc", t.via)
      end)

      it("refuses the ARC path once text was appended before the seal", function()
        local rep = T.check(T.seal(signed .. PS, WITH_DKIM))
        assert.are.equal("pass", rep.arc.result)            -- Microsoft signed it all
        assert.are.equal("contoso.com", rep.dkim[1].domain)
        assert.is_true(rep.dkim[1].unsigned_body_bytes > 0)
        local t = T.trust(rep, { trust_arc = true })
        assert.is_false(t.trusted, t.reason)
        assert.are.equal("l=", t.rule, t.reason)
        assert.are.equal("body_length", t.code)
      end)
    end)
  end

  -- Microsoft's AMS signs no DKIM-Signature field (its h= in
  -- ../shared/testdata/m365/), so a hop after the seal (the attacker's own
  -- relay, to which a forwarding mailbox sends) can remove the signature
  -- that shows the l=: the AAR's dkim=pass must then not stand alone.
  it("refuses the ARC path once the l= signature is removed after the seal", function()
    local signed = T.sign_dkimpy(T.message(T.FIELDS), T.contoso { length = true })
    local seal = assert(mailauth.arc_seal(signed .. PS, {
      domain = "microsoft.com", selector = "arcselector9901", key = T.key("microsoft").pem_text,
      authserv_id = "mx.microsoft.com", authentication_results = WITH_DKIM,
      headers = { "from", "date", "subject", "message-id", "to", "reply-to" },
      now = T.SIGNED_AT + 5 }))
    local stripped = (signed .. PS):gsub("^DKIM%-Signature:.-\r\n(%S)", "%1", 1)
    assert.is_nil(stripped:find("DKIM-Signature", 1, true))
    local rep = T.check(seal .. "\r\n" .. stripped)
    assert.are.equal("pass", rep.arc.result)              -- the seal still verifies
    assert.are.equal(0, #rep.dkim)
    local t = T.trust(rep, { trust_arc = true })
    assert.is_false(t.trusted, t.reason)
    assert.are.equal("arc", t.rule, t.reason)
    assert.matches("no DKIM-Signature", t.reason, 1, true)
  end)
end)
