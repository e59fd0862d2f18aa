-- Helpers shared by the specs.
local M = {}

-- The bytes of the file at path, or nil (one value) when it cannot be opened.
function M.read_if(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("*a")
  f:close()
  return text
end

-- Writes data to the file at path (bytes as given); an error when it cannot.
function M.write(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

-- The bytes of the file at path; io.open's message as an error when it
-- cannot be opened.
function M.read(path)
  return M.read_if(path) or error(select(2, io.open(path, "rb")), 2)
end

-- A zone resolver over the demo zones (examples/zones/*.zone), the DNS data
-- of the dkimpy-signed demo messages in examples/.
function M.demo_resolver()
  local files = {}
  local p = io.popen("ls examples/zones/*.zone")
  for f in p:lines() do files[#files + 1] = f end
  p:close()
  return assert(require("mailauth").resolver { zonefiles = files })
end

-- Zone-file text with every quoted string over 255 bytes split into
-- 255-byte character-strings (RFC 1035 §3.3), as Knot does on load and
-- mailauth's zone reader does not.
function M.split_long_strings(text)
  return (text:gsub('"([^"\n]*)"', function(s)
    if #s <= 255 then return nil end
    local parts = {}
    for i = 1, #s, 255 do parts[#parts + 1] = '"' .. s:sub(i, i + 254) .. '"' end
    return table.concat(parts, " ")
  end))
end

-- Each case { f, pattern [, plain = true] } raises an error matching
-- pattern (a Lua pattern, or plain text with plain): the argument-error
-- tables of the specs.
-- A zone resolver over spec/fixtures/zones, the zones Knot serves to the
-- integration specs, offline.
function M.fixture_resolver()
  local texts = {}
  local p = io.popen("ls spec/fixtures/zones/*.zone")
  for f in p:lines() do texts[#texts + 1] = M.split_long_strings(M.read(f)) end
  p:close()
  return assert(require("mailauth").resolver { zones = texts })
end

function M.assert_errors(cases)
  local assert = require "luassert"
  for i, c in ipairs(cases) do
    local ok, err = pcall(c[1])
    assert.is_false(ok, ("case %d did not raise (want %s)"):format(i, c[2]))
    assert.matches(c[2], err, nil, c.plain)
  end
end

-- The Knot server started by spec/support/run-specs.sh, or nil.
function M.test_nameserver()
  return os.getenv("MAILAUTH_TEST_NS")
end

-- Third-party conformance data is read in place from ../shared/testdata/
-- (a sibling of the checkout, relative to the repository root where the
-- specs run) and never copied into the project.  MAILAUTH_TESTDATA names
-- another folder; MAILAUTH_TESTDATA=/nonexistent shows what a checkout
-- without ../shared does.
M.TESTDATA = os.getenv("MAILAUTH_TESTDATA") or "../shared/testdata"

-- The path of <subpath> (a file, or a folder; a trailing "/" is kept, so
-- DIR .. "name" works) under the test data folder, or nil when it is not
-- there.  io.open also opens folders on POSIX systems.
function M.testdata(subpath)
  local path = M.TESTDATA .. "/" .. subpath
  local f = io.open(path, "rb")
  if not f then return nil end
  f:close()
  return path
end

local function absent(subpath)
  return ("skipped: %s/%s absent"):format(M.TESTDATA, subpath)
end

-- For a spec file that needs <subpath> throughout: its path, or nil after
-- registering one pending case saying what is missing, so the file can
-- stop with
--   local DIR = helpers.skip_without_testdata("arc/")
--   if not DIR then return end
function M.skip_without_testdata(subpath)
  local path = M.testdata(subpath)
  if path then return path end
  local busted = require "busted"
  local file = debug.getinfo(2, "S").short_src
  busted.describe(file, function() busted.pending(absent(subpath)) end)
  return nil
end

-- it(name, fn) when <subpath> is there, else a pending case naming it.
function M.it_with_testdata(subpath, name, fn)
  local busted = require "busted"
  if M.testdata(subpath) then return busted.it(name, fn) end
  return busted.pending(name .. " " .. absent(subpath))
end

return M
