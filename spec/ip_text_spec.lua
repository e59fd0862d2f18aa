-- The core's IP address text (src/core/ip.c: ip_parse, ip_format, written
-- by hand because inet_pton and inet_ntop cost hundreds of instructions per
-- SPF term) against the C library's inet_pton / inet_ntop as the oracle:
-- spec/support/ip_text_oracle.c over random and mutated address texts.
package.path = "spec/support/?.lua;" .. package.path
local cstress = require "cstress"

describe("IP address text", function()
  -- C code, the same under every Lua ABI: run under Lua 5.4
  -- (MAILAUTH_ALL_ABIS=1 for all).
  if not (_VERSION == "Lua 5.4" or os.getenv("MAILAUTH_ALL_ABIS")) then
    pending("checked under Lua 5.4 only: the parser is C code")
    return
  end

  it("parses and writes IPv4 and IPv6 text exactly as inet_pton / inet_ntop", function()
    local bdir = assert(cstress.build_dir(), "no build directory for this Lua")
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. cstress.sh_quote(dir)))
    local san = bdir:match("asan") and " -fsanitize=address,undefined" or ""
    local bin = dir .. "/ip_text_oracle"
    cstress.compile("cc", "-O1 -g" .. san, "ip_text_oracle", cstress.core_objects(bdir), bin,
                    dir .. "/cc.log")
    local p = assert(io.popen(cstress.sh_quote(bin) .. " 200000"))
    local out = p:read("*a")
    local ok = p:close()
    os.execute("rm -rf " .. cstress.sh_quote(dir))
    local passed, failed = out:match("(%d+) passed, (%d+) failed")
    assert.is_truthy(passed, out)
    assert.equal("0", failed, out)
    assert.is_true(tonumber(passed) > 500000, out)
    assert.is_truthy(ok, out)
  end)
end)
