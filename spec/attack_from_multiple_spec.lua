-- Attack class: several From fields, and lines some readers take for one.
-- Composition Kills (Chen, Paxson, Jiang, USENIX Security 2020), section 5
-- "inconsistencies between email server and client" / espoofer cases: Fig.
-- 6(a) multiple From headers, 6(c) "From :" with a succeeding space, 6(b)
-- "From" folded before its colon, section 5.1 a space-prefixed " From:",
-- Fig. 6(d)/A12 no From at all (a client shows Sender), and issue 9's
-- replay: a genuine message signed without oversigning From (as Exchange
-- Online signs) with a second From prepended in transit, the DKIM
-- signature still verifying (RFC 6376 §5.4.2 takes the bottom-most From).
-- The attacker's domain publishes a key and a DMARC record, so DMARC on
-- the attacker's From alone would pass while a client may show the victim.
--
-- Defended: RFC 5322 §3.6 allows exactly one From; src/core/author.c makes
-- the author unusable for 0 or 2+ From fields and for a line that is not
-- a field but starts "From"; DMARC is permerror with that problem.
-- Mutation check (done by hand, then restored), per signer:
--  * the "%zu From fields" fail() in author_read disabled: 8 failures, "no
--    author_problem" for 6(a), both 6(c) cases (DMARC ran on the domains
--    read; the attacker's two same-domain From fields gave dmarc "pass" with
--    from_domain set), and the control-byte From refused only for its byte;
--  * looks_like_from() always 0: 4 failures, the space-prefixed and folded
--    cases got no author_problem and DMARC "pass" for the attacker;
--  * the zero-From fail() disabled: 6(d) failed, "no author_problem".
local A = require "attack"

local V, X = A.VICTIM, A.ATTACKER

describe("attack: several From fields (Composition Kills Fig. 6)", function()
  local ctx
  teardown(function() A.teardown(ctx) end)

  -- label, From lines when signed, lines prepended after signing (above the
  -- DKIM-Signature: a leading-space line must be the first line), problem.
  -- Each prepended From stays outside the signature, which still verifies.
  local attacks = {
    { "6(a) a second From prepended to a genuine signed message",
      { "From: Billing <billing@" .. X .. ">" }, "From: CEO <ceo@" .. V .. ">", "2 From fields" },
    { "issue 9: a prepended From the lenient reader dropped (control byte)",
      { "From: Billing <billing@" .. X .. ">" }, "From: ceo@" .. V .. "\1", "2 From fields" },
    { "6(c) 'From :' with a succeeding space, prepended",
      { "From: <first@" .. X .. ">" }, "From : <admin@" .. V .. ">", "2 From fields" },
    { "6(c) two From fields of the attacker's own domain, both signed",
      { "From: <first@" .. X .. ">", "From: <admin@" .. X .. ">" }, nil, "2 From fields",
      headers = { "from", "from", "to", "subject" } },
    { "5.1 a space-prefixed From at the top of the header",
      { "From: <first@" .. X .. ">" }, " From: <admin@" .. V .. ">", 'starts with "From"' },
    { "6(b) From folded before its colon",
      { "From: <first@" .. X .. ">" }, "From\r\n : <admin@" .. V .. ">", 'starts with "From"' },
    -- mailauth.dkim_sign refuses a message without From (RFC 6376 §5.4:
    -- From must be signed), so only dkimpy signs this one.
    { "6(d) no From field, a Sender of the victim",
      { "Sender: <admin@" .. V .. ">" }, nil, "no From field",
      headers = { "sender", "from", "to", "subject" }, signers = { dkimpy = true } },
  }

  setup(function()
    ctx = A.setup()
    if A.have_dkimpy() then
      local items = { { A.message { "From: Billing <billing@" .. X .. ">" } } }
      for _, c in ipairs(attacks) do items[#items + 1] = { A.message(c[2]), X, c.headers } end
      A.presign(ctx, items)
    end
  end)

  for _, signer in ipairs(A.signers()) do
    it(("positive control: the clean message signed by %s passes DMARC"):format(signer), function()
      local msg = A.sign(ctx, signer, A.message { "From: Billing <billing@" .. X .. ">" })
      A.assert_clean_pass(A.check(ctx, msg), signer)
    end)

    for _, c in ipairs(attacks) do
      if not c.signers or c.signers[signer] then
        it(("%s (signed by %s): permerror"):format(c[1], signer), function()
          local msg = A.sign(ctx, signer, A.message(c[2]), X, c.headers)
          if c[3] then msg = c[3] .. "\r\n" .. msg end
          A.assert_refused(A.check(ctx, msg), c[4], c[1])
        end)
      end
    end
  end
end)
