-- exchange.trust on real Exchange Online mail (issue 9, "What it must show").
--
-- Data: ../shared/testdata/m365/ read in place (five real messages of the
-- ocaml-arc test corpus, the pinned ARC keys; see its SOURCES.md and
-- RESULTS.md).  Skipped with a one-line notice when ../shared is absent.
--
-- Each Exchange Online message reached the list through more hops; the
-- newest ARC set (smtp.subspace.kernel.org, cv=fail) is the list's own.
-- Removing it gives the chain as Exchange Online handed it over (RESULTS.md
-- "probe"): sealed by microsoft.com, whose ARC-Authentication-Results say
-- `dkim=pass header.d=<the tenant's domain>` in Microsoft's dialect.  The
-- DKIM keys of those signatures are not pinned, so only the ARC path can
-- trust them.
--
-- Asserted for 001, 002, 003 and 005:
--   * with that message's tenant configured and trust_arc: trusted via arc;
--   * with another tenant configured: not trusted (rule "arc");
--   * with the AAR's dkim= result edited (the seal no longer verifies):
--     not trusted, and the chain fails;
--   * as stored (the list's cv=fail set on top): not trusted;
--   * without trust_arc: not trusted (no DKIM key, no ARC trust asked).
-- How it fails without the defence: on ceb2e1b the first case fails
-- (the strict parser rejects Microsoft's `action=none`, so a genuine seal
-- is never trusted: RESULTS.md §4); with the dialect but the old "dkim or
-- dmarc pass" rule, a tenant-less dmarc=pass would still be trusted (see
-- spec/attack_arc_dmarc_only_spec.lua for that attack).
local mailauth = require "mailauth"
local exchange = require "mailauth.exchange"
local M365 = require "spec.support.m365"

-- The tenant of each message: the arm.com tenant's onmicrosoft.com name
-- is not in its mail (a placeholder stands in, as RESULTS.md §4 does);
-- oracle and mediatek sign with their MOERA domains, named in the mail.
local CASES = {
  { n = "001", tenant = { domain = "arm.onmicrosoft.com", domains = { "arm.com" } } },
  { n = "002", tenant = { domain = "arm.onmicrosoft.com", domains = { "arm.com" } } },
  { n = "003", tenant = { domain = "oracle.onmicrosoft.com", domains = { "oracle.com" } } },
  { n = "005", tenant = { domain = "mediateko365.onmicrosoft.com", domains = { "mediatek.com" } } },
}
local OTHER = { domain = "contoso.onmicrosoft.com", domains = { "contoso.com" } }

describe("m365: exchange.trust on real Exchange Online ARC chains", function()
  if not M365.have then
    pending("../shared/testdata/m365/ absent: skipped")
    return
  end
  local resolver = M365.resolver()

  -- mailauth.check of message m with the clock at the list's seal time (the
  -- Microsoft seals carry no t=).
  local function check(m, now)
    local text = M365.join(m)
    return mailauth.check(text, { resolver = resolver, now = now,
                                  authserv_id = "mx.test.invalid" }), text
  end

  for _, c in ipairs(CASES) do
    describe(c.n, function()
      local stored = M365.message(c.n)
      local _, newest, now = M365.seals(stored)
      local handed = M365.probe(stored)
      local _, inst = M365.seals(handed)
      local from = M365.from_domain(stored)

      it("as Exchange Online handed it over, with its tenant: trusted via arc", function()
        local report, text = check(handed, now)
        assert.equal("pass", report.arc.result)
        assert.equal("microsoft.com", report.arc.chain[#report.arc.chain].domain)
        assert.equal(1, report.from_fields)
        assert.equal(1, report.from_count)
        local v = exchange.trust(report, { tenants = { c.tenant }, trust_arc = true, message = text })
        assert.is_true(v.trusted, v.reason)
        assert.equal("arc", v.via)
        assert.equal(c.tenant.domain, v.tenant)
        assert.truthy(v.reason:find(from, 1, true))
        -- the AAR it rests on says dkim=pass header.d=<From's domain>
        local aar = mailauth.authres.parse(report.arc.chain[inst].authentication_results,
                                           { dialect = "microsoft" })
        local d
        for _, r in ipairs(aar.results) do
          if r.method == "dkim" and r.result == "pass" then
            for _, p in ipairs(r.properties) do
              if p.ptype == "header" and p.property == "d" then d = p.value end
            end
          end
        end
        assert.equal(from, d)
      end)

      it("with another tenant configured: not trusted", function()
        local report, text = check(handed, now)
        local v = exchange.trust(report, { tenants = { OTHER }, trust_arc = true, message = text })
        assert.is_false(v.trusted)
        assert.equal("arc", v.rule)
      end)

      it("with the AAR's dkim= result edited: the seal breaks, not trusted", function()
        local aar = M365.field(handed, "arc-authentication-results", inst)
        local edited = aar:gsub("dkim=pass", "dkim=fail", 1)
        assert.are_not.equal(aar, edited)
        local forged = M365.replace_aar(handed, inst, (edited:gsub("^%s+", "")))
        local report, text = check(forged, now)
        assert.equal("fail", report.arc.result)
        local v = exchange.trust(report, { tenants = { c.tenant }, trust_arc = true, message = text })
        assert.is_false(v.trusted)
        assert.equal("arc", v.rule)
        -- and the forger's other move, leaving dkim=pass but naming
        -- another domain, breaks the seal the same way
        local renamed = aar:gsub("header%.d=" .. from:gsub("%p", "%%%0"), "header.d=contoso.com", 1)
        assert.are_not.equal(aar, renamed)
        report, text = check(M365.replace_aar(handed, inst, (renamed:gsub("^%s+", ""))), now)
        v = exchange.trust(report, { tenants = { c.tenant, OTHER }, trust_arc = true, message = text })
        assert.is_false(v.trusted)
      end)

      it("as stored, with the list's cv=fail set on top: not trusted", function()
        local report, text = check(stored, now)
        assert.equal("fail", report.arc.result)
        assert.equal(newest, #report.arc.chain)
        local v = exchange.trust(report, { tenants = { c.tenant }, trust_arc = true, message = text })
        assert.is_false(v.trusted)
        assert.equal("arc", v.rule)
      end)

      it("without trust_arc: not trusted (its DKIM keys are not pinned)", function()
        local report, text = check(handed, now)
        for _, sig in ipairs(report.dkim) do assert.are_not.equal("pass", sig.result) end
        local v = exchange.trust(report, { tenants = { c.tenant }, message = text })
        assert.is_false(v.trusted)
        assert.equal("no-tenant-signature", v.rule)
      end)
    end)
  end
end)
