-- Starting and stopping real daemons (Rspamd, HAProxy) from a spec: in the
-- background, with their pid kept, polled until ready, killed at teardown.
local helpers = require "spec.support.helpers"

local M = {}

function M.tmpdir(prefix)
  local p = io.popen("mktemp -d /tmp/" .. prefix .. ".XXXXXX")
  local dir = p:read("*l")
  p:close()
  return dir
end

M.write = helpers.write

-- A log file's text, "" when there is none yet.
function M.read(path)
  return helpers.read_if(path) or ""
end

-- Runs cmd in the background with output to log; returns its pid.
function M.start(cmd, log)
  local p = io.popen(("%s >%s 2>&1 & echo $!"):format(cmd, log))
  local pid = p:read("*l")
  p:close()
  return pid
end

function M.alive(pid)
  return os.execute("kill -0 " .. pid .. " 2>/dev/null") == true
      or os.execute("kill -0 " .. pid .. " 2>/dev/null") == 0
end

-- Polls check() every 50 ms for up to seconds; true when it said yes.
function M.wait(seconds, check)
  local socket = require "socket"
  local deadline = socket.gettime() + seconds
  while socket.gettime() < deadline do
    if check() then return true end
    socket.sleep(0.05)
  end
  return false
end

function M.stop(pid)
  if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
end

function M.capture(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("*a")
  p:close()
  return out
end

return M
