-- mailauth.resolver: the resolvers every check takes (the function is
-- mailauth.resolver; init.lua puts it on the public table).  The C
-- drivers are src/dns/ (resolver.c: ldns over the network, zone.c:
-- offline answers from master files); this file picks one from the
-- options and reads zone files.
local core = require "mailauth.core"
local internal = require "mailauth.internal"
local options = require "mailauth.options"

local M = {}

local OPTS = internal.declare {
  resolver = { "nameservers", "timeout", "retries", "cache", "cache_bytes", "resolv_conf",
               "zones", "zonefiles" },
}

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("*a")
  f:close()
  return text
end

-- Master-file text of opts.zones and opts.zonefiles, in that order.
local function zone_texts(opts)
  local texts = {}
  for i, text in ipairs(opts.zones or {}) do
    if type(text) ~= "string" then
      error(("mailauth.resolver: zones[%d] must be zone-file text"):format(i), 3)
    end
    texts[#texts + 1] = text
  end
  for i, path in ipairs(opts.zonefiles or {}) do
    if type(path) ~= "string" then
      error(("mailauth.resolver: zonefiles[%d] must be a path"):format(i), 3)
    end
    local text, err = read_file(path)
    if not text then return nil, err end
    texts[#texts + 1] = text
  end
  return texts
end

--- mailauth.resolver([opts]) -> resolver | nil, reason
-- nil or {}: the system resolver (/etc/resolv.conf); { nameservers = {...},
-- timeout =, retries =, cache =, cache_bytes = }: ldns over the network
-- (cache: answers kept, default 10000; cache_bytes: the bytes they may
-- hold, default 16 MiB, an answer over 1/16 of it not kept; r:stats()
-- reports cache_entries and cache_bytes); { zones = {text,...} }
-- or { zonefiles = {path,...} }: offline answers from master files.
-- Instead of one of these, every check also takes a Lua function
-- (name, qtype, timeout) -> answer (timeout: seconds left of the call's
-- time_budget, a hint the function should honour; it may yield).
function M.resolver(opts)
  opts = opts or {}
  if type(opts) ~= "table" then internal.argerror("resolver", 1, "table or nil", opts) end
  options.check("resolver", opts, OPTS.resolver, 2)
  if opts.zones ~= nil or opts.zonefiles ~= nil then
    local texts, err = zone_texts(opts)
    if not texts then return nil, err end
    return core.zone_resolver(texts)
  end
  local copy = {}
  for k, v in pairs(opts) do copy[k] = v end
  if copy.cache == nil then copy.cache = 10000 end
  return core.resolver(copy)
end

return M
