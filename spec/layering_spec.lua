-- make check-layering (spec/support/check-layering.sh): the folders of src/
-- are the layers, and the check must pass on the tree and fail, naming the
-- rule, on each kind of violation made in a copy of it.  Without the check
-- (the script reduced to "exit 0") every case but the first fails.
local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1; echo \"rc=$?\"")
  local out = p:read("*a")
  p:close()
  local rc = tonumber(out:match("rc=(%d+)%s*$"))
  return rc, out
end

local function copy_tree()
  local dir = os.tmpname()
  os.remove(dir)
  assert(sh(("mkdir -p '%s' && cp -r src '%s/src'"):format(dir, dir)) == 0)
  return dir .. "/src", dir
end

local function append(path, line)
  local f = assert(io.open(path, "a"))
  f:write("\n", line, "\n")
  f:close()
end

describe("make check-layering", function()
  it("passes on the tree as it is", function()
    local rc, out = sh("sh spec/support/check-layering.sh src")
    assert.are.equal(0, rc, out)
    assert.matches("keeps its layers", out)
  end)

  local violations = {
    { "ldns in a protocol", "spf/spf.c", "#include <ldns/ldns.h>", "ldns outside src/dns" },
    { "a socket call in the core", "core/util.c", "static int f(void) { return socket(2, 1, 0); }",
      "sockets outside src/dns" },
    { "lua.h in the core", "core/arena.c", '#include "lua.h"', "lua.h outside src/lua" },
    { "OpenSSL outside crypto.c", "dkim/dkim_sign.c", "#include <openssl/evp.h>",
      "OpenSSL outside src/core/crypto.c" },
    { "the core including a protocol", "core/check.c", '#include "spf/spf.h"',
      "core includes spf/spf.h" },
    { "a protocol including another's internals", "dmarc/dmarc.c", '#include "spf/spf_macro.h"',
      "internals of spf" },
    { "a protocol including a driver", "iprev.c", '#include "dns/dnswire.h"',
      "iprev.c includes dns/dnswire.h" },
    { "an include naming no folder", "arc/arc_seal.c", '#include "message.h"',
      "names no folder" },
  }
  for _, v in ipairs(violations) do
    it("fails on " .. v[1], function()
      local src, top = copy_tree()
      append(src .. "/" .. v[2], v[3])
      local rc, out = sh(("sh spec/support/check-layering.sh '%s'"):format(src))
      sh(("rm -rf '%s'"):format(top))
      assert.are.equal(1, rc, out)
      assert.matches(v[4], out, 1, true)
      assert.matches(v[2], out, 1, true)
    end)
  end
end)
