-- mailauth.spf: the Lua side of SPF (src/spf/): mailauth.spf and
-- mailauth.spf_received, which init.lua puts on the public table; SPF's
-- half for mailauth.check (internal.prepare.spf) and its HELO rule there
-- (helo_domain).  Received-SPF and the Authentication-Results properties
-- are written in C (src/authres/authres_format.c).
local core = require "mailauth.core"
local internal = require "mailauth.internal"
local options = require "mailauth.options"

local M = {}

local OPTS = internal.declare {
  spf = { "spf:*", "resolver", "time_budget" }, spf_received = { "spf:receiver" },
}
-- kept in locals: mailauth.spf runs once a message
local argerror, run_checked = internal.argerror, internal.run_checked
local resolver_of, deadline_of = internal.resolver_of, internal.deadline_of

--- mailauth.spf{ ip =, sender =, helo =, resolver =, ... }
--> { result, scope, domain, record, mechanism, explanation, problem, code, lookups,
--    void_lookups, sender, ip, helo, received_spf (written on first read), method = "spf",
--    properties = { { ptype = "smtp", property = "mailfrom"|"helo", value } } }
-- RFC 7208 check_host() for the MAIL FROM identity (scope "mfrom", the
-- default; an empty sender checks postmaster@helo, §2.4) or the HELO
-- identity (scope = "helo", §2.3).  Options:
--   receiver             %{r} in explanations (§7.2), default "unknown"
--   now                  %{t}, seconds since the epoch; default os.time()
--   default_explanation  local-policy text for a fail without usable exp= (§6.2);
--                        macros are expanded; absent: no explanation
--   max_lookups          DNS-querying terms, default 10 (§4.6.4)
--   max_void_lookups     terms whose lookup found nothing, default 2 (§4.6.4)
--   max_mx_names         MX records of one mx term, default 10, more is permerror (§4.6.4)
--   max_ptr_names        PTR names examined by ptr and %{p}, default 10, rest ignored (§4.6.4)
--   time_budget          seconds for the whole check, default 20 (§4.6.4); late
--                        answers become TIMEOUT, hence temperror
-- Records longer than 4096 bytes and macro expansions over 1 MiB are permerror.
-- The core's parameters: the options but those only this layer reads (the
-- core checks their kinds and ranges); the core reads no clock, so %{t}
-- comes from here.  level: where the API caller stands, as error() counts
-- it from here.
local function spf_params(opts, level)
  local params = options.params("spf", opts, OPTS.spf, level + 1)
  if params.now == nil then params.now = os.time() end
  return params
end

-- received_spf: written on first read, by the C writer that a C host's
-- results get it from (mauth_received_spf_format, which the binding has
-- the core leave to it): most callers never read it, and writing it is a
-- fifth of an evaluation.  core.received_reader gives the result the
-- metatable that does it (src/lua/lmailauth.c, l_received_index), with
-- the call's receiver; once read, the table is a plain table.
local received_reader = core.received_reader
local function spf_finish(r, opts)
  return received_reader(r, opts.receiver)
end

-- (core.run_check gives mailauth.check's SPF results the same metatable.)

function internal.prepare.spf(opts, level)
  return { "spf", spf_params(opts, level + 1), nil, "spf" },
         function(r) return spf_finish(r, opts) end
end

-- mailauth.spf runs per message, so its options go to C as they are (the
-- core checks the names and values; internal.run_checked words errors as
-- options.check does): no copy, no loop over them in Lua.
-- core.spf first: the common call (a table with no metatable, whose
-- resolver is a C resolver or a Lua function) does there what the lines
-- below do, in one C call (a C resolver: the result) or with one check
-- left for the Lua loop; nil for any other call, or options it refuses,
-- which the lines below then word.
local core_spf, lua_loop = core.spf, internal.lua_loop
function M.spf(opts)
  local r, deadline = core_spf(opts)
  if deadline then return spf_finish(lua_loop(r, opts.resolver, deadline), opts) end
  if r then return r end
  if type(opts) ~= "table" then argerror("spf", 1, "table", opts) end
  local deadline = deadline_of(opts, "spf", 2)
  local defaults = opts.now == nil and { now = os.time() } or nil
  return spf_finish(run_checked("spf", resolver_of(opts, "spf", 2), deadline, "spf", opts, OPTS.spf,
                               defaults), opts)
end

--- mailauth.spf_received(result, { receiver = "mx.example.org" }) -> "Received-SPF: ..."
-- The header field of RFC 7208 §9.1 for a mailauth.spf result.
function M.spf_received(result, opts)
  if type(result) ~= "table" then argerror("spf_received", 1, "table", result) end
  opts = opts or {}
  if type(opts) ~= "table" then argerror("spf_received", 2, "table or nil", opts) end
  options.check("spf_received", opts, OPTS.spf_received, 2)
  -- the C writer (src/authres/authres_format.c); the identity is the
  -- value of the result's smtp.mailfrom / smtp.helo property
  return core.header("received_spf", result, { receiver = opts.receiver })
end

--- helo_domain(helo) -> true for a HELO name worth an SPF check (mailauth.check's
-- rule): a domain, not an address literal.
function M.helo_domain(helo)
  return helo and helo:find("%.") and not helo:find("^%[") and not helo:find("^[%d.]+$")
end

return M
