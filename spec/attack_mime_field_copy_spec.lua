-- Attack class "replay with an added MIME field": Exchange Online signs
-- Content-Type and MIME-Version once each (its h= is From:Date:Subject:
-- Message-ID:Content-Type:MIME-Version:X-MS-Exchange-SenderADCheck, see
-- ../shared/testdata/m365/), and Microsoft's ARC-Message-Signature the
-- same.  A replaying attacker prepends a second Content-Type whose boundary
-- is one that occurs inside the signed body (here a quoted part of the
-- attacker's own earlier mail): the signature still verifies (RFC 6376
-- §5.4.2 signs the bottom-most copy), while a client that reads the first
-- Content-Type shows only the attacker's part, as the tenant's mail.
-- DKIM reports the copy (unsigned_headers "content-type"); exchange.trust
-- must refuse it with rule "unsigned-field", on the DKIM and the ARC path.
-- Signed by dkimpy (/usr/bin/python3) and by mailauth.dkim_sign.
--
-- How it fails without the defence: with SHOWN_FIELDS in
-- lua/mailauth/exchange.lua back to the eight DESIGN.md names (no MIME
-- fields), every attack case below fails (trusted is true):
-- trusted via dkim (or via arc), the added copy reported but ignored.
local mailauth = require "mailauth"
local T = require "spec.support.tenant"

-- How Exchange Online signs (real h=, less its own X-MS- field).
local EXCHANGE_H = { "from", "date", "subject", "message-id", "content-type", "mime-version" }

local FIELDS = {
  "From: Alice <alice@contoso.com>", "To: bob@example.net",
  "Subject: Re: invoice 4711", "Date: Thu, 26 Nov 2026 09:00:00 +0000",
  "Message-ID: <r1@contoso.com>", "MIME-Version: 1.0",
  "Content-Type: multipart/mixed; boundary=\"outer\"",
}

-- The genuine reply quotes the attacker's earlier mail verbatim, which
-- carried a MIME part of its own under the boundary "evil".
local BODY = table.concat({
  "--outer", "Content-Type: text/plain; charset=us-ascii", "",
  "Thanks, we will look into it.", "", "> -----Original message-----",
  "--evil", "Content-Type: text/plain; charset=us-ascii", "",
  "Our bank details have changed: pay invoice 4711 to IBAN XX00 0000 0000.",
  "--evil--", "--outer--", "" }, "\r\n")

local ADDED = {
  ["Content-Type"] = "Content-Type: multipart/mixed; boundary=\"evil\"",
  ["MIME-Version"] = "MIME-Version: 1.0",
}

local WITH_DKIM = "spf=pass smtp.mailfrom=contoso.com; dkim=pass header.d=contoso.com; "
                  .. "dmarc=pass header.from=contoso.com; arc=none"

-- Microsoft's seal over the genuine message, its AMS signing what
-- Exchange Online's does.
local function ms_seal(message)
  local text = assert(mailauth.arc_seal(message, {
    domain = "microsoft.com", selector = "arcselector9901", key = T.key("microsoft").pem_text,
    authserv_id = "mx.microsoft.com", authentication_results = WITH_DKIM,
    headers = EXCHANGE_H, now = T.SIGNED_AT + 5 }))
  return text .. "\r\n" .. message
end

T.describe("attack: replay with an added Content-Type or MIME-Version", function()
  for signer, sign in pairs(T.SIGNERS) do
    describe("signed by " .. signer, function()
      local genuine = sign(T.message(FIELDS, BODY), T.contoso { headers = EXCHANGE_H })

      it("positive control: the genuine message is trusted via dkim", function()
        local rep = T.check(genuine)
        assert.are.equal("pass", rep.dkim[1].result)
        assert.is_nil(rep.dkim[1].unsigned_headers)
        local t = T.trust(rep)
        assert.is_true(t.trusted, t.reason)
        assert.are.equal("dkim", t.via)
      end)

      for name, field in pairs(ADDED) do
        it("refuses the signature when a second " .. name .. " is added", function()
          local rep = T.check(T.prepend(genuine, field))
          assert.are.equal("pass", rep.dkim[1].result)        -- still verifies
          assert.matches(name:lower(), rep.dkim[1].unsigned_headers, 1, true)
          assert.is_nil(rep.author_problem)
          local t = T.trust(rep)
          assert.is_false(t.trusted, t.reason)
          assert.are.equal("unsigned-field", t.rule, t.reason)
          assert.are.equal("unsigned_field", t.code)
        end)
      end

      -- The tenant's key is not reachable (a selector nobody publishes),
      -- so only the ARC path can trust: the seal's AMS is what counts.
      local unpinned = sign(T.message(FIELDS, BODY), T.contoso { headers = EXCHANGE_H,
                                                                 selector = "unpublished" })
      local sealed = ms_seal(unpinned)

      it("positive control: sealed by microsoft.com, it is trusted via arc", function()
        local rep = T.check(sealed)
        assert.are_not.equal("pass", rep.dkim[1].result)
        assert.are.equal("pass", rep.arc.result)
        local t = T.trust(rep, { trust_arc = true })
        assert.is_true(t.trusted, t.reason)
        assert.are.equal("arc", t.via)
      end)

      it("refuses the ARC path when a Content-Type is added after the seal", function()
        local rep = T.check(T.prepend(sealed, ADDED["Content-Type"]))
        assert.are.equal("pass", rep.arc.result)              -- still verifies
        assert.matches("content-type", rep.arc.chain[1].ams_unsigned_headers, 1, true)
        local t = T.trust(rep, { trust_arc = true })
        assert.is_false(t.trusted, t.reason)
        assert.are.equal("unsigned-field", t.rule, t.reason)
      end)
    end)
  end
end)
