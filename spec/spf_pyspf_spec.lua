-- Differential test: mailauth.spf against pyspf (Debian python3-spf, run
-- by /usr/bin/python3 at test time, fully offline: its DNS lookup is
-- replaced by the same zone data, spec/support/pyspf_oracle.py).
-- The 240 cases are generated with a fixed seed by
-- spec/support/gen_spf_cases.lua at test time (into a temporary file for
-- pyspf; every Lua generates the same bytes).
-- pyspf is required (spec/support/deps.sh installs python3-spf): a missing
-- oracle is a failure, not a skip.
local cjson = require "cjson"
local mailauth = require "mailauth"

local GENERATOR = "spec/support/gen_spf_cases.lua"
local ORACLE = "/usr/bin/python3 spec/support/pyspf_oracle.py "

-- Where pyspf and RFC 7208 part ways, the RFC answer is asserted here
-- (and pyspf's, to notice if the data or pyspf changes).
local SELF_INCLUDE = "RFC 7208 §4.6.2/§5.2: terms are evaluated left to right and the first match "
  .. "decides; pyspf rejects any record that includes itself before evaluating it ('include has "
  .. "trivial recursion'), but a loop is only an error once reached (§4.6.4 limits end it)"
local VOID_TERMS = "RFC 7208 §4.6.4: the void limit counts \"terms\" whose lookup returned nothing "
  .. "(the mechanism's own A/AAAA, MX, PTR query); pyspf also counts each MX host's and each PTR "
  .. "name's address lookup, so MX hosts without an address of the client's family exceed it"
local DIFFERS = {
  [2] = { "softfail", "permerror", SELF_INCLUDE },
  [4] = { "softfail", "permerror", SELF_INCLUDE },
  [9] = { "softfail", "permerror", SELF_INCLUDE },
  [61] = { "pass", "permerror", SELF_INCLUDE },
  [62] = { "pass", "permerror", SELF_INCLUDE },
  [63] = { "pass", "permerror", SELF_INCLUDE },
  [64] = { "pass", "permerror", SELF_INCLUDE },
  [65] = { "pass", "permerror", SELF_INCLUDE },
  [67] = { "pass", "permerror", SELF_INCLUDE },
  [68] = { "pass", "permerror", SELF_INCLUDE },
  [69] = { "pass", "permerror", SELF_INCLUDE },
  [70] = { "pass", "permerror", SELF_INCLUDE },
  [83] = { "fail", "permerror", VOID_TERMS },
  [128] = { "fail", "permerror", VOID_TERMS },
  [185] = { "pass", "permerror", SELF_INCLUDE },
  [190] = { "pass", "permerror", SELF_INCLUDE },
  [231] = { "pass", "permerror", SELF_INCLUDE },
  [239] = { "fail", "permerror", SELF_INCLUDE },
}

-- The fake DNS over a generated zone; a node with TIMEOUT = true times out
-- for every type it does not list.
local fakedns = require "fakedns"
local function resolver(zone)
  for _, node in pairs(zone) do
    if node.TIMEOUT then node.fault = { unlisted = "TIMEOUT" } end
  end
  return fakedns.new(zone).resolve
end

describe("SPF differential against pyspf (240 generated cases)", function()
  local text = dofile(GENERATOR)
  local data = cjson.decode(text)
  local cases = os.tmpname()
  local f = assert(io.open(cases, "wb"))
  f:write(text)
  f:close()
  local pipe = assert(io.popen(ORACLE .. cases .. " 2>&1"))
  local out = pipe:read("*a")
  pipe:close()
  os.remove(cases)
  local ok, oracle = pcall(cjson.decode, out)

  it("runs pyspf offline under /usr/bin/python3", function()
    assert.is_true(ok and type(oracle) == "table", "pyspf oracle failed: " .. out:sub(1, 300))
    local n = 0
    for _ in pairs(oracle) do n = n + 1 end
    assert.are.equal(#data.cases, n)
    assert.is_true(#data.cases >= 200)
  end)

  for _, c in ipairs(data.cases) do
    local id = math.floor(c.id)
    local differs = DIFFERS[id]
    local title = ("case %d (%s, %s)"):format(id, c.ip, c.sender ~= "" and c.sender or "<> " .. c.helo)
    if differs then title = title .. ": RFC 7208 " .. differs[1] .. ", pyspf " .. differs[2] end
    it(title, function()
      assert.is_table(oracle)
      local o = oracle[("%d"):format(id)]
      local r = mailauth.spf{
        ip = c.ip, sender = c.sender, helo = c.helo,
        resolver = resolver(data.zones[math.floor(c.zone)]),
        receiver = "receiver.example", now = data.now, default_explanation = "DEFAULT",
      }
      if differs then
        assert.are.equal(differs[2], o[1])
        assert.are.equal(differs[1], r.result)
        return
      end
      assert.are.equal(o[1], r.result)
      if r.result == "fail" then
        -- pyspf writes IPv6 %{i} nibbles in upper case; DNS and the RFC
        -- do not care, so explanations are compared without case.
        assert.are.equal(tostring(o[2]):lower(), tostring(r.explanation):lower())
      end
    end)
  end
end)
