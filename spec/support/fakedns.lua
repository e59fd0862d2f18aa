-- fakedns.lua: the one fake DNS of the specs.  A Lua-function resolver
-- (DESIGN.md, "The job protocol") answering from a zone table, with fault
-- markers per name and type and a log of what was asked.
--
--   local fakedns = require "fakedns"            -- spec/support is in .busted's lpath
--   local dns = fakedns.new(zone, options)
--   mailauth.spf{ ..., resolver = dns.resolve }  -- function(name, qtype, timeout)
--   dns.log                   --> { "TXT example.com", "A mx.example.com", ... } in order,
--                                 each name as it was asked (case kept)
--   dns:count(qtype, name)    --> how often that was asked (nil: any type / any name;
--                                 names compared case-insensitively)
--   dns.timeouts              --> the timeout (seconds) each question was given, false if none
--   dns.names                 --> { "example.com", "mx.example.com", ... } (the same, names only)
--   dns:reset()               -- empties the log
--
-- zone: name (any case, a final dot ignored) -> node, read at each question
-- (a spec may change it between checks), where a node is
--   { TXT = { "text", { "several", "strings" } }, A = { "192.0.2.1" }, AAAA = {...},
--     MX = { { 10, "mx.example" } or { preference = 10, exchange = "mx.example" } },
--     PTR = { "host.example" }, CNAME = "target.example" (or { "target.example" }),
--     <any other type> = { record, ... },
--     ttl = n, secure = true,
--     fault = <fault>                              -- every type at this name
--          or { [qtype] = <fault>, unlisted = <fault> } }
--                                                   -- one type; types the node does not list
--   or a node that is just a <fault> ("SERVFAIL" means { fault = "SERVFAIL" }).
-- A name not in the zone is NXDOMAIN; a listed name without the asked type
-- is NODATA (NOERROR, no records; an empty list says the same).  A CNAME is
-- followed for any other type, as a recursive resolver does: `cnames` is the
-- chain, the records are the last target's; a loop, or a chain longer than
-- options.max_cnames (default 8), is SERVFAIL with the chain so far (as the
-- zone resolver of src/dns/zone.c answers).
--
-- <fault>:
--   an rcode name ("SERVFAIL", "TIMEOUT", "NXDOMAIN", "REFUSED", ...): that
--     rcode, no records;
--   "MALFORMED": an answer the binding refuses (records = { 7 }): a Lua error;
--   "NOANSWER": the resolver returns nothing (the binding: a server failure);
--   a table { rcode = ..., delay = seconds, ignore_timeout = true, yield = true,
--             answer = <value> }:
--     delay: busy-waits that long first, at most the timeout the loop gives
--       (all of it with ignore_timeout: a resolver the loop cannot cut short);
--     yield: coroutine.yield(name, qtype) first (a table resumed with is the
--       answer, so an outer loop may answer); rcode: as above, else the
--       normal answer; answer: returned as it is (any malformed shape).
--   (a node's fault table with none of these four keys is the per-type map)
--
-- options:
--   over = a resolver (mailauth.resolver object or function) answering what
--     the zone table does not: names it lacks and types a node does not list
--     (so faults and logs can sit on top of zone files; a CNAME met there is
--     followed there, so put a fault at the name asked);
--   zones / zonefiles = { ... }: over = mailauth.resolver{ zones = ... } (or
--     zonefiles) for master-file text;
--   patterns = { [lua pattern] = <fault> }: the fault of every lowercased name
--     matching it (checked before the zone);
--   fault = <fault>: the fault of every question (a resolver that always fails);
--   yield = true: every question yields first, as a { yield = true } fault;
--   log = a table the log entries are appended to (default: a new one);
--   names = the same for dns.names;
--   ttl (300), negative_ttl (60), max_cnames (8).
-- Every answer is { rcode, records, ttl, secure, cnames }; records are fresh
-- copies, MX records in { preference, exchange } form.
local M = {}

local function lower(name)
  return (name:lower():gsub("%.$", ""))
end

local function copy_records(qtype, list)
  local out = {}
  for i, v in ipairs(list) do
    if qtype == "MX" and type(v) == "table" and v.exchange == nil then
      out[i] = { preference = v[1], exchange = v[2] }
    elseif type(v) == "table" then
      local c = {}
      for k, x in pairs(v) do c[k] = x end
      out[i] = c
    else
      out[i] = v
    end
  end
  return out
end

local function busy_wait(seconds)
  local ok, core = pcall(require, "mailauth.core")
  local clock = ok and core.monotonic or os.clock
  local t0 = clock()
  while clock() - t0 < seconds do end
end

-- The fault a node gives for qtype, or nil.
local function node_fault(node, qtype, listed)
  if type(node) ~= "table" then return node end
  local f = node.fault
  if type(f) ~= "table" or f.rcode or f.delay or f.yield or f.answer ~= nil then return f end
  if f[qtype] ~= nil then return f[qtype] end
  if not listed then return f.unlisted end
  return nil
end

function M.new(zone, options)
  options = options or {}
  local dns = { log = options.log or {}, names = options.names or {}, timeouts = {} }
  -- The zone is read live, so a spec may change it between checks; names
  -- not written lower-case without a final dot are indexed here, once.
  zone = zone or {}
  local aliases = {}
  for name, node in pairs(zone) do
    if type(name) == "string" and lower(name) ~= name then aliases[lower(name)] = node end
  end
  local over = options.over
  if options.zones or options.zonefiles then
    over = assert(require("mailauth").resolver {
      zones = options.zones, zonefiles = options.zonefiles })
  end
  local ttl, negative_ttl = options.ttl or 300, options.negative_ttl or 60
  local max_cnames = options.max_cnames or 8

  local function answer(rcode, records, node_ttl, secure, cnames)
    return { rcode = rcode, records = records or {}, ttl = node_ttl,
             secure = secure == true, cnames = cnames or {} }
  end

  local function ask_over(name, qtype, timeout, cnames)
    local a
    if type(over) == "function" then a = over(name, qtype, timeout)
    else a = over:query(name, qtype) end
    if #cnames == 0 or type(a) ~= "table" then return a end
    local chain = {}
    for i, c in ipairs(cnames) do chain[i] = c end
    for _, c in ipairs(a.cnames or {}) do chain[#chain + 1] = c end
    a.cnames = chain
    return a
  end

  -- The answer for (name, qtype), or nil and the fault met on the way
  -- (with the chain so far); no_faults: the answer as if there were none.
  local function lookup(name, qtype, timeout, no_faults)
    local cnames, seen = {}, { [name] = true }
    while true do
      if options.fault ~= nil and not no_faults then return nil, options.fault, cnames end
      for pattern, f in pairs(no_faults and {} or options.patterns or {}) do
        if name:find(pattern) then return nil, f, cnames end
      end
      local node = zone[name]
      if node == nil then node = aliases[name] end
      if node == nil then
        if over then return ask_over(name, qtype, timeout, cnames) end
        return answer("NXDOMAIN", {}, negative_ttl, false, cnames)
      end
      local listed = type(node) == "table" and node[qtype] ~= nil
      local f = node_fault(node, qtype, listed or (type(node) == "table" and node.CNAME ~= nil))
      if f ~= nil and not no_faults then return nil, f, cnames end
      if listed then
        local list = node[qtype]
        if type(list) ~= "table" then list = { list } end
        return answer("NOERROR", copy_records(qtype, list), node.ttl or ttl, node.secure, cnames)
      end
      local target = node.CNAME
      if type(target) == "table" then target = target[1] end
      if target == nil or qtype == "CNAME" then
        if over then return ask_over(name, qtype, timeout, cnames) end
        return answer("NOERROR", {}, negative_ttl, node.secure, cnames)
      end
      target = lower(target)
      if seen[target] or #cnames >= max_cnames then
        return answer("SERVFAIL", {}, 0, false, cnames)
      end
      seen[target] = true
      cnames[#cnames + 1] = target
      name = target
    end
  end

  local function apply(f, name, qtype, timeout, cnames)
    if f == "MALFORMED" then return { rcode = "NOERROR", records = { 7 } } end
    if f == "NOANSWER" then return nil end
    if type(f) == "string" then return answer(f, {}, 0, false, cnames) end
    if f.delay then
      busy_wait(f.ignore_timeout and f.delay or math.min(f.delay, timeout or f.delay))
    end
    if f.yield then
      local given = coroutine.yield(name, qtype)
      if type(given) == "table" then return given end
    end
    if f.answer ~= nil then return f.answer end
    if f.rcode then return answer(f.rcode, {}, 0, false, cnames) end
    return nil, true
  end

  function dns.resolve(name, qtype, timeout)
    local asked = lower(name)
    dns.log[#dns.log + 1] = qtype .. " " .. name
    dns.names[#dns.names + 1] = name
    dns.timeouts[#dns.timeouts + 1] = timeout or false
    local a, f, cnames = lookup(asked, qtype, timeout)
    if f == nil and options.yield then f = { yield = true } end
    if f == nil then return a end
    local result, normal = apply(f, name, qtype, timeout, cnames)
    if not normal then return result end
    return a or (lookup(asked, qtype, timeout, true))
  end

  function dns.count(_, qtype, name)
    local n = 0
    for _, entry in ipairs(dns.log) do
      local t, q = entry:match("^(%S+) (.*)$")
      if (qtype == nil or t == qtype) and (name == nil or lower(q) == lower(name)) then n = n + 1 end
    end
    return n
  end

  function dns.reset()
    for i = #dns.log, 1, -1 do dns.log[i] = nil end
    for i = #dns.names, 1, -1 do dns.names[i] = nil end
    for i = #dns.timeouts, 1, -1 do dns.timeouts[i] = nil end
  end

  return dns
end

-- fakedns.resolver(zone, options) --> dns.resolve, dns (for a one-liner).
function M.resolver(zone, options)
  local dns = M.new(zone, options)
  return dns.resolve, dns
end

return M
