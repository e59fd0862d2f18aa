-- mailauth.report's Redis store: for several MX hosts, whose records
-- aggregate into one report.  The client is a small RESP2 one over
-- LuaSocket (Debian lua-socket, on every Lua ABI): Debian's lua-redis
-- (redis-lua, last changed 2014) installs no Lua 5.4 module and needs
-- LuaSocket anyway.  A host with its own client (Rspamd's rspamd_redis,
-- a pool) passes { call = function(...) end } or
-- { pipeline = function(cmds) end } as opts.client.  add is one EVAL for
-- every client, so a client may send each command as its own request in
-- any order (mailauth.rspamd's report_client: pooled connections, replies
-- not awaited; such a client is for recording only, collect needs the
-- replies).
--
-- Layout, per policy domain and hour (a report period is whole hours):
--   PREFIX:h:DOMAIN:HOUR   hash: record bytes -> messages (HINCRBY)
--   PREFIX:m:DOMAIN        the newest policy_published and rua
--   PREFIX:d               sorted set: domains, by their newest hour
-- Each key expires after the retention (EXPIRE): nothing to sweep; with
-- none (retention = false) the keys are kept.
local codec = require "mailauth.report.codec"

local M = {}
local Store = {}
Store.__index = Store

local HOUR = 3600

