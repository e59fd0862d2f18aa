-- libmailauth as a C host gets it: `make install` into a DESTDIR tree,
-- then examples/c/check.c built with nothing but
-- `pkg-config --cflags --libs mailauth` against that tree, and run: it
-- verifies the DKIM signature of a demo message (offline, over the demo
-- zone files; with `make test`, also over the ldns resolver asking Knot on
-- loopback), and finds a tampered copy failing.  The same program linked
-- with libmailauth.a runs with no library path at all.
local helpers = require "spec.support.helpers"

local function sh(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local function succeeded(a) return a == true or a == 0 end
local function exit_code(a, _, c)
  if type(a) == "number" then return math.floor(a / 256) end
  return c
end

describe("make install and the C example", function()
  -- C code, the same under every Lua ABI: checked under Lua 5.4
  if not (_VERSION == "Lua 5.4" and not rawget(_G, "jit")) and not os.getenv("MAILAUTH_ALL_ABIS") then
    pending("checked under Lua 5.4 only: libmailauth has no Lua in it")
    return
  end
  if not succeeded(os.execute("command -v pkg-config >/dev/null 2>&1")) then
    pending("pkg-config is not installed")
    return
  end
  local tmp = os.tmpname()
  os.remove(tmp)
  local dest = tmp .. "/dest"
  assert(succeeded(os.execute("mkdir -p " .. sh(tmp))))
  teardown(function() os.execute("rm -rf " .. sh(tmp)) end)
  local pc = ("PKG_CONFIG_PATH=%s PKG_CONFIG_SYSROOT_DIR=%s"):format(
    sh(dest .. "/usr/lib/pkgconfig"), sh(dest))
  local bin = tmp .. "/check"

  -- Returns the exit code and the output of the example.
  local function check(env, args)
    local out = tmp .. "/out"
    local code = exit_code(os.execute(("%s %s %s > %s 2>&1"):format(env, sh(bin), args, sh(out))))
    return code, helpers.read(out)
  end

  it("installs the library, its header and pkg-config file, the CLI and the man page", function()
    local log = tmp .. "/install.log"
    assert(succeeded(os.execute(("make --no-print-directory install LUA=lua5.4 DESTDIR=%s PREFIX=/usr > %s 2>&1")
      :format(sh(dest), sh(log)))), helpers.read(log))
    local version = helpers.read("src/mailauth.h"):match('#define MAUTH_VERSION "([^"]+)"')
    for _, f in ipairs({ "lib/libmailauth.so.0", "lib/libmailauth.so", "lib/libmailauth.a",
                         "lib/libmailauth.so." .. version, "include/mailauth.h",
                         "lib/pkgconfig/mailauth.pc", "bin/mailauth", "share/man/man1/mailauth.1",
                         "lib/lua/5.4/mailauth/core.so", "share/lua/5.4/mailauth/init.lua" }) do
      assert.is_truthy(io.open(dest .. "/usr/" .. f), "not installed: " .. f)
    end
    local p = io.popen("readelf -d " .. sh(dest .. "/usr/lib/libmailauth.so") .. " 2>/dev/null")
    local dyn = p:read("*a")
    p:close()
    assert.matches("%(SONAME%)%s+Library soname: %[libmailauth%.so%.0%]", dyn)
    assert.matches("^#!/usr/bin/env lua5%.4\n", helpers.read(dest .. "/usr/bin/mailauth"))
  end)

  it("builds examples/c/check.c with pkg-config only", function()
    local p = io.popen(pc .. " pkg-config --cflags --libs mailauth")
    local flags = p:read("*l")
    p:close()
    -- the flags name the installed tree, never the checkout
    assert.matches("%-I" .. dest:gsub("%p", "%%%0") .. "/usr/include", flags)
    assert.is_nil(flags:find("src", 1, true))
    local log = tmp .. "/cc.log"
    assert(succeeded(os.execute(("cc -std=c99 -Wall -Wextra -Werror -o %s examples/c/check.c %s > %s 2>&1")
      :format(sh(bin), flags, sh(log)))), helpers.read(log))
  end)

  local env = "LD_LIBRARY_PATH=" .. sh(dest .. "/usr/lib")
  local zones = "-z examples/zones/example.net.zone -t 1795700000"

  it("verifies a message, and fails a tampered copy", function()
    local code, out = check(env, zones .. " examples/messages/own-server.eml")
    assert.are.equal(0, code, out)
    assert.are.equal("dkim=pass d=example.net s=mx2026\n", out)
    local msg = helpers.read("examples/messages/own-server.eml")
    local tampered = msg:gsub("\nSubject: ([^\r\n]*)", "\nSubject: %1 (changed)", 1)
    assert.are_not.equal(msg, tampered)
    helpers.write(tmp .. "/tampered.eml", tampered)
    code, out = check(env, zones .. " " .. sh(tmp .. "/tampered.eml"))
    assert.are.equal(1, code, out)
    assert.matches("^dkim=fail d=example%.net s=mx2026 ", out)
    -- a nameserver where nothing answers: the key lookup is a temperror
    code, out = check(env, "-n 127.0.0.1@9 -t 1795700000 examples/messages/own-server.eml")
    assert.are.equal(3, code, out)
  end)

  it("runs linked with libmailauth.a, needing no library path", function()
    local p = io.popen(pc .. " pkg-config --static --cflags --libs mailauth")
    local flags = p:read("*l")
    p:close()
    local static = flags:gsub("%-lmailauth", "-Wl,-Bstatic -lmailauth -Wl,-Bdynamic")
    local log = tmp .. "/cc-static.log"
    assert(succeeded(os.execute(("cc -std=c99 -o %s examples/c/check.c %s > %s 2>&1")
      :format(sh(bin), static, sh(log)))), helpers.read(log))
    local code, out = check("", zones .. " examples/messages/own-server.eml")
    assert.are.equal(0, code, out)
    assert.are.equal("dkim=pass d=example.net s=mx2026\n", out)
  end)

  it("asks Knot on loopback through the ldns resolver #integration", function()
    local ns = helpers.test_nameserver()
    if not ns then
      pending("MAILAUTH_TEST_NS is not set (make test starts Knot)")
      return
    end
    -- spec/fixtures/zones/interop.example.zone holds the key of dkimpy's messages
    local code, out = check(env, "-n " .. sh(ns) .. " -t 1764000000 spec/fixtures/interop/dkim-rsa-relaxed.eml")
    assert.are.equal(0, code, out)
    assert.matches("^dkim=pass d=", out)
    code, out = check(env, "-n " .. sh(ns) .. " -t 1764000000 spec/fixtures/interop/dkim-body-tampered.eml")
    assert.are.equal(1, code, out)
  end)
end)
