-- check-sources.lua ROCKSPEC SRC...: fails when the C sources of
-- mailauth.core in the rockspec differ from the Makefile's SRCS, or when a
-- Lua module under lua/ is missing from the rockspec.
local path = arg[1]
local env = {}
local chunk = assert(loadfile(path, "t", env))
chunk()
local listed = {}
for _, s in ipairs(env.build.modules["mailauth.core"].sources) do listed[s] = true end
local ok = true
local made = {}
for i = 2, #arg do
  made[arg[i]] = true
  if not listed[arg[i]] then print("rockspec lacks " .. arg[i]); ok = false end
end
for s in pairs(listed) do
  if not made[s] then print("Makefile lacks " .. s); ok = false end
end
local p = io.popen("ls lua/mailauth/*.lua")
for file in p:lines() do
  local mod = file:gsub("^lua/", ""):gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", ".")
  if env.build.modules[mod] ~= file then
    print(("rockspec lacks module %s = %s"):format(mod, file)); ok = false
  end
end
p:close()
if ok then print("check-sources: rockspec and Makefile agree") end
os.exit(ok and 0 or 1)
