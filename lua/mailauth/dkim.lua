-- mailauth.dkim: the Lua side of DKIM (src/dkim/): mailauth.dkim_verify
-- and mailauth.dkim_sign, which init.lua puts on the public table, and
-- the verifier's half for mailauth.check (internal.prepare.dkim_verify).
-- Both are made by lua/mailauth/message.lua from what is DKIM's own.
local message = require "mailauth.message"

local M = {}

--- mailauth.dkim_verify(message, opts) -> { signature result, ... }[, problem]
-- RFC 6376 (+ RFC 8463 Ed25519, RFC 8301).  One entry per DKIM-Signature,
-- in header order; {} when there is none.  opts: resolver, now (default
-- os.time()), allow_sha1 (default false: rsa-sha1 gives "policy"),
-- min_key_bits (default 1024), legacy_versions (default false: a missing
-- v= or the draft v=0.5 is a permerror), recipients (the envelope's RCPT TO
-- addresses, for each result's recipients_in_to_cc).  Each result carries
-- replay evidence (src/dkim/dkim_evidence.c): fingerprint, age, expired,
-- oversigned, body_bytes/body_covered with l=.  A second value reports a
-- message that hit the reader's limits.
M.dkim_verify = message.verifier("dkim_verify", function(text, opts)
  return { message = text, now = opts.now or os.time(), allow_sha1 = opts.allow_sha1,
           min_key_bits = opts.min_key_bits, legacy_versions = opts.legacy_versions,
           recipients = opts.recipients }
end, function(r) return r.signatures, r.problem end)

--- mailauth.dkim_sign(message, opts) -> "DKIM-Signature: ..." | nil, reason, code
-- opts: domain, selector, key (PEM), algorithm ("rsa-sha256" default or
-- "ed25519-sha256"), canonicalization ("relaxed/relaxed" default),
-- headers (names to sign; default: those of RFC 6376 5.4.1 present, From
-- once more than present), expire (seconds; adds x=), identity (i=),
-- now (default os.time()).  The text is folded with CRLF TAB and has no
-- final CRLF: prepend it as  header .. "\r\n" .. message.
M.dkim_sign = message.signer("dkim_sign", function(text, opts)
  return { message = text, domain = opts.domain, selector = opts.selector, key = opts.key,
           algorithm = opts.algorithm, canonicalization = opts.canonicalization,
           headers = opts.headers, expire = opts.expire, identity = opts.identity,
           now = opts.now or os.time() }
end, function(r)
  if r.header then return r.header end
  return nil, r.problem, r.code -- code: the problem's word (doc/codes.md)
end)

return M
