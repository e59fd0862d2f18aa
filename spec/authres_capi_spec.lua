-- The header writers through the C API (mailauth.h: mauth_authres_format,
-- mauth_received_spf_format), from a C host that has no Lua: the program
-- spec/support/authres_capi.c, built against the core objects of the Lua
-- build under test.  What it writes must be what the binding writes for
-- the same input, byte for byte: the parsed cases of ../shared/testdata/authres
-- re-formatted, RFC 7208 §9.1's example, and the bounds.
local mailauth = require "mailauth"
local helpers = require "spec.support.helpers"
package.path = "spec/support/?.lua;" .. package.path
local cstress = require "cstress"
local authres = mailauth.authres

local function shown(s) return (s:gsub("\r", "\\r"):gsub("\n", "\\n")) end

describe("header writers through the C API", function()
  -- C code, the same under every Lua ABI: built and run under Lua 5.4
  -- (MAILAUTH_ALL_ABIS=1 for all).
  if not (_VERSION == "Lua 5.4" or os.getenv("MAILAUTH_ALL_ABIS")) then
    pending("checked under Lua 5.4 only: the writers are C code")
    return
  end
  local bdir = assert(cstress.build_dir(), "no build directory for this Lua")
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. cstress.sh_quote(dir)))
  local bin = dir .. "/authres_capi"
  -- objects of a sanitizer build (make asan) link only with its runtime
  local san = bdir:match("asan") and " -fsanitize=address,undefined" or ""
  cstress.compile("cc", "-O1 -g" .. san, "authres_capi", cstress.core_objects(bdir), bin,
                  dir .. "/cc.log")

  local function run(args, input)
    local inpath = dir .. "/in"
    local f = assert(io.open(inpath, "wb"))
    f:write(input or "")
    f:close()
    local p = assert(io.popen(cstress.sh_quote(bin) .. " " .. args .. " <" .. cstress.sh_quote(inpath)))
    local out = {}
    for line in p:lines() do out[#out + 1] = line end
    local ok = p:close()
    assert.is_truthy(ok, "authres_capi " .. args .. " failed")
    return out
  end

  teardown(function() os.execute("rm -rf " .. cstress.sh_quote(dir)) end)

  it("re-formats every strictly parsed one-line case as the binding does", function()
    local FIX = helpers.testdata("authres/")
    if not FIX then return pending("../shared/testdata/authres absent") end
    local lyaml = require "lyaml"
    local inputs, want = {}, {}
    for _, file in ipairs { "mimekit", "mail-authenticationresults", "authres-python", "go-msgauth" } do
      for _, c in ipairs(lyaml.load(helpers.read(FIX .. file .. "-cases.yml")).cases) do
        local r = c.expect == "parse" and not c.input:find("[\r\n]") and authres.parse(c.input)
        if r and r.authserv_id and r.authserv_id ~= "" then
          inputs[#inputs + 1] = c.input
          want[#want + 1] = shown(authres.format(r, nil, { fold = false }))
        end
      end
    end
    assert.is_true(#inputs >= 50, #inputs)
    assert.same(want, run("parse", table.concat(inputs, "\n") .. "\n"))
  end)

  it("writes RFC 7208 §9.1's Received-SPF in the SPF result and on demand", function()
    local out = run("spf")
    local rfc = "Received-SPF: pass (mybox.example.org: domain of myname@example.com designates "
      .. "192.0.2.1 as permitted sender) client-ip=192.0.2.1; envelope-from=\"myname@example.com\"; "
      .. "helo=foo.example.com; receiver=mybox.example.org; mechanism=\"ip4:192.0.2.0/24\"; identity=mailfrom"
    assert.equal(rfc, out[1])
    assert.equal(rfc, out[2])
    -- the binding, on the same check, writes the same three fields
    local r = mailauth.spf { ip = "192.0.2.1", sender = "myname@example.com", helo = "foo.example.com",
      receiver = "mybox.example.org",
      resolver = mailauth.resolver { zones = { 'example.com. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"\n' } } }
    assert.equal(rfc, r.received_spf)
    assert.equal(rfc, mailauth.spf_received(r, { receiver = "mybox.example.org" }))
    assert.equal(shown(authres.format({ spf = r }, "mybox.example.org")), out[3])
    assert.equal("Authentication-Results: mybox.example.org;\\r\\n\tspf=pass smtp.mailfrom=myname@example.com",
                 out[3])
  end)

  -- The bounds hold for C hosts too.  Mutation check: with choose() in
  -- authres_format.c keeping every result (no per-method count, no byte
  -- bound), this fails on the field's length (70182 bytes for these 990).
  it("bounds 990 DKIM results to 16, passes first, and counts the rest", function()
    local out = run("bounds 990")
    local field = out[1]
    assert.is_true(#field < authres.MAX_BYTES + 200, #field)
    assert.truthy(field:find("dkim=pass header.d=d496.example", 1, true))
    assert.truthy(field:find("(974 more dkim results not shown)", 1, true))
    assert.equal(16, select(2, field:gsub("dkim=", "")))
    -- the binding writes the same for the same results
    local list = {}
    for i = 1, 990 do
      list[i] = { method = "dkim", result = i == 496 and "pass" or "fail", problem = "signature did not verify",
                  properties = { { ptype = "header", property = "d", value = ("d%d.example"):format(i) } } }
    end
    assert.equal(shown(authres.format({ dkim = list }, "mx.example")), field)
    -- a buffer too small: the whole length, the start of the field, NUL-terminated
    local real = #authres.format({ dkim = list }, "mx.example")
    assert.equal(("%d Authentic"):format(real), out[2])
  end)

  it("refuses what is no keyword and a missing authserv-id", function()
    assert.same({ '-2 method "a b" is not a keyword', "-2 authserv-id required", "-2" }, run("misuse"))
  end)
end)