-- ---- RESP2 over one LuaSocket connection ----
local function command(args)
  local out = { "*" .. #args .. "\r\n" }
  for _, a in ipairs(args) do
    a = tostring(a)
    out[#out + 1] = "$" .. #a .. "\r\n" .. a .. "\r\n"
  end
  return table.concat(out)
end

local MAX_BULK = 64 * 1024 * 1024
local MAX_ITEMS = 1000000

-- One reply: a string, number, list, false for a nil reply; nil, problem
-- for an error reply or a broken connection.
local function reply(sock, depth)
  local line, err = sock:receive("*l")
  if not line then return nil, "redis: " .. tostring(err) end
  local kind, rest = line:sub(1, 1), line:sub(2)
  if kind == "+" then return rest
  elseif kind == "-" then return nil, "redis: " .. rest
  elseif kind == ":" then return tonumber(rest)
  elseif kind == "$" then
    local n = tonumber(rest)
    if not n or n > MAX_BULK then return nil, "redis: bad bulk length" end
    if n < 0 then return false end
    local data
    data, err = sock:receive(n + 2)
    if not data then return nil, "redis: " .. tostring(err) end
    return data:sub(1, n)
  elseif kind == "*" then
    local n = tonumber(rest)
    if not n or n > MAX_ITEMS or depth > 4 then return nil, "redis: bad array length" end
    if n < 0 then return false end
    local list = {}
    for i = 1, n do
      local v, e = reply(sock, depth + 1)
      if v == nil then return nil, e end
      list[i] = v
    end
    return list
  end
  return nil, "redis: unexpected reply"
end

local function socket_client(host, port, timeout)
  local ok, socket = pcall(require, "socket")
  if not ok then return nil, "the Redis store needs LuaSocket (Debian lua-socket)" end
  local sock = socket.tcp()
  sock:settimeout(timeout)
  local done, err = sock:connect(host, port)
  if not done then sock:close() return nil, ("redis %s:%d: %s"):format(host, port, tostring(err)) end
  local client = {}
  -- several commands in one write, their replies in order (a pipeline)
  function client.pipeline(cmds)
    local sent, e = sock:send(table.concat((function()
      local t = {}
      for i, c in ipairs(cmds) do t[i] = command(c) end
      return t
    end)()))
    if not sent then return nil, "redis: " .. tostring(e) end
    local replies = {}
    for i = 1, #cmds do
      local v, re = reply(sock, 0)
      if v == nil then return nil, re end
      replies[i] = v
    end
    return replies
  end
  function client.close() sock:close() end
  return client
end

-- "host:port", "[v6]:port", "redis://host:port" -> host, port
local function address(s)
  s = s:gsub("^redis://", ""):gsub("/.*$", "")
  local host, port = s:match("^%[(.-)%]:(%d+)$")
  if not host then host, port = s:match("^([^:]+):(%d+)$") end
  if not host then host, port = s, "6379" end
  return host, tonumber(port)
end
M.address = address

--- open(address, { prefix =, timeout =, client = }, retention) -> store | nil, problem
-- retention: seconds, or false (the keys never expire).
function M.open(addr, opts, retention)
  local client = opts.client
  if client and not client.pipeline then
    local call = client.call
    -- a host's client: one command at a time
    client = { pipeline = function(cmds)
      local out = {}
      for i, c in ipairs(cmds) do
        local v, e = call(table.unpack and table.unpack(c) or unpack(c))
        if v == nil then return nil, e end
        out[i] = v
      end
      return out
    end, close = function() end }
  end
  if not client then
    local host, port = address(addr)
    local err
    client, err = socket_client(host, port, opts.timeout or 2)
    if not client then return nil, err end
  end
  return setmetatable({ client = client, prefix = opts.prefix or "mailauth:report",
                        retention = retention or nil }, Store)
end

-- add's commands in one EVAL, run in their order and at once: an EXPIRE
-- that reached Redis before its HINCRBY (two requests of a pool, or of a
-- client that does not keep their order) would leave the bucket without
-- a TTL, and a record is never half kept.  A TTL of 0: no retention, no
-- EXPIRE.
local ADD_SCRIPT = [[
local ttl = tonumber(ARGV[2])
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
if ttl > 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('SET', KEYS[2], ARGV[3], 'EX', ttl)
  redis.call('EXPIRE', KEYS[3], ttl)
else
  redis.call('SET', KEYS[2], ARGV[3])
end
return 1
]]

--- store:add(record) -> true | nil, problem
function Store:add(rec)
  local key, meta = codec.encode_record(rec)
  local hour = rec.time - rec.time % HOUR
  local p, d = self.prefix, rec.policy_domain
  local bucket = ("%s:h:%s:%d"):format(p, d, hour)
  -- the bucket lives its hour plus the retention
  local ttl = self.retention and math.floor(self.retention + HOUR) or 0
  local replies, err = self.client.pipeline({
    { "EVAL", ADD_SCRIPT, 3, bucket, p .. ":m:" .. d, p .. ":d", key, ttl, meta, hour, d } })
  if not replies then return nil, err end
  return true
end

--- store:expire(now): Redis expires the keys itself; the index of domains
-- drops those past the retention.
function Store:expire(now)
  if not self.retention then return true end
  local r, err = self.client.pipeline({
    { "ZREMRANGEBYSCORE", self.prefix .. ":d", "-inf", "(" .. math.floor(now - self.retention - HOUR) } })
  if not r then return nil, err end
  return true
end

--- store:collect(begin, end) -> as the SQLite store's, by whole hours:
-- the buckets whose hour starts in [begin, end).
function Store:collect(b, e)
  local p = self.prefix
  local r, err = self.client.pipeline({ { "ZRANGEBYSCORE", p .. ":d", b - HOUR, e } })
  if not r then return nil, err end
  local out = {}
  for _, d in ipairs(r[1]) do
    local cmds = { { "GET", p .. ":m:" .. d } }
    local first = b - b % HOUR
    if first < b then first = first + HOUR end
    for hour = first, e - 1, HOUR do
      cmds[#cmds + 1] = { "HGETALL", ("%s:h:%s:%d"):format(p, d, hour) }
    end
    local got
    got, err = self.client.pipeline(cmds)
    if not got then return nil, err end
    local counts, keys = {}, {}
    for i = 2, #got do
      local flat = got[i]
      for j = 1, #flat - 1, 2 do
        if not counts[flat[j]] then keys[#keys + 1] = flat[j] end
        counts[flat[j]] = (counts[flat[j]] or 0) + (tonumber(flat[j + 1]) or 0)
      end
    end
    if #keys > 0 then
      table.sort(keys)
      local entry = { meta = got[1] and codec.decode(got[1]) or nil, rows = {} }
      for _, k in ipairs(keys) do
        local rec = codec.decode(k)
        if rec then entry.rows[#entry.rows + 1] = { record = rec, count = counts[k] } end
      end
      out[d] = entry
    end
  end
  return out
end

function Store:close()
  if self.client then self.client.close() self.client = nil end
end

return M
