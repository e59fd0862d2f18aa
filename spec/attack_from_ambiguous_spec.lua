-- Attack class: one From field that readers read differently.  Composition
-- Kills (Chen, Paxson, Jiang, USENIX Security 2020) Fig. 8 and espoofer's
-- cases: 8(b) email address encoding, 8(c) route portion, 8(d) quoted pair,
-- 8(f) display name and real address parsing inconsistencies; and the
-- forms issue 9 lists next to them: two angle-addrs in one mailbox, a ":"
-- taken as a group name, a NUL, a second "@", an "@" in a quoted
-- local-part, unbalanced quote / angle bracket / comment, a domain-literal.
-- In each the message is signed by the attacker's own domain, which has a
-- DMARC record; a reader that picks attacker.example out of the field gets
-- DMARC "pass" while a mail client may show ceo@victim.example.
--
-- Defended: src/core/author.c reads RFC 5322 §3.4/§3.6.2 strictly and makes the
-- author unusable on each form, naming it; DMARC is permerror with that
-- problem and from_domain is nil.
-- Mutation check (each done by hand, then restored), per signer:
--  * check.lua not passing author_problem to mailauth.dmarc (DMARC on the
--    domains read): all 16 cases failed; 8(f) gave dmarc "pass" for the
--    attacker, 8(d) and two-angle-addrs "fail", the rest permerror with
--    dmarc.c's own "no RFC5322.From domain", not the reason;
--  * check_encoded_words() emptied: the two decoded-address cases failed,
--    the encoded display name with no author_problem at all (DMARC "pass"
--    for the attacker); the local-part one is still refused (local_ok);
--  * the obsolete-route fail() disabled: the route case failed (refused
--    as 'unexpected "@"', not naming the route);
--  * the S_AFTER text-after-angle-addr check disabled: 8(f) failed
--    ("unexpected word");  the S_AFTER two-angle check disabled: nothing
--    failed, the fallback names it too (a second, redundant defence);
--  * the group fail() disabled: the group case failed ('unexpected ":"');
--  * check_bytes() emptied: the NUL case failed (refused for another
--    reason, not naming the NUL);
--  * local_ok()'s quoted-"@" check removed: that case got no author_problem
--    (DMARC "pass" for attacker.example, a client showing ceo@victim).
local A = require "attack"
local F = require "dkimfix"

local V, X = A.VICTIM, A.ATTACKER

describe("attack: one From read differently (Composition Kills Fig. 8)", function()
  local ctx
  local attacks = {
    { "8(b) an encoded-word that decodes to the victim's address, then the attacker's",
      "=?utf-8?B?" .. F.b64encode("<ceo@" .. V .. ">") .. "?=,<billing@" .. X .. ">", "encoded%-word" },
    { "8(b) an encoded display name that decodes to the victim's address",
      "=?utf-8?B?" .. F.b64encode("ceo@" .. V) .. "?= <billing@" .. X .. ">", "encoded%-word" },
    { "8(b) an encoded-word as the local part",
      "=?utf-8?Q?ceo=40" .. V .. "?=@" .. X, "encoded%-word" },
    { "8(c) route portion: the victim in the route, the attacker at the end",
      "<@" .. V .. ",@any.example:billing@" .. X .. ">", "route" },
    { "8(d) quoted pair: a backslash before the comma",
      "<ceo@" .. V .. ">\\,<billing@" .. X .. ">", "backslash" },
    { "8(f) display name and real address: an addr-spec after the angle-addr",
      "<billing@" .. X .. ">ceo@" .. V, "after the angle%-addr" },
    { "two angle-addrs in one mailbox",
      "<ceo@" .. V .. "> <billing@" .. X .. ">", "two angle%-addrs" },
    { "a ':' makes a group named like the victim",
      '"ceo@' .. V .. '": <billing@' .. X .. ">;", "group" },
    { "a NUL between the victim's address and the attacker's",
      "ceo@" .. V .. "\0 <billing@" .. X .. ">", "NUL" },
    { "a second unquoted '@'",
      "ceo@" .. V .. "@" .. X, "second unquoted" },
    { "an '@' inside a quoted local-part",
      '"ceo@' .. V .. '"@' .. X, "quoted local%-part" },
    { "an unbalanced quote",
      '"ceo@' .. V .. ' <billing@' .. X .. ">", "unbalanced quote" },
    { "an unbalanced angle bracket",
      "ceo@" .. V .. ">, <billing@" .. X .. ">", 'unbalanced ">"' },
    { "an unclosed angle-addr",
      "Billing <billing@" .. X, 'unbalanced "<"' },
    { "an unbalanced comment",
      "(ceo@" .. V .. " <billing@" .. X .. ">", "unbalanced comment" },
    { "a domain-literal: no DNS domain for DMARC",
      "billing@[192.0.2.1]", "domain%-literal" },
  }
  local clean = A.message { "From: Billing <billing@" .. X .. ">" }

  A.presigned_context(clean, attacks, function(c) return A.message { "From: " .. c[2] } end,
                      function(c) ctx = c end)

  for _, signer in ipairs(A.signers()) do
    it(("positive control: the clean message signed by %s passes DMARC"):format(signer), function()
      A.assert_clean_pass(A.check(ctx, A.sign(ctx, signer, clean)), signer)
    end)
    for _, c in ipairs(attacks) do
      it(("%s (signed by %s): permerror"):format(c[1], signer), function()
        local report = A.check(ctx, A.sign(ctx, signer, A.message { "From: " .. c[2] }))
        A.assert_refused(report, c[3], c[1])
      end)
    end
  end
end)
