-- mailauth: who really sent this message, and may I trust it?
--
-- The public Lua API (see DESIGN.md), assembled here from one file per
-- protocol's Lua side: iprev.lua, spf.lua, dkim.lua, arc.lua, dmarc.lua,
-- authres.lua; resolver.lua (the resolvers), message.lua (message_info
-- and what the message checks share), received.lua (the envelope of
-- stored mail), check.lua (everything at once), report.lua (DMARC
-- aggregate reports, RFC 9990).
-- Every check is a job of the C core that asks DNS questions;
-- mailauth.internal's one dispatcher runs them: with a C resolver the
-- loop runs in C; with a Lua function it runs in Lua, so the function may
-- yield (Rspamd coroutines, HAProxy cosockets, LuaJIT too); a job that
-- asks nothing runs with no resolver at all.

local core = require "mailauth.core"

local M = {
  _VERSION = "mailauth " .. core._VERSION,   -- MAUTH_VERSION of src/mailauth.h
  _LUA_VERSION = core._LUA_VERSION,
  core = core,
  dns = {
    query_wire = core.query_wire,
    parse_wire = core.parse_wire,
  },
  -- Authentication-Results (RFC 8601): parse and format.
  authres = require("mailauth.authres"),
  -- DMARC aggregate reports (RFC 9990): records, stores, reports, reading
  report = require("mailauth.report"),
}

-- The public functions, by the file (mailauth.<file>) that defines them.
-- Those files hold helpers for mailauth.check too, which stay off this
-- table.
local PARTS = {
  resolver = "resolver", message = "message_info", iprev = "iprev ptr",
  spf = "spf spf_received", dkim = "dkim_verify dkim_sign", arc = "arc_verify arc_seal",
  dmarc = "dmarc org_domain",
  -- the envelope of stored mail, from a trusted hop's trace fields
  received = "received",
}
for part, names in pairs(PARTS) do
  local functions = require("mailauth." .. part)
  for name in names:gmatch("%S+") do M[name] = assert(functions[name], name) end
end

--- mailauth.check(message, { ip, helo, sender, resolver, authserv_id, now, ... })
-- Everything at once: see lua/mailauth/check.lua.
function M.check(text, opts)
  -- not a tail call: check.lua's errors count this frame to name the caller
  local report = require("mailauth.check").check(M, text, opts)
  return report
end

return M
