-- check_prep.lua OUTDIR: the inputs of the mailauth.check rows.  The
-- messages and envelopes are the npm interop fixtures
-- (spec/fixtures/interop, manifest.lua); the DNS data is
-- spec/fixtures/zones, the zones the Knot of the specs serves.  Writes
--   OUTDIR/check.msgs      id, file, ip, helo, sender (TAB-separated)
--   OUTDIR/check.zonelist  one zone file a line, OUTDIR/check-zones/NAME.zone
-- Each zone gets its $ORIGIN (Knot takes it from the file name) and its
-- character-strings cut at 255 octets (RFC 1035 §3.3; Knot cuts longer
-- ones itself, ldns refuses them), so every reader sees Knot's records.
local out = assert(arg[1], "usage: check_prep.lua OUTDIR")
local util = dofile((arg[0]:match("^(.*)/") or ".") .. "/util.lua")
local FIX = "spec/fixtures/interop"

local manifest = dofile(FIX .. "/manifest.lua")
local msgs = {}
for _, m in ipairs(manifest.messages) do
  local path = FIX .. "/" .. m.id .. ".eml"
  local f = io.open(path, "rb")
  if f then
    f:close()
    msgs[#msgs + 1] = table.concat({ m.id, path, m.ip, m.helo, m.sender or "" }, "\t")
  end
end
local f = assert(io.open(out .. "/check.msgs", "w"))
f:write(table.concat(msgs, "\n"), "\n")
f:close()
f = assert(io.open(out .. "/check.now", "w"))
f:write(manifest.now, "\n")
f:close()

-- the specs' own cut (the zones Knot serves them are these)
local split_strings = dofile("spec/support/helpers.lua").split_long_strings

assert(os.execute("mkdir -p " .. out .. "/check-zones"))
local list = {}
local ls = assert(io.popen("ls spec/fixtures/zones/*.zone"))
for path in ls:lines() do
  local name = path:match("([^/]+)%.zone$")
  local dest = out .. "/check-zones/" .. name .. ".zone"
  local z = assert(io.open(dest, "w"))
  z:write("$ORIGIN ", name, ".\n$TTL 300\n", split_strings(util.read(path)))
  z:close()
  list[#list + 1] = dest
end
ls:close()
f = assert(io.open(out .. "/check.zonelist", "w"))
f:write(table.concat(list, "\n"), "\n")
f:close()
print(("check inputs: %d messages, %d zones"):format(#msgs, #list))
