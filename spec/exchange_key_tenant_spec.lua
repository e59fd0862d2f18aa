-- Tenant attribution from DNS (issue 9, item 4), end to end: Microsoft
-- publishes a custom domain's DKIM key as a CNAME into the tenant
-- (selector1._domainkey.contoso.com CNAME
-- selector1-contoso-com._domainkey.contoso.onmicrosoft.com), so the
-- verified signature's key_cnames say which tenant holds the key.
-- Genuine signatures by dkimpy and mailauth.dkim_sign, keys made at test
-- time, offline zones (spec/support/tenant.lua).
--
-- Asserted: key_cnames carries the chain; evidence.key_tenant names the
-- tenant (unverified: DNS, not cryptography); with the tenant configured
-- without contoso.com mapped, the signature is trusted only with
-- trust_key_tenant = true; a key that lives in another tenant names that
-- tenant and is not trusted.  Mutation check: with key_tenant_of
-- (lua/mailauth/exchange.lua) returning nil, both signers' first case
-- fails (evidence.key_tenant nil, and trust_key_tenant cannot trust);
-- without key_cnames in dkim.c the key_cnames assertions fail.
local T = require "spec.support.tenant"

local TENANT_ONLY = { { domain = "contoso.onmicrosoft.com" } }
local CHAIN = "selector1-contoso-com._domainkey.contoso.onmicrosoft.com"

T.describe("exchange.trust: the tenant of a custom domain's key, from its CNAME", function()

  for signer, sign in pairs(T.SIGNERS) do
    it(signer .. ": key_cnames and evidence.key_tenant; trusted only with trust_key_tenant", function()
      local message = sign(T.message(T.FIELDS), T.contoso())
      local rep = T.check(message)
      local sig = rep.dkim[1]
      assert.are.equal("pass", sig.result, sig.problem)
      assert.are.same({ CHAIN }, sig.key_cnames)
      local plain = T.trust(rep, { tenants = TENANT_ONLY, message = message })
      assert.is_false(plain.trusted)
      assert.are.equal("no-tenant-signature", plain.rule)
      assert.are.equal("contoso.onmicrosoft.com", plain.evidence.key_tenant)
      local t = T.trust(rep, { tenants = TENANT_ONLY, trust_key_tenant = true, message = message })
      assert.is_true(t.trusted, t.reason)
      assert.are.equal("dkim", t.via)
      assert.are.equal("contoso.onmicrosoft.com", t.tenant)
    end)

    it(signer .. ": a key in another tenant is attributed to it, not trusted", function()
      -- fabrikam.example points its selector at the evil tenant's key and
      -- signs with it: the chain ends under evil.onmicrosoft.com
      local zones = T.zones()
      zones[#zones + 1] = "$ORIGIN fabrikam.example.\n$TTL 300\n"
        .. "@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n@ IN NS ns1\n"
        .. "s1._domainkey IN CNAME selector1-evil-onmicrosoft-com._domainkey.evil.onmicrosoft.com.\n"
        .. '_dmarc IN TXT "v=DMARC1; p=reject"\n'
      local resolver = assert(require("mailauth").resolver { zones = zones })
      local fields = { "From: Fab <fab@fabrikam.example>", "To: bob@example.net",
                       "Subject: invoice", "Date: Thu, 26 Nov 2026 09:00:00 +0000",
                       "Message-ID: <f1@fabrikam.example>" }
      local message = sign(T.message(fields), { domain = "fabrikam.example", selector = "s1", key = "evil" })
      local rep = T.check(message, { resolver = resolver, sender = "fab@fabrikam.example" })
      assert.are.equal("pass", rep.dkim[1].result, rep.dkim[1].problem)
      assert.are.same({ "selector1-evil-onmicrosoft-com._domainkey.evil.onmicrosoft.com" },
                      rep.dkim[1].key_cnames)
      local tenants = { { domain = "contoso.onmicrosoft.com" } }
      local t = T.trust(rep, { tenants = tenants, trust_key_tenant = true, message = message })
      assert.is_false(t.trusted)
      assert.is_nil(t.evidence.key_tenant)   -- evil.onmicrosoft.com is not a configured tenant
    end)
  end
end)
