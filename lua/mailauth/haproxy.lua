-- mailauth inside HAProxy: HAProxy's Lua cannot resolve names and has no
-- UDP socket, but its core.tcp() cosockets yield.  This resolver carries
-- DNS over TCP (RFC 7766) to the given nameservers, with the query and reply
-- built and read by mailauth's C wire helpers: so each answer gets the CNAME
-- chain the reply's answer section holds (answer.cnames) and only records
-- owned by the asked name or the chain's end (RFC 2181 §5.4.1), as the ldns
-- resolver's do.
--
-- It is a batch resolver (lua/mailauth/tcpdns.lua): each round's questions
-- go out together, pipelined on one connection that the same action keeps
-- for its next rounds (RFC 7766 §6.2.1), and answers are kept for their TTL
-- in a cache of the process (one per HAProxy process: its Lua state).  A
-- cosocket belongs to the HAProxy task that opened it, so a connection is
-- reused only by the action (the coroutine) that opened it; another
-- action opens its own.
--
--   local adapter = require "mailauth.haproxy"
--   local resolve = adapter.resolver{ nameservers = { "127.0.0.1@53" }, timeout = 2 }
--   core.register_action("mailauth", { "tcp-req" }, function(txn)
--     local r = mailauth.iprev(txn.f:src(), { resolver = resolve })
--     txn:set_var("txn.iprev", r.result)
--   end)
-- resolve.stats: { connections, queries, batches, failures, cache = { hits, misses, entries } }.
-- The actions that yield (every one that asks DNS) need
-- `tcp-request inspect-delay` in a TCP frontend: without it HAProxy gives
-- them no time and aborts them ("aborting Lua processing on expired timeout").
local tcpdns = require "mailauth.tcpdns"

local M = {}

-- A cosocket for tcpdns: read(n) is HAProxy's receive(n) (exactly n bytes).
local function connect(host, port, timeout)
  local s = core.tcp()
  -- whole seconds, at least 1: what every HAProxy's socket timeout takes
  s:settimeout(math.max(1, math.ceil(timeout)))
  if not s:connect(host, port) then s:close() return nil end
  local sock = {}
  function sock:send(bytes)
    local sent = s:send(bytes)
    return sent ~= nil and sent == #bytes or nil
  end
  function sock:read(n) return s:receive(n) end
  function sock:close() s:close() end
  return sock
end

--- resolver{ nameservers = { "127.0.0.1@53", ... }, timeout = seconds, cache = n, max_ttl = s }
-- -> a batch resolver (r:query_many, r:query, r.stats); also callable as
-- resolve(name, qtype [, timeout]) -> answer.
function M.resolver(opts)
  if type(opts) ~= "table" then
    error(("bad argument #1 to 'mailauth.haproxy.resolver' (table expected, got %s)"):format(type(opts)), 2)
  end
  local r = tcpdns.resolver(opts, { name = "mailauth.haproxy", connect = connect, keep = true,
                                    owner = coroutine.running })
  return setmetatable(r, { __call = function(self, name, qtype, left)
    return self:query(name, qtype, left)
  end })
end

return M
