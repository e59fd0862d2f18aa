-- mailauth.tcpdns: DNS over one TCP connection with the queries of a batch
-- pipelined (RFC 7766 §6.2.1: a client may send several queries without
-- waiting; the server may answer out of order, so replies are matched by
-- id and question), and a TTL cache, for the hosts whose Lua has yielding
-- TCP sockets and no usable resolver (HAProxy's core.tcp(), Rspamd's
-- rspamd_tcp in a coroutine symbol).  Private: mailauth.haproxy and
-- mailauth.rspamd build their resolvers on it.
--
-- A resolver made here is a batch resolver (lua/mailauth/internal.lua):
-- r:query_many(questions, timeout) answers a whole round, asking the
-- server only what the cache does not hold, each distinct question once,
-- all of them written in one send on one connection.  r:query(name, qtype,
-- timeout) is a batch of one.  The host gives the socket:
--   connect(host, port, timeout) -> sock | nil, err
--   sock:send(bytes) -> true | nil, err
--   sock:read(n) -> exactly n bytes | nil, err   (may yield)
--   sock:close()
-- A connection stays open for the next batch of the same check while the
-- host allows it (keep = true), and is dropped on any error.
--
-- An authoritative server answers a name that is an alias into another
-- zone with the CNAME alone; a recursive one follows it.  So that both
-- kinds serve, a NOERROR reply with a chain and no records is asked again
-- at the chain's end (RFC 1034 §5.3.3: restart at the canonical name), in
-- a follow-up batch, up to CHAIN_MAX aliases in all (then SERVFAIL, as
-- mailauth's own resolvers treat a loop).
local core = require "mailauth.core"

local M = {}

local clock = core.monotonic

-- What the cache keeps: answers the server gave (NOERROR, NXDOMAIN: RFC
-- 2308 §5 lets a negative answer be cached for its SOA's minimum, which
-- parse_wire reports as the ttl), never a failure of the path to it.
local CACHEABLE = { NOERROR = true, NXDOMAIN = true }

--- cache(opts) -> a TTL cache: { get = f(key, now), put = f(key, answer, now), stats }
-- opts.cache: entries kept (default 10000; 0: none); opts.max_ttl: seconds
-- an answer is kept at most (default 3600), whatever its TTL.
function M.cache(opts)
  local size = opts.cache or 10000
  local max_ttl = opts.max_ttl or 3600
  local entries, count = {}, 0
  local stats = { hits = 0, misses = 0, entries = 0 }
  local c = { stats = stats }
  function c.get(key, now)
    local e = entries[key]
    if e and e.expires > now then
      stats.hits = stats.hits + 1
      return e.answer
    end
    if e then entries[key], count = nil, count - 1 end
    stats.misses = stats.misses + 1
    return nil
  end
  function c.put(key, answer, now)
    local ttl = tonumber(answer.ttl) or 0
    if size <= 0 or ttl <= 0 or not CACHEABLE[answer.rcode] then return end
    if count >= size then
      -- full: drop what has expired; still full, start again (bounded,
      -- and a cache never grows past its size)
      for k, e in pairs(entries) do
        if e.expires <= now then entries[k], count = nil, count - 1 end
      end
      if count >= size then entries, count = {}, 0 end
    end
    if not entries[key] then count = count + 1 end
    entries[key] = { answer = answer, expires = now + math.min(ttl, max_ttl) }
    stats.entries = count
  end
  return c
end

local function u16(n) return string.char(math.floor(n / 256) % 256, n % 256) end

-- The question section of a DNS message (after the 12-byte header: the
-- name's labels, the zero byte, type and class), or nil.
local function question_of(wire)
  local pos = 13
  while true do
    local len = wire:byte(pos)
    if not len or len > 63 then return nil end -- no compression in a question we sent
    if len == 0 then break end
    pos = pos + len + 1
  end
  if #wire < pos + 4 then return nil end
  return wire:sub(13, pos + 4)
end

local function split_ns(ns, fname)
  if type(ns) ~= "string" then
    error(("%s: a nameserver must be a string like \"127.0.0.1@53\", got %s"):format(fname, type(ns)), 4)
  end
  local host, port = ns:match("^%[(.+)%][:@](%d+)$")
  if not host then host, port = ns:match("^(.+)@(%d+)$") end
  if not host then host, port = ns:match("^([^:]+):(%d+)$") end
  if not host then host, port = ns, "53" end
  port = tonumber(port)
  if not port or port < 1 or port > 65535 then
    error(("%s: bad port in nameserver '%s'"):format(fname, ns), 4)
  end
  return host, port
end
M.split_ns = split_ns

-- Sends the queries of one batch on sock and reads their replies; fills
-- answers[slot] for each reply that matches a query (id and question).
-- Returns true when every query got its reply.
local function exchange(sock, queries, answers)
  local parts, by_id, open = {}, {}, 0
  for i, q in ipairs(queries) do
    parts[i] = u16(#q.wire) .. q.wire
    q.question = q.question or question_of(q.wire)
    by_id[q.id] = q
    open = open + 1
  end
  if not sock:send(table.concat(parts)) then return false end
  while open > 0 do
    local head = sock:read(2)
    if not head or #head ~= 2 then return false end
    local len = head:byte(1) * 256 + head:byte(2)
    local body = len > 0 and sock:read(len)
    if not body or #body ~= len then return false end
    local a = core.parse_wire(body)
    local q = a and by_id[a.id]
    -- the question section echoed as sent (RFC 1035 §4.1.2; RFC 5452 §9.1)
    if q and body:sub(13, 12 + #q.question) == q.question then
      by_id[a.id] = nil
      a.id, a.tc = nil, nil
      answers[q.slot] = a
      open = open - 1
    end
  end
  return true
end

--- resolver(opts, host) -> batch resolver
-- opts: nameservers = { "127.0.0.1@53", ... }, timeout (seconds per
-- server and batch, default 2), cache, max_ttl (see M.cache), or
-- shared_cache (a M.cache to use instead: one per process/worker).
-- host: { connect = f(host, port, timeout) -> sock, keep = bool, name = "mailauth.x",
--         owner = f() -> who may use a kept connection (HAProxy: the
--         coroutine of the action; another one's connection is left to
--         the host to close, not touched) }.
function M.resolver(opts, host)
  local fname = host.name .. ".resolver"
  if type(opts) ~= "table" or type(opts.nameservers) ~= "table" or #opts.nameservers == 0 then
    error(fname .. ": nameservers = { \"127.0.0.1@53\", ... } expected", 3)
  end
  local servers = {}
  for i, ns in ipairs(opts.nameservers) do
    local h, p = split_ns(ns, fname)
    servers[i] = { host = h, port = p }
  end
  local timeout = opts.timeout or 2
  if type(timeout) ~= "number" or timeout <= 0 then
    error(fname .. ": timeout must be a positive number of seconds", 3)
  end
  local cache = opts.shared_cache or M.cache(opts)
  local stats = { connections = 0, queries = 0, batches = 0, failures = 0, cache = cache.stats }
  local r = { stats = stats, cache = cache }
  local conn -- the open connection, kept between batches when host.keep
  local next_id = math.random(0, 65535)

  local function drop()
    if conn then conn.sock:close() end
    conn = nil
  end

  -- Opens a connection to server s, or nil.
  local function open(s, t, owner)
    drop()
    local sock = host.connect(s.host, s.port, t)
    if not sock then return nil end
    stats.connections = stats.connections + 1
    conn = { sock = sock, server = s, owner = owner }
    return conn
  end

  -- Asks the queries on the first server that answers them all.  A kept
  -- connection the server has closed meanwhile (RFC 7766 §6.2.3: servers
  -- close idle ones) is opened again once before the next server.
  local function ask(queries, answers, left)
    local stop = clock() + math.min(left or timeout, 3600)
    for _, s in ipairs(servers) do
      local owner = host.owner and host.owner() or true
      if conn and conn.owner ~= owner then conn = nil end
      for try = 1, 2 do
        local rest = stop - clock()
        if rest <= 0 then return end
        local t = math.min(timeout, rest)
        local reused = conn ~= nil and conn.server == s
        if not reused and not open(s, t, owner) then break end
        if exchange(conn.sock, queries, answers) then
          if not host.keep then drop() end
          return
        end
        stats.failures = stats.failures + 1
        drop()
        if not reused or try == 2 then break end
      end
    end
  end

  local CHAIN_MAX = 8

  local ask_batch -- below

  -- Answers that stopped at an alias the server did not follow: asked
  -- again at the chain's end, all in one more batch, until none is left.
  local function chase(answers, questions, left, depth)
    local again, at = {}, {}
    for i, a in ipairs(answers) do
      local chain = a.cnames
      if a.rcode == "NOERROR" and #(a.records or {}) == 0 and type(chain) == "table"
         and #chain > 0 and questions[i].type ~= "CNAME" then
        again[#again + 1] = { name = chain[#chain], type = questions[i].type }
        at[#again] = i
      end
    end
    if #again == 0 then return end
    if depth >= CHAIN_MAX then
      for k = 1, #again do
        local i = at[k]
        answers[i] = { rcode = "SERVFAIL", records = {}, cnames = answers[i].cnames }
      end
      return
    end
    local more = ask_batch(again, left)
    chase(more, again, left, depth + 1)
    for k, a in ipairs(more) do
      local i = at[k]
      local chain = {}
      for _, c in ipairs(answers[i].cnames) do chain[#chain + 1] = c end
      for _, c in ipairs(a.cnames or {}) do chain[#chain + 1] = c end
      local merged = {}
      for key, v in pairs(a) do merged[key] = v end
      merged.cnames = chain
      if #chain > CHAIN_MAX then merged = { rcode = "SERVFAIL", records = {}, cnames = chain } end
      answers[i] = merged
    end
  end

  function r:query_many(questions, left)
    local answers = ask_batch(questions, left)
    chase(answers, questions, left, 0)
    return answers
  end

  function ask_batch(questions, left)
    if type(questions) ~= "table" then
      error(("bad argument #1 to '%s:query_many' (table of questions expected, got %s)")
            :format(host.name, type(questions)), 3)
    end
    for i, q in ipairs(questions) do
      if type(q) ~= "table" or type(q.name) ~= "string" or
         (type(q.type) ~= "string" and type(q.type) ~= "number") then
        error(("bad argument #1 to '%s:query_many' (questions[%d] must be { name = string, type = string })")
              :format(host.name, i), 3)
      end
    end
    if left ~= nil and type(left) ~= "number" then
      error(("bad argument #2 to '%s:query_many' (seconds expected, got %s)"):format(host.name, type(left)), 3)
    end
    local now = clock()
    local answers, queries, slots = {}, {}, {}
    for i, q in ipairs(questions) do
      local key = q.type .. " " .. q.name:lower()
      local hit = cache.get(key, now)
      if hit then
        answers[i] = hit
      elseif slots[key] then
        table.insert(slots[key], i) -- asked once, given to each
      else
        next_id = (next_id + 1) % 65536
        local wire = core.query_wire(q.name, q.type, next_id)
        if wire then
          slots[key] = { i }
          queries[#queries + 1] = { wire = wire, id = next_id, slot = i, key = key }
        else
          answers[i] = { rcode = "BADNAME", records = {} }
        end
      end
    end
    if #queries > 0 then
      stats.batches = stats.batches + 1
      stats.queries = stats.queries + #queries
      ask(queries, answers, left)
      now = clock()
      for _, q in ipairs(queries) do
        local a = answers[q.slot] or { rcode = "TIMEOUT", records = {} }
        if answers[q.slot] then cache.put(q.key, a, now) end
        for _, i in ipairs(slots[q.key]) do answers[i] = a end
      end
    end
    return answers
  end

  function r:query(name, qtype, left)
    return self:query_many({ { name = name, type = qtype } }, left)[1]
  end

  -- The connection kept for the next batch, closed (a host calls it when
  -- the check is over; the next batch opens another).
  function r:close() drop() end

  return r
end

return M
