-- Attack class "onmicrosoft.com" (issue 9): onmicrosoft.com is not in the
-- public suffix list, so by RFC 7489 §3.2 alone every tenant's initial
-- domain has the Organizational Domain onmicrosoft.com, and relaxed
-- alignment lets d=evil.onmicrosoft.com (the attacker's own tenant, a
-- genuine signature) pass DMARC for From: ceo@contoso.onmicrosoft.com, in
-- PSL mode and, once _dmarc.onmicrosoft.com exists, in tree mode too.
-- dmarc.c treats onmicrosoft.com and every shared_domains entry as a
-- public suffix (result: shared_parent); exchange.trust refuses; and
-- examples/policy.lua rejects.  Signed by dkimpy and mailauth.dkim_sign.
--
-- Mutation check: with shared_org() in src/dmarc/dmarc.c returning NULL, the
-- PSL and tree cases failed "expected fail, got pass" (and shared_parent
-- nil), the shared_domains case likewise, and the policy case failed
-- "expected reject, got accept" once the policy's claimed-tenant rule was
-- also removed (that rule alone still rejects it).
local T = require "spec.support.tenant"
local mailauth = require "mailauth"

local SPOOF = {
  "From: CEO <ceo@contoso.onmicrosoft.com>", "To: bob@example.net",
  "Subject: Wire transfer today", "Date: Thu, 26 Nov 2026 09:07:00 +0000",
  "Message-ID: <e1@evil.onmicrosoft.com>",
}

local function evil(o)
  o = o or {}
  o.domain, o.selector, o.key = "evil.onmicrosoft.com", "selector1-evil-onmicrosoft-com", "evil"
  return o
end

local function moera(o)
  o = o or {}
  o.domain, o.selector, o.key = "contoso.onmicrosoft.com", "selector1-contoso-onmicrosoft-com", "contoso"
  return o
end

T.describe("attack: cross-tenant onmicrosoft.com spoof", function()
  -- _dmarc.onmicrosoft.com, so that the tree walk reaches a record above
  -- the tenants (RFC 9989 §4.10.2: the record with the fewest labels)
  local tree_resolver = T.resolver { ["onmicrosoft.com"] = { '_dmarc IN TXT "v=DMARC1; p=none"' } }

  for signer, sign in pairs(T.SIGNERS) do
    describe("signed by " .. signer, function()
      local spoof = sign(T.message(SPOOF), evil())
      local genuine = sign(T.message(SPOOF), moera())

      it("DMARC does not pass by relaxed alignment (PSL mode)", function()
        local rep = T.check(spoof, { sender = "ceo@evil.onmicrosoft.com" })
        assert.are.equal("pass", rep.dkim[1].result)
        assert.are.equal("evil.onmicrosoft.com", rep.dkim[1].domain)
        assert.are.equal("fail", rep.dmarc.result)
        assert.are.equal("reject", rep.dmarc.disposition)
        assert.are.equal("onmicrosoft.com", rep.dmarc.shared_parent)
        assert.are.equal("contoso.onmicrosoft.com", rep.dmarc.org_domain)
      end)

      it("DMARC does not pass by relaxed alignment (tree mode)", function()
        local rep = T.check(spoof, { sender = "ceo@evil.onmicrosoft.com", org_domain = "tree",
                                     resolver = tree_resolver })
        assert.are.equal("fail", rep.dmarc.result)
        assert.are.equal("onmicrosoft.com", rep.dmarc.shared_parent)
      end)

      it("exchange.trust refuses it", function()
        local t = T.trust(T.check(spoof, { sender = "ceo@evil.onmicrosoft.com" }))
        assert.is_false(t.trusted)
        assert.are.equal("no-tenant-signature", t.rule, t.reason)
      end)

      it("examples/policy.lua rejects it", function()
        local policy = assert(loadfile("examples/policy.lua"))()
        local verdict, reason = policy(T.check(spoof, { sender = "ceo@evil.onmicrosoft.com" }),
                                       { tenants = T.TENANTS })
        assert.are.equal("reject", verdict)
        assert.matches("not trusted", reason)
      end)

      it("positive control: the tenant's own MOERA signature passes and is trusted", function()
        local rep = T.check(genuine, { sender = "ceo@contoso.onmicrosoft.com" })
        assert.are.equal("pass", rep.dmarc.result)
        local tree = T.check(genuine, { sender = "ceo@contoso.onmicrosoft.com", org_domain = "tree",
                                        resolver = tree_resolver })
        assert.are.equal("pass", tree.dmarc.result)
        local t = T.trust(rep)
        assert.is_true(t.trusted, t.reason)
        local policy = assert(loadfile("examples/policy.lua"))()
        assert.are.equal("accept", (policy(rep, { tenants = T.TENANTS })))
      end)
    end)
  end

  it("an operator's shared_domains are shared parents too", function()
    local dkim = { { result = "pass", domain = "evil.hosted.example" } }
    local zone = "$ORIGIN hosted.example.\n$TTL 300\n@ IN SOA ns. h. 1 1 1 1 1\n"
                 .. '_dmarc.contoso IN TXT "v=DMARC1; p=reject"\n'
    local r = assert(mailauth.resolver { zones = { zone } })
    local before = mailauth.dmarc { from = "contoso.hosted.example", dkim = dkim, resolver = r, pct_roll = 0 }
    assert.are.equal("pass", before.result)                -- one organisation by the PSL
    for _, mode in ipairs { "psl", "tree" } do
      local after = mailauth.dmarc { from = "contoso.hosted.example", dkim = dkim, resolver = r,
                                     pct_roll = 0, org_domain = mode,
                                     shared_domains = { "Hosted.Example." } }
      assert.are.equal("fail", after.result, mode)
      assert.are.equal("hosted.example", after.shared_parent, mode)
    end
    assert.has_error(function()
      mailauth.dmarc { from = "a.example", resolver = r, shared_domains = "hosted.example" }
    end)
  end)
end)
