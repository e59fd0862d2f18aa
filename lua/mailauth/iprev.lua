-- mailauth.iprev: the Lua side of iprev (src/iprev.c): mailauth.iprev and
-- mailauth.ptr, which init.lua puts on the public table, and iprev's half
-- for mailauth.check (internal.prepare.iprev).
local internal = require "mailauth.internal"
local options = require "mailauth.options"

local M = {}

local OPTS = internal.declare {
  iprev = { "iprev:max_names", "resolver", "time_budget" },
  ptr = { "ptr:max_names", "resolver", "time_budget" },
}

local argerror, run = internal.argerror, internal.run
local resolver_of, deadline_of = internal.resolver_of, internal.deadline_of

-- The argument rules of both API functions, which call this (the levels
-- count from them); the options once checked.
local function args(fname, ip, opts)
  if type(ip) ~= "string" then argerror(fname, 1, "IP address string", ip, 2) end
  opts = opts or {}
  if type(opts) ~= "table" then argerror(fname, 2, "table or nil", opts, 2) end
  options.check(fname, opts, OPTS[fname], 3)
  return opts
end

--- mailauth.iprev(ip, opts) -> { result, name, names, ptr, problem, code, ip }
-- RFC 8601 §3: forward-confirmed reverse DNS.
local function iprev_params(ip, opts) return { ip = ip, max_names = opts.max_names } end

function internal.prepare.iprev(ip, opts)
  return { "iprev", iprev_params(ip, opts), nil, "iprev" }, function(r) return r end
end

function M.iprev(ip, opts)
  opts = args("iprev", ip, opts)
  local deadline = deadline_of(opts, "iprev", 2)
  return run("iprev", resolver_of(opts, "iprev", 2), deadline, "iprev", iprev_params(ip, opts))
end

--- mailauth.ptr(ip, opts) -> { name, ... } | nil, "nxdomain" | "temperror: ...", detail
function M.ptr(ip, opts)
  opts = args("ptr", ip, opts)
  local deadline = deadline_of(opts, "ptr", 2)
  local r = run("ptr", resolver_of(opts, "ptr", 2), deadline, "ptr", iprev_params(ip, opts))
  if r.result == "pass" then return r.ptr end
  if r.result == "temperror" then return nil, "temperror: " .. r.problem, r.problem end
  return nil, "nxdomain", r.problem
end

return M
