-- Attack class "ARC on dmarc=pass alone" (issue 9): an ARC set sealed by
-- microsoft.com (a test key for d=microsoft.com s=arcselector9901 in the
-- offline zone) whose ARC-Authentication-Results report dmarc=pass,
-- spf=pass and compauth=pass for contoso.com but no dkim=pass of the
-- tenant.  Any tenant passes SPF for contoso.com through the shared pool,
-- so such a DMARC pass proves nothing: exchange.trust{ trust_arc = true }
-- must refuse (rule "arc").  The AARs are in strict syntax (no action=) written by
-- mailauth.arc_seal; exchange reads them with the Microsoft dialect option
-- (engineer msdialect), which reads strict syntax the same way.  The
-- message itself carries another tenant's genuine dkimpy signature.
--
-- Mutation check: with `method == "dkim"` in aar_dkim_passes
-- (lua/mailauth/exchange.lua) widened back to dkim or dmarc with
-- header.from (the old code), and the author fields simulated, the
-- dmarc-only case and the other-tenant case failed: trusted = true via arc.
local T = require "spec.support.tenant"

local FIELDS = {
  "From: Alice <alice@contoso.com>", "To: bob@example.net",
  "Subject: Urgent: new bank details", "Date: Thu, 26 Nov 2026 09:05:00 +0000",
  "Message-ID: <f2@evil.onmicrosoft.com>",
}

local DMARC_ONLY = "spf=pass smtp.mailfrom=contoso.com; dmarc=pass header.from=contoso.com; "
                   .. "compauth=pass reason=100; arc=none"
local WITH_DKIM = "spf=pass smtp.mailfrom=contoso.com; dkim=pass header.d=contoso.com; "
                  .. "dmarc=pass header.from=contoso.com; arc=none"

T.describe("attack: ARC sealed by microsoft.com vouching dmarc=pass only", function()
  local attacker = T.sign_dkimpy(T.message(FIELDS), {
    domain = "evil.onmicrosoft.com", selector = "selector1-evil-onmicrosoft-com", key = "evil" })

  it("is not trusted, and says why", function()
    local rep = T.check(T.seal(attacker, DMARC_ONLY), { sender = "alice@contoso.com" })
    assert.are.equal("pass", rep.arc.result)
    assert.are.equal("microsoft.com", rep.arc.chain[#rep.arc.chain].domain)
    assert.are.equal("pass", rep.spf.result)        -- the shared pool passes SPF
    local t = T.trust(rep, { trust_arc = true })
    assert.is_false(t.trusted)
    assert.are.equal("arc", t.rule, t.reason)
    assert.matches("never enough", t.reason)
    assert.are.equal("microsoft.com", t.evidence.arc_sealer)
  end)

  it("is not trusted with a dkim=pass of another tenant either", function()
    local rep = T.check(T.seal(attacker, "dkim=pass header.d=evil.onmicrosoft.com; "
                                         .. "dmarc=pass header.from=contoso.com"))
    local t = T.trust(rep, { trust_arc = true })
    assert.is_false(t.trusted)
    assert.are.equal("arc", t.rule, t.reason)
  end)

  it("is not trusted without trust_arc, even with a tenant dkim=pass", function()
    local t = T.trust(T.check(T.seal(attacker, WITH_DKIM)))
    assert.is_false(t.trusted)
  end)

  it("is not trusted when the seal is not microsoft.com's or the chain fails", function()
    local rep = T.check(T.seal(attacker, WITH_DKIM))
    rep.arc.chain[#rep.arc.chain].domain = "mail.example"
    assert.are.equal("arc", T.trust(rep, { trust_arc = true }).rule)
    rep = T.check((T.seal(attacker, WITH_DKIM):gsub("Urgent", "Relaxed", 1)))
    assert.are_not.equal("pass", rep.arc.result)
    assert.is_false(T.trust(rep, { trust_arc = true }).trusted)
  end)

  it("positive control: the seal reporting dkim=pass header.d=contoso.com is trusted via arc", function()
    -- as Microsoft would only report it: the message carries a tenant
    -- signature (its key unpublished here, so only the ARC path can trust)
    local tenant_signed = T.sign_dkimpy(attacker, T.contoso { selector = "unpublished" })
    local rep = T.check(T.seal(tenant_signed, WITH_DKIM))
    assert.are.equal("pass", rep.arc.result)
    local t = T.trust(rep, { trust_arc = true })
    assert.is_true(t.trusted, t.reason)
    assert.are.equal("arc", t.via)
    assert.are.equal("contoso.onmicrosoft.com", t.tenant)
  end)
end)
