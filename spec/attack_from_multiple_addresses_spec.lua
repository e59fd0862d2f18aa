-- Attack class: several mailboxes in one From field.  Composition Kills
-- (Chen, Paxson, Jiang, USENIX Security 2020) Fig. 8(a) "multiple address
-- in From header" and 8(e) "special characters precedence" (a bare
-- addr-spec before an angle-addr): a server that checks one address and a
-- client that shows another.  Signed by the attacker's domain (DMARC
-- published), listing the victim (p=reject) as well.
--
-- Defended (RFC 7489 §6.6.1): when every mailbox reads cleanly, DMARC is
-- evaluated for each distinct domain and the strictest policy of the
-- failing ones applies (lua/mailauth/dmarc.lua, each): the victim's
-- check fails, so the result is "fail" with disposition "reject", each
-- domain's verdict listed in dmarc.domains; from_domain is nil (no single
-- author domain) and from_count 2, which the trust rule refuses.
-- Mutation check (done by hand, then restored), per signer:
--  * check.lua evaluating only from_domains[1] (a "first domain" reader):
--    8(a) gave dmarc "pass" for attacker.example; 8(e) (victim first)
--    failed without the per-domain list (4 failures);
--  * dmarc_each ignoring failing verdicts: both gave "pass" (4 failures).
local A = require "attack"

local V, X = A.VICTIM, A.ATTACKER

describe("attack: several mailboxes in one From (Composition Kills Fig. 8(a), 8(e))", function()
  local ctx
  local attacks = {
    { "8(a) the attacker's mailbox, then the victim's", "<billing@" .. X .. ">, <ceo@" .. V .. ">" },
    { "8(e) the victim's addr-spec, then the attacker's angle-addr",
      "ceo@" .. V .. ",<billing@" .. X .. ">" },
  }
  local same = A.message { "From: <billing@" .. X .. ">, Sales <sales@" .. X .. ">" }

  A.presigned_context(same, attacks, function(c) return A.message { "From: " .. c[2] } end,
                      function(c) ctx = c end)

  for _, signer in ipairs(A.signers()) do
    it(("positive control: two mailboxes of the attacker's one domain pass (signed by %s)")
       :format(signer), function()
      local r = A.check(ctx, A.sign(ctx, signer, same))
      assert.is_nil(r.author_problem)
      assert.equal("pass", r.dmarc.result)
      assert.equal(X, r.from_domain)
      assert.equal(2, r.from_count)
    end)
    for _, c in ipairs(attacks) do
      it(("%s (signed by %s): each domain checked, the strictest applies"):format(c[1], signer),
         function()
        local r = A.check(ctx, A.sign(ctx, signer, A.message { "From: " .. c[2] }))
        assert.is_true(A.dkim_pass(r, X))
        assert.is_nil(r.author_problem)
        assert.equal(1, r.from_fields)
        assert.equal(2, r.from_count)
        assert.is_nil(r.from_domain)
        assert.equal("fail", r.dmarc.result)
        assert.equal("reject", r.dmarc.policy)
        assert.equal("reject", r.dmarc.disposition)
        assert.matches("6%.6%.1", r.dmarc.problem)
        local by = {}
        for _, d in ipairs(r.dmarc.domains) do by[d.domain] = d end
        assert.equal("pass", by[X].result)
        assert.equal("fail", by[V].result)
        assert.equal("reject", by[V].policy)
      end)
    end
  end
end)
