-- Attack class: line ends that readers split differently.  Composition
-- Kills (Chen, Paxson, Jiang, USENIX Security 2020) section 5: header
-- parsing inconsistencies between the server that authenticates and the
-- client that displays; here a bare CR (an old Mac line end, taken as a
-- line end by some readers) or a bare LF among CRLF lines, each hiding a
-- From of the victim that one reader sees and another does not.  Signed by
-- the attacker's domain, which publishes DMARC, so a reader that sees only
-- the attacker's From gives DMARC "pass".
--
-- One rule everywhere (src/core/message.h): the message reader, the DKIM
-- canonicaliser and the From reader all end lines at CRLF or a bare LF
-- and keep a bare CR as data; a header section with a bare CR, or with a
-- bare LF among CRLF line ends, is flagged (message_info's problem) and
-- makes the author unusable: DMARC permerror naming it.  DKIM still
-- verifies what the signer hashed (asserted below).
-- Mutation check (done by hand, then restored): with flag_line_ends() in
-- message.c not setting line_problem, every case failed, per signer: the
-- CR-in-From case was refused for its "control byte 0x0d" instead; the CR
-- in Subject and both bare-LF cases got no author_problem at all and
-- DMARC "pass" for attacker.example (the LF-in-header case gave "2 From
-- fields", not naming the LF).
local A = require "attack"
local mailauth = require "mailauth"

local V, X = A.VICTIM, A.ATTACKER
local TAIL = "\r\nTo: <user@recipient.example>\r\nSubject: Invoice\r\n" ..
             "Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n"

describe("attack: bare CR and bare LF in the header section", function()
  local ctx
  local attacks = {
    { "a bare CR inside the From field, then the victim's From",
      "From: <billing@" .. X .. ">\rFrom: <ceo@" .. V .. ">" .. TAIL .. "\r\nPay.\r\n", "bare CR" },
    { "a bare CR in the Subject, then the victim's From",
      "From: <billing@" .. X .. ">\r\nX-Note: hi\rFrom: <ceo@" .. V .. ">" .. TAIL ..
      "\r\nPay.\r\n", "bare CR" },
    { "a bare LF among CRLF lines starting a From of the victim",
      "From: <billing@" .. X .. ">\r\nX-Note: hi\nFrom: <ceo@" .. V .. ">" .. TAIL ..
      "\r\nPay.\r\n", "bare LF" },
    { "a bare LF as the empty line, a From of the victim after it",
      "From: <billing@" .. X .. ">" .. TAIL .. "\nFrom: <ceo@" .. V .. ">\r\n\r\nPay.\r\n",
      "bare LF" },
  }
  local clean = A.message { "From: Billing <billing@" .. X .. ">" }

  A.presigned_context(clean, attacks, function(c) return c[2] end,
                      function(c) ctx = c end)

  it("keeps LF-only messages usable: one consistent line end is no ambiguity", function()
    local info = mailauth.message_info("From: <a@" .. X .. ">\nSubject: s\n\nbody\n")
    assert.is_nil(info.author_problem)
    assert.is_nil(info.problem)
    assert.same({ X }, info.from_domains)
  end)

  for _, signer in ipairs(A.signers()) do
    it(("positive control: the clean message signed by %s passes DMARC"):format(signer), function()
      A.assert_clean_pass(A.check(ctx, A.sign(ctx, signer, clean)), signer)
    end)
    for _, c in ipairs(attacks) do
      it(("%s (signed by %s): permerror, flagged"):format(c[1], signer), function()
        local signed = A.sign(ctx, signer, c[2])
        local report = A.check(ctx, signed)
        A.assert_refused(report, c[3], c[1])
        assert.matches(c[3], mailauth.message_info(signed).problem)
      end)
    end
  end
end)
