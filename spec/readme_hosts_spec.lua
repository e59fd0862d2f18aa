-- The README's host snippets (its "Hosts" section) are verbatim parts of the
-- example files the integration specs run unchanged in a real Rspamd and a
-- real HAProxy (spec/rspamd_check_spec.lua, spec/haproxy_example_spec.lua),
-- so they cannot drift from what was run.
local helpers = require "spec.support.helpers"

local function section(text)
  local from = assert(text:find("### Hosts: Rspamd, HAProxy, plain scripts", 1, true))
  local to = text:find("\n## ", from, true) or #text
  return text:sub(from, to)
end

local function blocks(text)
  local out = {}
  for body in text:gmatch("```[%w]*\n(.-)```") do out[#out + 1] = body end
  return out
end

describe("README host snippets", function()
  local readme = section(helpers.read("README.md"))
  local list = blocks(readme)

  it("are four blocks, each from its example file", function()
    assert.are.equal(4, #list)
  end)

  it("give rspamd.conf.local the lines examples/rspamd/mailauth.conf says", function()
    local conf = helpers.read("examples/rspamd/mailauth.conf")
    for line in list[1]:gmatch("[^\n]+") do
      assert(conf:find("#     " .. line, 1, true), "not in mailauth.conf: " .. line)
    end
  end)

  it("quote the rule as examples/rspamd/mailauth.lua has it", function()
    assert(helpers.read("examples/rspamd/mailauth.lua"):find(list[2], 1, true), list[2])
  end)

  it("quote examples/haproxy/haproxy.cfg as it is", function()
    local cfg = helpers.read("examples/haproxy/haproxy.cfg")
    assert(cfg:find(list[3], 1, true), list[3])
    assert(cfg:find(list[4], 1, true), list[4])
    assert.matches("inspect%-delay", list[4])
    assert.matches("lua%-load", list[3])
    assert.matches("lua%-prepend%-path", list[3])
  end)
end)
