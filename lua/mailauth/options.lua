-- The options of mailauth's public functions: each function declares the
-- names it takes, and a name it does not declare is an error, never an
-- option quietly ignored (a misspelt "mail_from" once ran SPF on
-- postmaster@HELO).  What a check kind of the C core takes comes from the
-- core's own table (core.options(kind), src/*/: name, kind, range,
-- aliases); the C validator checks those values, and this file adds what
-- only the Lua layer reads (resolver, time_budget, ...).  One message
-- form, the C validator's, prefixed with the function:
--   mailauth.dmarc: option 'policy_domian' is unknown (did you mean 'policy_domain'?)
--   mailauth.check: option 'now' must be an integer from 0 to 2147483647
local core = require "mailauth.core"

local M = {}

-- Optimal string alignment distance ("domian" is one step from "domain").
local function distance(a, b)
  local la, lb = #a, #b
  local d = {}
  for i = 0, la do d[i] = { [0] = i } end
  for j = 0, lb do d[0][j] = j end
  for i = 1, la do
    for j = 1, lb do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      local best = math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if i > 1 and j > 1 and a:byte(i) == b:byte(j - 1) and a:byte(i - 1) == b:byte(j) then
        best = math.min(best, d[i - 2][j - 2] + 1)
      end
      d[i][j] = best
    end
  end
  return d[la][lb]
end

