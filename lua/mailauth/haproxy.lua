-- mailauth inside HAProxy: HAProxy's Lua cannot resolve names and has no
-- UDP socket, but its core.tcp() cosockets yield.  This resolver carries
-- DNS over TCP (RFC 7766) to the given nameservers, with the query and reply
-- built and read by mailauth's C wire helpers: so each answer gets the CNAME
-- chain the reply's answer section holds (answer.cnames) and only records
-- owned by the asked name or the chain's end (RFC 2181 §5.4.1), as the ldns
-- resolver's do.
--
--   local adapter = require "mailauth.haproxy"
--   local resolve = adapter.resolver{ nameservers = { "127.0.0.1@53" }, timeout = 2 }
--   core.register_action("mailauth", { "tcp-req" }, function(txn)
--     local r = mailauth.iprev(txn.f:src(), { resolver = resolve })
--     txn:set_var("txn.iprev", r.result)
--   end)
local mailauth = require "mailauth"

local M = {}

local function split_ns(ns)
  local host, port = ns:match("^%[(.+)%][:@](%d+)$")
  if not host then host, port = ns:match("^(.+)@(%d+)$") end
  if not host then host, port = ns:match("^([^:]+):(%d+)$") end
  if not host then host, port = ns, "53" end
  return host, tonumber(port)
end

local function u16(n) return string.char(math.floor(n / 256), n % 256) end

-- One question over one TCP connection; nil when this server gave nothing.
local function ask_tcp(host, port, timeout, query, id)
  local s = core.tcp()
  s:settimeout(timeout)
  if not s:connect(host, port) then s:close() return nil end
  local sent = s:send(u16(#query) .. query)
  local head = sent and s:receive(2)
  local body = head and #head == 2 and s:receive(head:byte(1) * 256 + head:byte(2))
  s:close()
  if not body then return nil end
  local answer = mailauth.dns.parse_wire(body)
  if answer and answer.id == id then return answer end
  return nil
end

--- resolver{ nameservers = { "127.0.0.1@53", ... }, timeout = seconds } -> function(name, qtype, left)
function M.resolver(opts)
  if type(opts) ~= "table" or type(opts.nameservers) ~= "table" or #opts.nameservers == 0 then
    error("mailauth.haproxy.resolver: nameservers = { \"127.0.0.1@53\", ... } expected", 2)
  end
  local servers = {}
  for i, ns in ipairs(opts.nameservers) do
    local host, port = split_ns(ns)
    if not port then error(("mailauth.haproxy.resolver: nameservers[%d]: bad port"):format(i), 2) end
    servers[i] = { host = host, port = port }
  end
  local timeout = opts.timeout or 2
  local clock = mailauth.core.monotonic
  -- left: the seconds the check's time_budget has left (run.lua); no
  -- server is tried after them, none waited on for longer (in whole
  -- seconds, at least 1: what every HAProxy's socket timeout takes).
  return function(name, qtype, left)
    local stop = left and clock() + left
    local id = math.random(0, 65535)
    local query = mailauth.dns.query_wire(name, qtype, id)
    if not query then return { rcode = "BADNAME", records = {} } end
    for _, s in ipairs(servers) do
      local t = timeout
      if stop then
        local rest = stop - clock()
        if rest <= 0 then break end
        t = math.min(t, math.max(1, math.ceil(rest)))
      end
      local answer = ask_tcp(s.host, s.port, t, query, id)
      if answer then return answer end
    end
    return { rcode = "TIMEOUT", records = {} }
  end
end

return M
