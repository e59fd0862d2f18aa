-- Attack class: limits that cut silently.  Composition Kills (Chen, Paxson,
-- Jiang, USENIX Security 2020) section 5's parsing inconsistencies, through
-- size: one reader stops where another goes on.  A From hidden past the
-- message reader's 1000-field or 1 MiB header limit (issue 10 item 3), an
-- address cut at 998 bytes, a 65th mailbox dropped: each left DMARC
-- evaluating only the part that was read, the attacker's, which passes;
-- the victim's address was in the part a client may show.
--
-- Defended: src/core/author.c never evaluates a partial author: header limits
-- reached, a From line or an address over 998 bytes (RFC 5322 §2.1.1),
-- more than 64 mailboxes each make the author unusable, DMARC permerror
-- naming the limit.  The messages are signed (dkimpy, and mailauth's
-- signer); for the header limits the padding and the hidden From are
-- inserted after the signed fields, and since DKIM itself refuses a header
-- past its limits, the attacker authenticates there by SPF (an aligned
-- MAIL FROM from the address its SPF record lists).
-- Mutation check (done by hand, then restored), per signer:
--  * the two header-limit fail()s in author_read disabled: the 1000-field
--    and 1 MiB cases got no author_problem (4 failures): DMARC ran on the
--    attacker's From alone, the hidden one never read; with only the
--    field-limit one disabled, the 1000-field case was still refused but
--    named the wrong limit (2 failures);
--  * the mailbox-count fail() in emit() replaced by a silent "return" (the
--    old reader's cut): the 65-mailbox case got no author_problem (2);
--  * the line-length check in check_bytes() disabled: the 1100-byte line
--    was refused only as "two angle-addrs" (2 failures: a From that hid
--    its first address in the cut part would have been read).
local A = require "attack"

local V, X = A.VICTIM, A.ATTACKER
local BODY = "\r\nPay.\r\n"

-- The signed message with extra header text put after the signed fields.
local function insert(signed, extra)
  local head, body = signed:match("^(.-\r\n)(\r\n.*)$")
  return head .. extra .. body
end

describe("attack: limits that cut silently", function()
  local ctx
  local base = "From: <billing@" .. X .. ">\r\nTo: <user@recipient.example>\r\n" ..
               "Subject: Invoice\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n" .. BODY
  local many = {}
  for i = 1, 64 do many[i] = "<billing" .. i .. "@" .. X .. ">" end
  many[65] = "<ceo@" .. V .. ">"
  local padding = {}
  for i = 1, 1000 do padding[i] = "X-Pad-" .. i .. ": " .. i .. "\r\n" end
  local big = { "X-Big: x" }
  for i = 1, 1200 do big[#big + 1] = (" " .. ("y"):rep(900)) end
  local attacks = {
    -- label, message before signing, text inserted after the signed fields, problem
    { "a second From past the 1000-field limit", base,
      table.concat(padding) .. "From: <ceo@" .. V .. ">\r\n", "1000%-field limit", spf = true },
    { "a second From past the 1 MiB header limit", base,
      table.concat(big, "\r\n") .. "\r\nFrom: <ceo@" .. V .. ">\r\n", "header limit", spf = true },
    { "65 mailboxes, the victim's the 65th",
      "From: " .. table.concat(many, ",\r\n ") .. base:match("^From: [^\r]*(.*)$"), nil,
      "more than 64" },
    { "a From line of 1100 bytes (cut at 998 by some readers)",
      "From: <ceo@" .. V .. "> (" .. ("z"):rep(1060) .. ") <billing@" .. X .. ">" ..
      base:match("^From: [^\r]*(.*)$"), nil, "longer than 998" },
    { "an address of 1200 bytes over folded lines",
      "From: <" .. ("a."):rep(520):gsub("(" .. ("a."):rep(50) .. ")", "%1\r\n ") ..
      "ceo@" .. X .. ">" .. base:match("^From: [^\r]*(.*)$"), nil, "address longer than 998" },
  }

  A.presigned_context(base, attacks, function(c) return c[2] end,
                      function(c) ctx = c end)

  for _, signer in ipairs(A.signers()) do
    it(("positive control: the clean message signed by %s passes DMARC"):format(signer), function()
      A.assert_clean_pass(A.check(ctx, A.sign(ctx, signer, base)), signer)
    end)
    for _, c in ipairs(attacks) do
      it(("%s (signed by %s): permerror"):format(c[1], signer), function()
        local signed = A.sign(ctx, signer, c[2])
        if c[3] then signed = insert(signed, c[3]) end
        A.assert_refused(A.check(ctx, signed, c.spf), c[4], c[1], c.spf)
      end)
    end
  end
end)
