-- A redis-server of the spec's own: on 127.0.0.1, a free port, a temp
-- dir, no persistence; stop() ends it (by its pid, from its pidfile).
local M = {}

local function sh(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

function M.available()
  local p = io.popen("command -v redis-server 2>/dev/null")
  local path = p:read("*l")
  p:close()
  return path ~= nil and path ~= ""
end

-- A TCP port of 127.0.0.1 nothing listens on now.
local function free_port()
  local socket = require "socket"
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

M.free_port = free_port

-- start() -> server { port =, address =, stop() } | nil, problem
function M.start()
  local socket = require "socket"
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. sh(dir)))
  local port = free_port()
  local pidfile = dir .. "/redis.pid"
  local cmd = ("cd %s && redis-server --bind 127.0.0.1 --port %d --dir %s --save '' "
               .. "--appendonly no --daemonize yes --pidfile %s --logfile %s")
              :format(sh(dir), port, sh(dir), sh(pidfile), sh(dir .. "/redis.log"))
  os.execute(cmd)
  local up = false
  for _ = 1, 100 do
    local c = socket.tcp()
    c:settimeout(0.2)
    if c:connect("127.0.0.1", port) then
      c:send("PING\r\n")
      up = c:receive("*l") == "+PONG"
    end
    c:close()
    if up then break end
    socket.sleep(0.05)
  end
  local server = { port = port, address = "127.0.0.1:" .. port, dir = dir }
  function server.stop()
    local f = io.open(pidfile)
    local pid = f and f:read("*n")
    if f then f:close() end
    if pid then os.execute("kill " .. math.floor(pid) .. " 2>/dev/null") end
    for _ = 1, 50 do
      if not io.open(pidfile) then break end
      socket.sleep(0.05)
    end
    os.execute("rm -rf " .. sh(dir))
  end
  if not up then server.stop() return nil, "redis-server did not start on port " .. port end
  return server
end

return M
