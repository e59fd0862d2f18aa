-- mailauth.arc: the Lua side of ARC (src/arc/): mailauth.arc_verify and
-- mailauth.arc_seal, which init.lua puts on the public table, and the
-- verifier's half for mailauth.check (internal.prepare.arc_verify).  Both
-- are made by lua/mailauth/message.lua from what is ARC's own.
local message = require "mailauth.message"

local M = {}

--- mailauth.arc_verify(message, opts) -> { result =, instances =, chain =, oldest_pass =, problem = }
-- RFC 8617 §5.2.  result: "none" (no ARC field), "pass" or "fail" (problem
-- says why).  chain: one entry per ARC set, oldest first: { instance,
-- domain, selector (of the ARC-Seal), cv, seal_result, ams_result,
-- ams_domain, ams_selector, authentication_results (the AAR value, whole;
-- absent with aar_problem when over 65536 bytes), seal_problem, ams_problem,
-- ams_headers (h= names, lower-case), ams_unsigned_headers ("from, subject":
-- signed names the message holds more often than h= covers; absent when
-- none), ams_body_length and ams_unsigned_body_bytes (with l=),
-- ams_timestamp (t=) }.  oldest_pass (with pass): 0 when every AMS
-- validates, else the oldest instance from which they all do (§5.2 step 5).
-- opts: resolver, now (default os.time()), min_key_bits (default 1024).
M.arc_verify = message.verifier("arc_verify", function(text, opts)
  return { message = text, now = opts.now or os.time(), min_key_bits = opts.min_key_bits }
end, function(r) return r end)

--- mailauth.arc_seal(message, opts) -> "ARC-Seal: ...\r\nARC-Message-Signature: ...\r\nARC-Authentication-Results: ...", fields
--                                     | nil, reason, code
-- RFC 8617 §5.1.  opts: domain, selector, key (PEM), algorithm ("rsa-sha256"
-- default, or "ed25519-sha256"), authserv_id, authentication_results (the
-- results this hop found, e.g. "spf=pass ...; dkim=pass ...; arc=pass", or a
-- whole Authentication-Results value or field), cv ("none"|"pass"|"fail";
-- default: the arc= result in authentication_results, else none), headers
-- (names the AMS signs; default those of RFC 6376 5.4.1 present, plus
-- DKIM-Signature), now (default os.time()).  The text has no final CRLF:
-- prepend it as  text .. "\r\n" .. message.  fields: { seal,
-- message_signature, authentication_results, instance, cv }.
-- No set is added to a chain whose newest seal says cv=fail (nil, reason,
-- "arc_chain_failed"); code is the problem's word of doc/codes.md.
M.arc_seal = message.signer("arc_seal", function(text, opts)
  return { message = text, domain = opts.domain, selector = opts.selector, key = opts.key,
           algorithm = opts.algorithm, authserv_id = opts.authserv_id,
           authentication_results = opts.authentication_results or "", cv = opts.cv,
           headers = opts.headers, now = opts.now or os.time() }
end, function(r)
  if not r.seal then return nil, r.problem, r.code end
  return r.seal .. "\r\n" .. r.message_signature .. "\r\n" .. r.authentication_results, r
end)

return M