-- The declared name an unknown one most likely meant: an alias first,
-- then the nearest name within a third of its length (at least 2).
local function suggest(decls, name)
  for _, d in ipairs(decls) do
    for alias in (d.aliases or ""):gmatch("%S+") do
      if alias == name then return d.name end
    end
  end
  local best, bestd = nil, math.max(2, math.floor(#name / 3)) + 1
  for _, d in ipairs(decls) do
    local n = distance(name, d.name)
    if n < bestd then best, bestd = d.name, n end
  end
  return best
end

local function fail(fname, text, level)
  error(("mailauth.%s: %s"):format(fname, text), level + 1)
end

local function is_integer(v)
  return type(v) == "number" and v == math.floor(v) and v > -2^63 and v < 2^63
end

-- Does v fit decl?  (The C validator's rules, for what Lua checks itself.)
local FITS = {
  string = function(v, d)
    return type(v) == "string" and (d.words == nil or
      (not v:find(" ", 1, true) and (" " .. d.words .. " "):find(" " .. v .. " ", 1, true) ~= nil))
  end,
  integer = function(v, d) return is_integer(v) and v >= d.min and v <= d.max end,
  boolean = function(v) return type(v) == "boolean" end,
  list = function(v) return type(v) == "table" end,
  map = function(v) return type(v) == "table" end,
  number = function(v, d) return type(v) == "number" and v == v and v > d.min and v <= d.max end,
  any = function() return true end,
}

-- FITS' rules check() tests inline, by word: the Lua type the value must
-- have, "integer" (FITS.integer), or true (any value).
local INLINE = { string = "string", boolean = "boolean", list = "table", map = "table",
                 integer = "integer", any = true }

-- Options only the Lua layer reads, in the core's shape.
M.LUA = {
  resolver = { name = "resolver", kind = "any",
               rule = "mailauth.resolver(...), a function(name, qtype) or an object with :query",
               aliases = "dns resolv nameserver" },
  time_budget = { name = "time_budget", kind = "number", min = 0, max = 3600,
                  rule = "a number of seconds in (0, 3600]", aliases = "timeout budget deadline" },
  -- mailauth.check's name for itself in Authentication-Results
  authserv_id = { name = "authserv_id", kind = "string", rule = "a string",
                  aliases = "authserv server_id hostname" },
  -- mailauth.resolver's (core.resolver and core.zone_resolver check the values)
  nameservers = { name = "nameservers", kind = "any", aliases = "servers ns nameserver" },
  timeout = { name = "timeout", kind = "any" },
  retries = { name = "retries", kind = "any", aliases = "tries" },
  cache = { name = "cache", kind = "any", aliases = "cache_size" },
  cache_bytes = { name = "cache_bytes", kind = "any" },
  resolv_conf = { name = "resolv_conf", kind = "any", aliases = "resolvconf resolv" },
  zones = { name = "zones", kind = "any", aliases = "zone" },
  zonefiles = { name = "zonefiles", kind = "any", aliases = "zonefile zone_files" },
  -- mailauth.received's: how many Received fields your own hosts wrote
  trusted_hops = { name = "trusted_hops", kind = "integer", min = 1, max = 100,
                   rule = "an integer from 1 to 100", aliases = "hops trusted trusted_hosts" },
}

-- The declaration of a core kind's options, by name.
local kinds = {}
local function kind_decls(kind)
  local by = kinds[kind]
  if not by then
    by = {}
    for _, d in ipairs(core.options(kind)) do by[d.name] = d end
    kinds[kind] = by
  end
  return by
end

--- declare(entries) -> decl
-- entries: "kind:*" (every option of a core kind), "kind:name" (one),
-- "-name" (drop one: an argument given in its own place, as a message),
-- or a Lua option of M.LUA by name.  A decl made with check_all = true
-- checks every value itself (mailauth.check, which hands its options on
-- to several checks); otherwise only the Lua options' values, the core
-- checking its own.
function M.declare(entries, check_all)
  -- fits: by name, the rule check() applies (FITS' function), false for
  -- a value the core checks; filled once all entries are in
  local decl = { list = {}, by = {}, check_all = check_all, fits = {} }
  local function add(d)
    if not decl.by[d.name] then
      decl.list[#decl.list + 1] = d
      decl.by[d.name] = d
    end
  end
  for _, e in ipairs(entries) do
    local kind, name = e:match("^([%w_]+):([%w_*]+)$")
    if kind and name == "*" then
      for _, d in ipairs(core.options(kind)) do add(d) end
    elseif kind then
      add(assert(kind_decls(kind)[name], e))
    elseif e:sub(1, 1) == "-" then
      local gone = e:sub(2)
      decl.by[gone] = nil
      for i, d in ipairs(decl.list) do
        if d.name == gone then table.remove(decl.list, i) break end
      end
    else
      local d = assert(M.LUA[e], e)
      add(setmetatable({ lua = true }, { __index = d }))
    end
  end
  for name, d in pairs(decl.by) do
    local fit = false
    if check_all or d.lua then
      -- the common rules as words check() tests inline (no call per option)
      fit = INLINE[d.kind] or FITS[d.kind]
      if d.kind == "string" and d.words ~= nil then fit = FITS.string end
    end
    decl.fits[name] = fit
  end
  return decl
end

-- core.options_fit makes the tests of the loop below in C, for options
-- that all pass them (the common call: no Lua loop per message); when it
-- says no, the loop runs and words the error (or passes what needs a
-- fit function).
local options_fit = core.options_fit

--- check(fname, opts, decl, level)
-- Raises for a name decl does not have (with a suggestion) or, for the
-- values this layer checks, one that breaks its rule.  level: as error()
-- counts it from the caller of check.
local floor = math.floor
function M.check(fname, opts, decl, level)
  local fits = decl.fits
  if options_fit(opts, fits, decl.by) then return end
  for k, v in pairs(opts) do
    local fit, ok = fits[k], true
    if fit == nil then
      local name = tostring(k)
      local near = type(k) == "string" and suggest(decl.list, name)
      fail(fname, ("option '%s' is unknown%s"):format(name:sub(1, 64),
           near and (" (did you mean '%s'?)"):format(near) or ""), level + 1)
    elseif fit == "integer" then -- FITS.integer
      local d = decl.by[k]
      ok = type(v) == "number" and v == floor(v) and v > -2^63 and v < 2^63 and
           v >= d.min and v <= d.max
    elseif type(fit) == "string" then
      ok = type(v) == fit
    elseif fit and fit ~= true then
      ok = fit(v, decl.by[k])
    end
    if not ok then
      fail(fname, ("option '%s' must be %s"):format(k, decl.by[k].rule), level + 1)
    end
  end
end

--- params(fname, opts, decl, level) -> the options for the core
-- check() and a copy of opts without the Lua options, in one pass (the
-- SPF path runs this per message).
function M.params(fname, opts, decl, level)
  local by, all, out = decl.by, decl.check_all, {}
  for k, v in pairs(opts) do
    local d = by[k]
    if d == nil or ((all or d.lua) and not FITS[d.kind](v, d)) then
      M.check(fname, { [k] = v }, decl, level + 1)
    end
    if not d.lua then out[k] = v end
  end
  return out
end

-- For what a function reads beside the core (time_budget): the same words.
function M.bad(fname, name, level)
  fail(fname, ("option '%s' must be %s"):format(name, M.LUA[name].rule), level + 1)
end

M.distance = distance

-- LuaJIT: check() stays interpreted.  Compiled, its pairs() loop hung
-- (100% CPU, never returning) in about one run in three of
-- spec/reentrancy_spec.lua under Debian's LuaJIT 2.1.0-beta3, where __gc
-- finalizers call mailauth.check, and so check(), while an outer check()
-- is inside that loop; with this line 0 of 10 runs hung, as with the JIT
-- off for the whole process (12 of 12).  It runs once per call: the cost
-- is small.
if jit then jit.off(M.check) end
return M
