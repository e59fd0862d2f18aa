-- Attack class "onmicrosoft.com in the other Microsoft clouds": as
-- attack_onmicrosoft_spec.lua, but for the initial domains of Microsoft
-- 365's US Government (GCC High / DoD: <tenant>.onmicrosoft.us), Germany
-- (<tenant>.onmicrosoft.de) and 21Vianet China
-- (<tenant>.partner.onmschina.cn) clouds.  None of these parents is in the
-- public suffix list either, so by RFC 7489 §3.2 alone every tenant of a
-- cloud shares one Organizational Domain and relaxed alignment lets the
-- attacker's own tenant (a genuine signature, d=evil.onmicrosoft.us) pass
-- DMARC for From: ceo@victim.onmicrosoft.us, whose p=reject is ignored.
-- dmarc.c's built-in shared parents (builtin_shared) hold them next to
-- onmicrosoft.com: the result is "fail", shared_parent names the parent.
-- Signed by dkimpy and by mailauth.dkim_sign, keys made at test time.
--
-- How it fails without the defence: with builtin_shared in
-- src/dmarc/dmarc.c holding only "onmicrosoft.com" (the code before this
-- spec), every attack case fails "expected fail, got pass" in PSL mode
-- (org_domain onmicrosoft.us, shared_parent nil).
local mailauth = require "mailauth"
local T = require "spec.support.tenant"

local function txt(s)
  local parts = {}
  for i = 1, #s, 200 do parts[#parts + 1] = '"' .. s:sub(i, i + 199) .. '"' end
  return table.concat(parts, " ")
end

-- One zone for a cloud's parent: the victim's DMARC record (p=reject),
-- the attacker's and the victim's keys.
local function cloud_zone(parent)
  return ("$ORIGIN %s.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n@ IN NS ns1\n"
          .. '_dmarc.victim IN TXT "v=DMARC1; p=reject"\n'
          .. "sel._domainkey.evil IN TXT %s\n"
          .. "sel._domainkey.victim IN TXT %s\n"):format(parent,
    (txt("v=DKIM1; k=rsa; p=" .. T.key("evil").p)),
    txt("v=DKIM1; k=rsa; p=" .. T.key("contoso").p))
end

local CLOUDS = { "onmicrosoft.us", "onmicrosoft.de", "partner.onmschina.cn" }

T.describe("attack: cross-tenant spoof in Microsoft's other clouds", function()
  for _, parent in ipairs(CLOUDS) do
    for signer, sign in pairs(T.SIGNERS) do
      describe(parent .. ", signed by " .. signer, function()
        local resolver = assert(mailauth.resolver { zones = { cloud_zone(parent) } })
        local fields = {
          "From: CEO <ceo@victim." .. parent .. ">", "To: bob@example.net",
          "Subject: Wire transfer today", "Date: Thu, 26 Nov 2026 09:07:00 +0000",
          "Message-ID: <c1@evil." .. parent .. ">",
        }
        local spoof = sign(T.message(fields), { domain = "evil." .. parent, selector = "sel",
                                                key = "evil" })
        local genuine = sign(T.message(fields), { domain = "victim." .. parent, selector = "sel",
                                                  key = "contoso" })

        it("DMARC does not pass by relaxed alignment across tenants", function()
          local rep = T.check(spoof, { sender = "ceo@evil." .. parent, resolver = resolver })
          assert.are.equal("pass", rep.dkim[1].result)
          assert.are.equal("evil." .. parent, rep.dkim[1].domain)
          assert.are.equal("fail", rep.dmarc.result)
          assert.are.equal("reject", rep.dmarc.disposition)
          assert.are.equal(parent, rep.dmarc.shared_parent)
          assert.are.equal("victim." .. parent, rep.dmarc.org_domain)
        end)

        it("positive control: the victim tenant's own signature passes", function()
          local rep = T.check(genuine, { sender = "ceo@victim." .. parent, resolver = resolver })
          assert.are.equal("pass", rep.dkim[1].result)
          assert.are.equal("pass", rep.dmarc.result)
        end)
      end)
    end
  end

  -- as exchange_evidence_spec.lua's onmicrosoft.com case: a name below a
  -- tenant's initial domain is not the tenant's, even when mapped
  it("exchange.trust never aligns below these parents, even through a mapped name", function()
    for _, parent in ipairs(CLOUDS) do
      local tenant = "contoso." .. parent
      local rep = { from_fields = 1, from_count = 1, from_domain = "x." .. tenant, now = T.NOW,
                    dkim = { { result = "pass", domain = tenant } } }
      local t = T.trust(rep, { tenants = { { domain = tenant, domains = { "contoso.com", tenant } } } })
      assert.is_false(t.trusted, t.reason)
    end
  end)
end)
