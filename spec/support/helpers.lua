-- Helpers shared by the specs.
local M = {}

function M.read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  return text
end

-- The Knot server started by spec/support/run-specs.sh, or nil.
function M.test_nameserver()
  return os.getenv("MAILAUTH_TEST_NS")
end

return M
