-- The reference manual (doc/api/mailauth.luadoc, LDoc) against the code:
-- every option each public function accepts is documented under that
-- function, and nothing documented is an option the function refuses; an
-- unknown name raises, naming the function.  With LDoc installed (Debian
-- lua-ldoc), the manual builds and the HTML names every option.
local mailauth = require "mailauth"
local helpers = require "spec.support.helpers"

-- function name -> { option = true } as the manual documents them
local function documented()
  local doc, fn = {}, nil
  for line in helpers.read("doc/api/mailauth.luadoc"):gmatch("[^\n]+") do
    local name = line:match("^%-%- @function ([%w_.]+)")
    if name then fn = name; doc[fn] = doc[fn] or {} end
    local opt = line:match("^%-%- @t?param%S* .-opts%.([%w_]+)")
    if fn and opt then doc[fn][opt] = true end
  end
  return doc
end

-- function name -> { option = true } as the code declares them
local function accepted()
  local decls = {}
  for name, decl in pairs(require("mailauth.internal").options) do decls[name] = decl end
  decls.check = require("mailauth.check")._options
  local out = {}
  for name, decl in pairs(decls) do
    out[name] = {}
    for _, d in ipairs(decl.list) do out[name][d.name] = true end
  end
  return out
end

local function keys(t)
  local k = {}
  for name in pairs(t) do k[#k + 1] = name end
  table.sort(k)
  return k
end

describe("the reference manual", function()
  local doc, code = documented(), accepted()

  it("documents every option of every public function, and no other", function()
    for _, fn in ipairs(keys(code)) do
      assert.is_truthy(doc[fn], "no @function " .. fn .. " in doc/api/mailauth.luadoc")
      assert.are.same(keys(code[fn]), keys(doc[fn]), "the options of mailauth." .. fn)
    end
  end)

  -- How each function is called with one more option (the minimum it needs).
  local CALLS = {
    check = function(o) o.ip = "192.0.2.1"; return mailauth.check("From: a@example.org\r\n\r\n", o) end,
    iprev = function(o) return mailauth.iprev("192.0.2.1", o) end,
    ptr = function(o) return mailauth.ptr("192.0.2.1", o) end,
    spf = function(o) o.ip = "192.0.2.1"; return mailauth.spf(o) end,
    spf_received = function(o) return mailauth.spf_received({ result = "none" }, o) end,
    dmarc = function(o) o.from = "example.org"; return mailauth.dmarc(o) end,
    org_domain = function(o) return mailauth.org_domain("example.org", o) end,
    dkim_verify = function(o) return mailauth.dkim_verify("From: a@example.org\r\n\r\n", o) end,
    dkim_sign = function(o) return mailauth.dkim_sign("From: a@example.org\r\n\r\n", o) end,
    arc_verify = function(o) return mailauth.arc_verify("From: a@example.org\r\n\r\n", o) end,
    arc_seal = function(o) return mailauth.arc_seal("From: a@example.org\r\n\r\n", o) end,
    resolver = function(o) return mailauth.resolver(o) end,
    ["report.record"] = function(o) return mailauth.report.record({}, o) end,
    ["report.store"] = function(o) o.sqlite = ":memory:"; return mailauth.report.store(o) end,
    ["report.aggregate"] = function(o)
      return mailauth.report.aggregate({ collect = function() return {} end }, o)
    end,
    ["report.message"] = function(o) return mailauth.report.message("", o) end,
    ["report.parse"] = function(o) return mailauth.report.parse("", o) end,
    received = function(o) return mailauth.received("Received: from a (b [192.0.2.1])\r\n\r\n", o) end,
  }

  it("has every public function that takes options raise on an unknown one", function()
    for _, fn in ipairs(keys(code)) do
      local call = assert(CALLS[fn], "no call for " .. fn)
      local ok, err = pcall(call, { frobnicate = 1 })
      assert.is_false(ok, fn .. " took an unknown option")
      assert.matches("^[^\n]*mailauth%." .. fn .. ": option 'frobnicate' is unknown", err)
    end
  end)

  it("builds with LDoc and names every option in the HTML", function()
    local ldoc = io.popen("command -v ldoc 2>/dev/null"):read("*l")
    if not ldoc or ldoc == "" then
      pending("ldoc is not installed (Debian lua-ldoc): the HTML is not built")
      return
    end
    local out = os.tmpname()
    os.remove(out)
    local ok = os.execute(("cd doc && lua5.4 %s -c config.ld -d %s . >/dev/null 2>&1"):format(ldoc, out))
    assert.is_truthy(ok == true or ok == 0, "ldoc failed")
    local html = helpers.read(out .. "/index.html")
    os.execute("rm -rf '" .. out .. "'")
    for _, fn in ipairs(keys(code)) do
      assert.is_truthy(html:find('<a name = "' .. fn .. '"', 1, true), "no entry for " .. fn)
      for opt in pairs(code[fn]) do
        assert.is_truthy(html:find(opt, 1, true), fn .. "'s option " .. opt .. " is not in the HTML")
      end
    end
  end)
end)
