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

-- describe(title, body) when this Lua is the one the host embeds
-- (wanted), else nothing: the host specs run under that Lua only.
function M.describe_if(wanted, title, body)
  if wanted then require("busted").describe(title, body) end
end

-- The harness's Knot server ("host@port"), asserted (for a setup).
function M.nameserver()
  return assert(helpers.test_nameserver(), "MAILAUTH_TEST_NS is not set: run the specs through make test")
end

-- Teardown: stops each pid given and removes dir (kept with MAILAUTH_KEEP).
function M.cleanup(dir, ...)
  for i = 1, select("#", ...) do M.stop((select(i, ...))) end
  if dir and not os.getenv("MAILAUTH_KEEP") then os.execute("rm -rf " .. dir) end
end

-- The rspamd.conf text of a test worker (spec/support/rspamd_conf.lua).
M.rspamd_conf = require "spec.support.rspamd_conf"

-- Checks dir/rspamd.conf with rspamadm, starts Rspamd on it in the
-- foreground (no pidfile is written then: the pid is $!) and waits for
-- /ping on port: up to 180 s (the first start after install compiles the
-- TLD list, and a loaded machine is slow).  Returns the pid.
function M.start_rspamd(dir, port)
  local conf = M.capture(("rspamadm configtest -c %s/rspamd.conf"):format(dir))
  assert(conf:match("syntax OK"), conf)
  local pid = M.start(("rspamd -f -i -u root -g root -c %s/rspamd.conf"):format(dir), dir .. "/log/stdout")
  assert(M.wait(180, function()
    return M.capture(("curl -s http://127.0.0.1:%d/ping"):format(port)):match("pong")
  end), "rspamd did not start: " .. M.read(dir .. "/log/stdout") .. M.read(dir .. "/log/rspamd.log"):sub(-3000))
  return pid
end

function M.capture(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("*a")
  p:close()
  return out
end

return M
