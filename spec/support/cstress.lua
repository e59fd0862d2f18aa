-- cstress.lua: what the C stress tests of the process-wide caches share
-- (spec/dkim_keycache_spec.lua, spec/spf_cache_spec.lua): building a
-- program against the core objects of the Lua build under test or of a
-- ThreadSanitizer build, and running it.
local F = require "dkimfix"

local M = {}

function M.sh_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
local q = M.sh_quote

local function succeeded(ok) return ok == true or ok == 0 end

-- The build directory whose mailauth/core.so this Lua loads.
function M.build_dir()
  for entry in package.cpath:gmatch("[^;]+") do
    local dir = entry:match("^(.*)/%?%.so$")
    if dir and F.slurp(dir .. "/mailauth/core.so") then return dir end
  end
end

-- The core's objects in bdir (everything but the Lua binding), quoted:
-- the objects of the sources the Makefile lists, so that a stale object
-- left by an older layout of src/ is never linked in.
function M.core_objects(bdir)
  local objs = {}
  local p = io.popen("make -s --no-print-directory print-srcs")
  for src in p:read("*a"):gmatch("%S+") do
    objs[#objs + 1] = q(bdir .. "/obj/" .. src:gsub("^src/", ""):gsub("%.c$", ".o"))
  end
  p:close()
  return table.concat(objs, " ")
end

-- Compiles spec/support/<name>.c with objs into out; raises with the log.
function M.compile(cc, flags, name, objs, out, log)
  local libs = io.popen("make -s --no-print-directory print-libs"):read("*l")
  local ok = os.execute(("env -u LD_PRELOAD %s -std=c99 %s -Wall -Wextra -Werror "
    .. "-D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -Isrc -o %s "
    .. "spec/support/%s.c %s %s -lpthread >%s 2>&1")
    :format(cc, flags, q(out), name, objs, libs, q(log)))
  assert(succeeded(ok), "cannot build " .. name .. ": " .. tostring(F.slurp(log)))
end

-- Runs bin DIR THREADS PASSES (env: "VAR=... " prefix or nil); returns
-- whether it exited 0, its stdout and its stderr.
function M.run(bin, dir, threads, passes, env)
  local log = dir .. "/run.log"
  local p = io.popen(("env -u LD_PRELOAD %s %s %s %d %d 2>%s"):format(env or "",
                     q(bin), q(dir), threads, passes, q(log)))
  local out = p:read("*a")
  local ok = p:close()
  return succeeded(ok), out, F.slurp(log) or ""
end

-- A compiler here that links -fsanitize=thread programs, or nil.
function M.tsan_cc(dir)
  for _, cc in ipairs { "clang", "gcc" } do
    local ok = os.execute(("echo 'int main(void){return 0;}' | %s -fsanitize=thread -x c - "
      .. "-o %s/tsan_probe >/dev/null 2>&1"):format(cc, q(dir)))
    if succeeded(ok) then return cc end
  end
end

M.TSAN_FLAGS = "-fsanitize=thread -fno-omit-frame-pointer"

-- The core built with ThreadSanitizer by make into build/tsan (shared by
-- the specs and the three Lua ABIs); returns that directory.
function M.tsan_build(cc, dir)
  local log = dir .. "/tsan-build.log"
  local ok = os.execute(("env -u LD_PRELOAD make -s --no-print-directory -j2 BUILD=build/tsan "
    .. "LUA=lua5.4 CC=%s SAN=%s OPT='-O1 -g' all >%s 2>&1"):format(cc, q(M.TSAN_FLAGS), q(log)))
  assert(succeeded(ok), "tsan build: " .. tostring(F.slurp(log)))
  return "build/tsan"
end

-- spec/support/<name>.c linked with a ThreadSanitizer build of the core
-- and run THREADS x PASSES (env: extra TSAN_OPTIONS); returns whether it
-- exited 0, its stdout and its stderr, or nil when no compiler here has
-- -fsanitize=thread.
function M.run_tsan(name, dir, threads, passes, options)
  local cc = M.tsan_cc(dir)
  if not cc then return nil end
  local bin = dir .. "/" .. name .. "_tsan"
  M.compile(cc, "-O1 -g " .. M.TSAN_FLAGS, name, M.core_objects(M.tsan_build(cc, dir)),
            bin, dir .. "/tsan-link.log")
  return M.run(bin, dir, threads, passes,
               "TSAN_OPTIONS='exitcode=66" .. (options and " " .. options or "") .. "'")
end

return M
