-- check-sources.lua VERSION ROCKSPEC SRC...: fails when the rockspec does
-- not follow the release (VERSION is MAUTH_VERSION of src/mailauth.h: the
-- file name, version, source tarball and folder must all say it), or when
-- a C file under src/ is not one of the Makefile's SRCS (the rockspec
-- builds through the Makefile, so SRCS is the one list of sources and a
-- forgotten file would be missing from every build) or a listed one is gone.
local version, path = arg[1], arg[2]
local ok = true
local function bad(msg) print("check-sources: " .. msg); ok = false end

local env = {}
local chunk = assert(loadfile(path, "t", env))
chunk()
local want_file = ("mailauth-%s-1.rockspec"):format(version)
if not path:find(want_file, 1, true) then bad(path .. " should be named " .. want_file) end
if env.version ~= version .. "-1" then
  bad(("rockspec version %s, src/mailauth.h says %s"):format(tostring(env.version), version))
end
local tarball = ("mailauth-%s.tar.gz"):format(version)
if not (env.source and env.source.url or ""):find(tarball, 1, true) then
  bad("source.url should name " .. tarball .. " (what make dist writes)")
end
if (env.source and env.source.dir) ~= "mailauth-" .. version then
  bad("source.dir should be mailauth-" .. version)
end

local listed = {}
for i = 3, #arg do listed[arg[i]] = true end
local p = io.popen("find src -name '*.c'")
local found = {}
for file in p:lines() do
  found[file] = true
  if not listed[file] then bad(file .. " is not in the Makefile's SRCS") end
end
p:close()
for file in pairs(listed) do
  if not found[file] then bad("SRCS names " .. file .. ", which does not exist") end
end
if ok then print("check-sources: rockspec " .. version .. " and the Makefile's sources agree") end
os.exit(ok and 0 or 1)
