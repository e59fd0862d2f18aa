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
--
-- adapter.check(task, opts) is the one call per message: it reads the raw
-- message and the SMTP envelope from the task, runs mailauth.check with a
-- batch resolver (lua/mailauth/tcpdns.lua) that pipelines each round's
-- questions on one TCP connection (rspamd_tcp, synchronous in a coroutine:
-- one round trip per batch, RFC 7766 §6.2.1) to the nameservers of
-- Rspamd's own `options { dns { nameserver } }`, keeps answers for their
-- TTL in a per-worker cache, and can add the Authentication-Results field
-- through task:set_milter_reply.  Why not rspamd_dns for it: that API
-- hands out neither TTLs nor owner names, and a coroutine symbol has no
-- way to wait for several of its callbacks at once (measured in Rspamd
-- 3.4: a synchronous request returns before the callbacks of requests
-- sent with it have run), so it would cost a round trip per question.
-- adapter.resolver(task) (one question at a time through rspamd_dns) is
-- still there for single checks.
--
-- adapter.check(task, opts, callback) is the same check over rspamd_tcp's
-- callbacks instead, run in a coroutine of the adapter's own: the form
-- whose timeouts hold (Rspamd 3.4's synchronous rspamd_tcp arms no timer,
-- see async_connector), and the one examples/rspamd uses.
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
  if type(task) ~= "userdata" and type(task) ~= "table" then
    error(("bad argument #1 to 'mailauth.rspamd.resolver' (task expected, got %s)"):format(type(task)), 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error(("bad argument #2 to 'mailauth.rspamd.resolver' (table or nil expected, got %s)"):format(type(opts)), 2)
  end
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

local tcpdns = require "mailauth.tcpdns"

-- The per-worker cache (a worker is one process: Rspamd's Lua state is
-- per worker), shared by every task's resolver.
local worker_cache
local worker_stats = { messages = 0, round_trips = 0, queries = 0, connections = 0 }

-- Rspamd's own nameservers (options { dns { nameserver = [...] } }), in
-- mailauth's "host@port" form; Rspamd writes "host:port" or "[v6]:port".
local function rspamd_nameservers()
  local o = rspamd_config and rspamd_config:get_all_opt("options")
  local list = o and o.dns and o.dns.nameserver
  if type(list) == "string" then list = { list } end
  if type(list) ~= "table" then return nil end
  local out = {}
  for _, ns in ipairs(list) do
    local host, port = tostring(ns):match("^%[(.+)%]:(%d+)$")
    if not host then host, port = tostring(ns):match("^([^:]+):(%d+)$") end
    if not host then host, port = tostring(ns), "53" end
    out[#out + 1] = host .. "@" .. port
  end
  return #out > 0 and out or nil
end

-- A socket of rspamd_tcp's synchronous API for tcpdns: read(n) from a
-- buffer filled by read_once (which gives whatever has arrived).
local function rspamd_connector(task)
  return function(host, port, timeout)
    local rspamd_tcp = require "rspamd_tcp" -- only Rspamd has it
    local ok, conn = rspamd_tcp.connect_sync { task = task, host = host, port = port, timeout = timeout }
    if not ok then return nil, conn end
    local buf = ""
    local sock = {}
    function sock:send(bytes)
      local wok, err = conn:write(bytes)
      if not wok then return nil, err end
      return true
    end
    function sock:read(n)
      while #buf < n do
        local rok, data = conn:read_once()
        if not rok then return nil, data end
        buf = buf .. tostring(data)
      end
      local out = buf:sub(1, n)
      buf = buf:sub(n + 1)
      return out
    end
    function sock:close() conn:close() end
    return sock
  end
end

-- Inside a coroutine that may yield (a symbol registered with
-- flags = "coro")?  LuaJIT has coroutine.isyieldable; elsewhere the main
-- thread is the one place that may not.
local function yieldable()
  if coroutine.isyieldable then return coroutine.isyieldable() end
  return coroutine.running() ~= nil
end

-- A socket of rspamd_tcp's asynchronous API for tcpdns, for a check that
-- runs in a coroutine of the adapter's own (adapter.check with a
-- callback): send starts the request (the queries written, a read
-- armed), read(n) yields that coroutine until rspamd_tcp's callback
-- brings bytes or an error, arming one more read while it needs more.
-- Why not the synchronous API: Rspamd 3.4's rspamd_tcp.connect_sync
-- parses `timeout` and never stores it (src/lua/lua_tcp.c,
-- lua_tcp_connect_sync: no cbd->ev.timeout = timeout), so no timer is
-- armed (libev_helper.c arms one only for a timeout > 0) and a server
-- that accepts and stays silent holds the read until task_timeout;
-- rspamd_tcp.request keeps its timeout (cbd->ev.timeout = timeout, less
-- what each event took) and ends such a read with "IO timeout".  One
-- exchange per connection (tcpdns with keep = false): the timeout is the
-- connection's whole budget, which a kept one would have spent.
local function async_connector(task)
  return function(host, port, timeout)
    local rspamd_tcp = require "rspamd_tcp" -- only Rspamd has it
    local sock, conn, buf, err = {}, nil, "", nil
    local started, armed, waiting = false, false, nil
    local function on_data(e, data, c)
      conn, armed = c or conn, false
      if e then err = tostring(e) else buf = buf .. tostring(data) end -- rspamd_text: copied
      local co = waiting
      waiting = nil
      if co then
        local ok, why = coroutine.resume(co)
        if not ok then require("rspamd_logger").errx(task, "mailauth: %s", tostring(why)) end
      end
    end
    function sock:send(bytes)
      if started then return nil, "one exchange per connection" end
      started = true
      local ok = rspamd_tcp.request { task = task, host = host, port = port, timeout = timeout,
                                      data = bytes, callback = on_data }
      if not ok then err = "cannot connect" return nil, err end
      armed = true
      return true
    end
    function sock:read(n)
      while #buf < n do
        if err then return nil, err end
        if not armed then
          if not conn then return nil, "not connected" end
          conn:add_read(on_data)
          armed = true
        end
        waiting = coroutine.running()
        coroutine.yield()
      end
      local out = buf:sub(1, n)
      buf = buf:sub(n + 1)
      return out
    end
    -- Nothing to close: with no read armed, rspamd_tcp ends the connection
    -- itself when its callback returns (and after an error it has).
    function sock:close() end
    return sock
  end
end

local CHECK_OPTS = { "authserv_id", "now", "receiver", "allow_sha1", "org_domain", "psl_file",
                     "pct_roll", "shared_domains", "time_budget" }

-- The message, the options of mailauth.check and the resolver for one
-- check, or nil, reason when the task has no raw message.
local function prepare(task, opts, connect, keep)
  local content = task:get_content()
  local message = content and tostring(content) or nil
  if not message or message == "" then
    return nil, "mailauth.rspamd.check: the task has no raw message"
  end
  local nameservers = opts.nameservers or rspamd_nameservers()
  if not nameservers then
    error("mailauth.rspamd.check: no nameservers (opts.nameservers, or options { dns { nameserver } })", 3)
  end
  if not worker_cache then worker_cache = tcpdns.cache(opts) end
  -- cache = 0: this call keeps nothing and reads nothing kept
  local cache = opts.cache == 0 and tcpdns.cache(opts) or worker_cache
  local r = tcpdns.resolver({ nameservers = nameservers, timeout = opts.timeout,
                              shared_cache = cache },
                            { name = "mailauth.rspamd", connect = connect, keep = keep })
  local helo = task:get_helo()
  local from = task:get_from("smtp")
  local sender = from and from[1] and from[1].addr
  if sender == nil and from and from[1] then sender = "" end
  local copts = { ip = M.client_ip(task), helo = helo and tostring(helo) or nil,
                  sender = sender and tostring(sender) or nil, resolver = r,
                  time_budget = 6 }
  for _, k in ipairs(CHECK_OPTS) do
    if opts[k] ~= nil then copts[k] = opts[k] end
  end
  return { message = message, copts = copts, r = r, cache = cache, hits0 = cache.stats.hits }
end

-- Runs the prepared check (it may yield); the report with its counts, or
-- false and the error mailauth.check raised.
local function run(task, opts, c)
  local ok, report = pcall(require("mailauth").check, c.message, c.copts)
  c.r:close()
  if not ok then return false, report end
  local s = c.r.stats
  report.rspamd = { round_trips = s.batches, queries = s.queries, connections = s.connections,
                    cache_hits = c.cache.stats.hits - c.hits0 }
  worker_stats.messages = worker_stats.messages + 1
  worker_stats.round_trips = worker_stats.round_trips + s.batches
  worker_stats.queries = worker_stats.queries + s.queries
  worker_stats.connections = worker_stats.connections + s.connections
  if opts.header then
    -- RFC 8601 §5: the claims of a forger go before ours comes
    report.rspamd.removed_claims = M.remove_claims(task, c.message,
                                                   c.copts.authserv_id or "localhost")
    M.add_header(task, report.authentication_results)
  end
  return true, report
end

--- adapter.check(task, opts) -> report | nil, reason
--- adapter.check(task, opts, callback) -> true | nil, reason; later callback(report | nil, error)
-- opts (all optional): nameservers ({ "127.0.0.1@53" }; default Rspamd's
-- own), timeout (seconds per batch, default 2), time_budget (seconds for
-- the whole check, default 6: under Rspamd's task_timeout of 8),
-- cache (answers kept per worker, default 10000), max_ttl (default 3600),
-- header (true: add the Authentication-Results field through the milter
-- reply), authserv_id and the other options of mailauth.check.
-- report.rspamd: { round_trips, queries, cache_hits } of this message, and
-- with header, removed_claims (adapter.remove_claims: how many of the
-- message's Authentication-Results fields claimed authserv_id).
-- nil, reason: the task has no raw message to check.
-- Without a callback the symbol must be registered with flags = "coro"
-- (DNS through rspamd_tcp's synchronous API, which yields the symbol's
-- coroutine; in Rspamd 3.4 it has no read timeout, see async_connector).
-- With one, any symbol will do: the check runs in a coroutine of its
-- own over rspamd_tcp's callbacks (the symbol stays open until they are
-- done), every batch bounded by timeout and the whole by time_budget,
-- and callback gets the report (or nil and mailauth.check's error); it
-- runs before adapter.check returns when the cache answers everything.
function M.check(task, opts, callback)
  if type(task) ~= "userdata" and type(task) ~= "table" then
    error(("bad argument #1 to 'mailauth.rspamd.check' (task expected, got %s)"):format(type(task)), 2)
  end
  opts = opts or {}
  if type(opts) ~= "table" then
    error(("bad argument #2 to 'mailauth.rspamd.check' (table or nil expected, got %s)"):format(type(opts)), 2)
  end
  if callback ~= nil and type(callback) ~= "function" then
    error(("bad argument #3 to 'mailauth.rspamd.check' (function or nil expected, got %s)")
          :format(type(callback)), 2)
  end
  if callback then
    local c, reason = prepare(task, opts, async_connector(task), false)
    if not c then return nil, reason end
    local co = coroutine.create(function()
      local ok, report = run(task, opts, c)
      if ok then callback(report) else callback(nil, report) end
    end)
    local ok, why = coroutine.resume(co)
    if not ok then error(why, 2) end
    return true
  end
  if not yieldable() then
    error("mailauth.rspamd.check: not inside a coroutine: register the symbol with"
          .. ' flags = "coro" (rspamd_config:register_symbol{ ..., flags = "coro" })', 2)
  end
  local c, reason = prepare(task, opts, rspamd_connector(task), true)
  if not c then return nil, reason end
  local ok, report = run(task, opts, c)
  if not ok then error(report, 2) end
  return report
end

--- adapter.add_header(task, "Authentication-Results: ...")
-- The field through the milter reply (name and value apart), first in
-- the header (RFC 8601 §5: above the fields it speaks about), folded with
-- the message's own line ends as Rspamd's milter_headers folds its fields
-- (a message with LF line ends gets LF TAB).
function M.add_header(task, field)
  if type(field) ~= "string" then
    error(("bad argument #2 to 'mailauth.rspamd.add_header' (header field expected, got %s)")
          :format(type(field)), 2)
  end
  local name, value = field:match("^([^:]+):%s*(.*)$")
  if not name then error("mailauth.rspamd.add_header: not a header field: " .. field:sub(1, 64), 2) end
  local nl = task.get_newlines_type and task:get_newlines_type()
  if nl == "lf" then value = value:gsub("\r\n", "\n") end
  task:set_milter_reply({ add_headers = { [name] = { value = value, order = 0 } } })
end

--- adapter.remove_claims(task, message, authserv_id) -> n
-- RFC 8601 §5 at the border: the message's Authentication-Results fields
-- that claim authserv_id (mailauth.authres.claims: anyone can write one)
-- are removed through the milter reply, so that nothing downstream takes
-- a forger's for ours.  One goes by its position.  Several, or one whose
-- position another reader may count otherwise (blanks before its colon,
-- its name folded), take every Authentication-Results field with them:
-- the milter reply names one position per field name, and RFC 8601 §5
-- lets a border MTA remove them all.  n: how many claimed (0: nothing
-- asked of the milter).
function M.remove_claims(task, message, authserv_id)
  if type(message) ~= "string" then
    error(("bad argument #2 to 'mailauth.rspamd.remove_claims' (message string expected, got %s)")
          :format(type(message)), 2)
  end
  if type(authserv_id) ~= "string" or authserv_id == "" then
    error("bad argument #3 to 'mailauth.rspamd.remove_claims' (authserv-id string expected)", 2)
  end
  local claims, odd = require("mailauth.authres").claims(message, authserv_id)
  if #claims == 0 then return 0 end
  local position = (#claims == 1 and not odd) and claims[1] or 0 -- 0: all of them
  task:set_milter_reply({ remove_headers = { ["Authentication-Results"] = position } })
  return #claims
end

--- adapter.report_client(task, host [, { timeout = }]) -> a client for
-- mailauth.report.store{ client = } (store_redis's shape): each command
-- one rspamd_redis.make_request to host ("127.0.0.1:6379"), not tied to
-- the task (the worker's event loop carries it: the scan neither waits
-- for Redis nor fails with it) and not awaited: pipeline returns at once
-- with true for each command sent, a Redis that errs or is down gives a
-- log line.  Its requests may take different pooled connections, in no
-- fixed order: store:add sends one EVAL for every client, so that is
-- safe.  For recording only (store:collect needs the replies).
function M.report_client(task, host, opts)
  if type(task) ~= "userdata" and type(task) ~= "table" then
    error(("bad argument #1 to 'mailauth.rspamd.report_client' (task expected, got %s)"):format(type(task)), 2)
  end
  if type(host) ~= "string" or host == "" then
    error(("bad argument #2 to 'mailauth.rspamd.report_client' (host:port expected, got %s)"):format(type(host)), 2)
  end
  local timeout = tonumber(opts and opts.timeout) or 1
  local rspamd_redis = require "rspamd_redis" -- only Rspamd has it
  local logger = require "rspamd_logger"
  local ev_base = task:get_ev_base()
  local client = {}
  function client.pipeline(cmds)
    local out = {}
    for i, c in ipairs(cmds) do
      local args = {}
      for j = 2, #c do args[j - 1] = tostring(c[j]) end
      local cmd = c[1]
      local ok = rspamd_redis.make_request {
        ev_base = ev_base, config = rspamd_config, host = host, timeout = timeout,
        cmd = cmd, args = args,
        callback = function(err)
          if err then logger.warnx(rspamd_config, "mailauth: report to redis %s: %s %s", host, cmd, err) end
        end }
      if not ok then
        logger.warnx(rspamd_config, "mailauth: report to redis %s: cannot send %s", host, cmd)
        return nil, "redis " .. host .. ": cannot send " .. cmd
      end
      out[i] = true
    end
    return out
  end
  function client.close() end
  return client
end

--- adapter.stats() -> { messages, round_trips, queries, connections, cache = { hits, misses, entries } }
-- This worker's counts since it started.
function M.stats()
  local out = {}
  for k, v in pairs(worker_stats) do out[k] = v end
  out.cache = worker_cache and worker_cache.stats or { hits = 0, misses = 0, entries = 0 }
  return out
end

return M
