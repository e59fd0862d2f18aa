-- mailauth inside Rspamd: a resolver that asks through the task's own DNS
-- (rspamd_dns), so checks run without blocking the worker.
--
-- What the host cannot tell: rspamd_dns gives the records of the asked type
-- only, without owner names, so the RFC 2181 §5.4.1 owner check is Rspamd's
-- own (mailauth cannot repeat it here), and the CNAME chain is learned by
-- separate CNAME questions (for DKIM/ARC key names by default; see
-- M.resolver), not read from the same reply as the records.
--
--   local adapter = require "mailauth.rspamd"
--   rspamd_config:register_symbol{ name = "MY_IPREV", flags = "coro", callback = function(task)
--     local r = mailauth.iprev(adapter.client_ip(task), { resolver = adapter.resolver(task) })
--   end }
--
-- The symbol MUST be registered with flags = "coro": Rspamd's synchronous
-- DNS yields the symbol's coroutine, and outside one it crashes the worker.
-- mailauth's C code never calls back into Lua, so the yield is always safe.
local M = {}

local rspamd_dns -- loaded on first use: only Rspamd has it

-- "25.2.0.192.in-addr.arpa" -> "192.0.2.25"; ip6.arpa -> IPv6 text.
-- Rspamd asks PTR questions by address, not by name.
local function reverse_to_ip(name)
  local v4 = { name:lower():match("^(%d+)%.(%d+)%.(%d+)%.(%d+)%.in%-addr%.arpa%.?$") }
  if #v4 == 4 then return ("%s.%s.%s.%s"):format(v4[4], v4[3], v4[2], v4[1]) end
  local nibbles = name:lower():match("^(.-)%.ip6%.arpa%.?$")
  if nibbles then
    local hex = {}
    for n in nibbles:gmatch("[^.]+") do
      if not n:match("^%x$") then return nil end
      table.insert(hex, 1, n)
    end
    if #hex ~= 32 then return nil end
    local groups = {}
    for i = 1, 32, 4 do groups[#groups + 1] = table.concat(hex, "", i, i + 3) end
    return table.concat(groups, ":")
  end
  return nil
end
M._reverse_to_ip = reverse_to_ip

-- rspamd_dns error strings -> DNS outcomes.
local ERRORS = {
  ["no records with this name"] = "NXDOMAIN",
  ["requested record is not found"] = "NODATA",
  ["query refused"] = "REFUSED",
  ["query timed out"] = "TIMEOUT",
  ["timeout"] = "TIMEOUT",
  ["server fail"] = "SERVFAIL",
}

local function answer_from(qtype, ok, res)
  if not ok then
    local code = ERRORS[tostring(res)] or "SERVFAIL"
    if code == "NODATA" then return { rcode = "NOERROR", records = {} } end
    return { rcode = code, records = {} }
  end
  local records = {}
  for i, rec in ipairs(res or {}) do
    if qtype == "MX" then
      records[i] = { preference = rec.priority, exchange = tostring(rec.name):gsub("%.$", "") }
    elseif qtype == "PTR" or qtype == "CNAME" or qtype == "NS" then
      records[i] = (tostring(rec):gsub("%.$", ""))
    else
      records[i] = tostring(rec) -- TXT arrives joined; A/AAAA may be ip objects
    end
  end
  -- rspamd_dns does not hand out TTLs; 0 keeps the answer out of any cache.
  return { rcode = "NOERROR", records = records, ttl = 0 }
end

local CHAIN_MAX = 8 -- links, as mailauth's own resolvers follow (RFC 1034 §5.3.3)

local function plain(name) return (tostring(name):lower():gsub("%.$", "")) end

-- The CNAME chain from name, asked link by link.  rspamd_dns hands out the
-- records of the asked type only (no owner names, no CNAME entries), so a
-- TXT reply cannot tell through which aliases it came; a CNAME question
-- per link can.  Returns the chain, and true when it loops or runs past
-- CHAIN_MAX.  A link that cannot be asked ends the chain where it is.
local function chain_of(task, name)
  local chain, seen, at = {}, { [plain(name)] = true }, name
  while true do
    local ok, res = rspamd_dns.request { task = task, type = "cname", name = at, forced = true }
    if not ok or type(res) ~= "table" or res[1] == nil then return chain, false end
    local target = plain(res[1])
    if seen[target] or #chain == CHAIN_MAX then return chain, true end
    seen[target] = true
    chain[#chain + 1] = target
    at = target
  end
end

-- Which questions get their chain asked (opts.cnames): "keys" (default:
-- TXT under _domainkey, where the chain names who holds a DKIM or ARC key,
-- for one extra query per key), true (every question but PTR and CNAME),
-- false (none: answers carry cnames = {}).
local function wants_chain(mode, name, qtype)
  if mode == false or qtype == "PTR" or qtype == "CNAME" then return false end
  if mode == true then return true end
  return qtype == "TXT" and name:lower():find("._domainkey.", 1, true) ~= nil
end

--- A mailauth resolver function bound to a task.
-- opts.cnames: "keys" (default), true or false; see wants_chain above.
function M.resolver(task, opts)
  if rspamd_dns == nil then rspamd_dns = require "rspamd_dns" end
  local mode = "keys"
  if type(opts) == "table" and opts.cnames ~= nil then mode = opts.cnames end
  return function(name, qtype)
    local ask = name
    if qtype == "PTR" then
      ask = reverse_to_ip(name)
      if not ask then return { rcode = "NXDOMAIN", records = {} } end
    end
    local chain, broken = {}, false
    if wants_chain(mode, name, qtype) then chain, broken = chain_of(task, name) end
    -- RFC 1034 §3.6.2: a loop is an error, as mailauth's own resolvers say.
    if broken then return { rcode = "SERVFAIL", records = {}, cnames = chain } end
    local ok, res = rspamd_dns.request { task = task, type = qtype:lower(), name = ask, forced = true }
    local answer = answer_from(qtype, ok, res)
    answer.cnames = chain
    return answer
  end
end

--- The connecting client's address as text, or nil.
function M.client_ip(task)
  local ip = task:get_from_ip()
  if ip and ip:is_valid() then return ip:to_string() end
  return nil
end

return M
