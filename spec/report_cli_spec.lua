-- `mailauth report record|aggregate|summary` and `mailauth check
-- --report-store` as a user runs them: bin/mailauth under the Lua running
-- the specs, DNS from a zone file (offline), a SQLite store in a temp dir.
-- The summary's totals are reports.tsv's count sums (../shared/testdata).
local helpers = require "spec.support.helpers"

local LUA = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
local function sh(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function mailauth(args)
  local out, err = os.tmpname(), os.tmpname()
  local a, _, c = os.execute(("%s bin/mailauth %s >%s 2>%s </dev/null"):format(LUA, args,
    sh(out), sh(err)))
  local code = c
  if type(a) == "number" then code = math.floor(a / 256) end
  local o, e = helpers.read(out), helpers.read(err)
  os.remove(out)
  os.remove(err)
  return code, o, e
end

describe("mailauth report (command line)", function()
  local f = io.open("build/" .. LUA .. "/mailauth/core.so")
  if not f then
    pending("no build/" .. LUA .. "/mailauth/core.so (make LUA=" .. LUA .. ")")
    return
  end
  f:close()
  local missing = {}
  for _, m in ipairs { "luasql.sqlite3", "zlib", "lxp" } do
    if not pcall(require, m) then missing[#missing + 1] = m end
  end
  if #missing > 0 then
    pending("skipped: " .. table.concat(missing, ", ") .. " not installed for " .. LUA
            .. " (Debian lua-sql-sqlite3, lua-zlib, lua-expat)")
    return
  end

  local dir
  before_each(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. sh(dir)))
    helpers.write(dir .. "/zone", [[
example.org. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
_dmarc.example.org. 300 IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.org"
]])
    helpers.write(dir .. "/m.eml", "From: a@example.org\r\nSubject: x\r\n\r\nbody\r\n")
  end)
  after_each(function() os.execute("rm -rf " .. sh(dir)) end)

  it("records checked messages and writes the day's report and its message", function()
    local db = dir .. "/store.db"
    local base = ("--zone %s --ip 192.0.2.1 --sender b@example.org --report-store %s --now 1700000100 ")
                 :format(sh(dir .. "/zone"), sh(db))
    local code, out = mailauth(base .. "check " .. sh(dir .. "/m.eml"))
    assert.are.equal(0, code)
    assert.matches("dmarc=pass", out)
    code, out = mailauth(base .. "--rcpt u@dest.example report record " .. sh(dir .. "/m.eml")
                         .. " " .. sh(dir .. "/m.eml"))
    assert.are.equal(0, code, out)
    assert.matches("^2 messages checked, 2 recorded", out)
    code, out = mailauth(("--zone %s --report-store %s --org-name Receiver --email dmarc@receiver.example "
                          .. "--begin 1700000000 --end 1700086400 --now 1700086500 --out %s report aggregate")
                         :format(sh(dir .. "/zone"), sh(db), sh(dir)))
    assert.are.equal(0, code)
    local name = "receiver.example!example.org!1700000000!1700086399!"
    assert.is_truthy(out:find(name, 1, true), out)
    assert.matches("2 records, 3 messages %-> dmarc@example%.org", out)
    local file = out:match("^(%S+%.xml%.gz):")
    local eml = helpers.read(dir .. "/" .. file:gsub("%.xml%.gz$", ".eml"))
    assert.matches("Subject: Report Domain: example%.org", eml)
    -- the summary of the report just written: the three messages
    code, out = mailauth("report summary " .. sh(dir .. "/" .. file))
    assert.are.equal(0, code)
    assert.matches("^1 reports, 3 messages\n", out)
  end)

  it("sums reports as reports.tsv counts them, and says which file is not a report", function()
    local D = helpers.testdata("dmarc-report/")
    if not D then pending("skipped: ../shared/testdata/dmarc-report absent") return end
    local files, sum = { "parsedmarc/nice-input.xml.gz", "rfc/rfc9990-appendix-b.xml",
                         "stalwart/003.xml", "mox/google.eml" }, 0
    for line in helpers.read(D .. "reports.tsv"):gmatch("[^\n]+") do
      local name, n = line:match("^([^\t]+)\t" .. ("[^\t]*\t"):rep(6) .. "(%d+)\t")
      for _, want in ipairs(files) do
        if name == want then sum = sum + tonumber(n) end
      end
    end
    local args = {}
    for i, p in ipairs(files) do args[i] = sh(D .. p) end
    local code, out = mailauth("report summary " .. table.concat(args, " "))
    assert.are.equal(0, code)
    assert.matches(("^4 reports, %d messages\n"):format(sum), out)
    code, out = mailauth("report summary " .. args[2] .. " " .. sh(D .. "parsedmarc/invalid_xml.xml"))
    assert.are.equal(4, code)
    assert.matches("^1 reports, 123 messages", out)
  end)

  it("exits 2 for a usage mistake and documents the commands", function()
    assert.are.equal(2, (mailauth("report")))
    assert.are.equal(2, (mailauth("report frobnicate")))
    assert.are.equal(2, (mailauth("--report-store " .. sh(dir .. "/s.db") .. " report aggregate")))
    assert.are.equal(2, (mailauth("report summary")))
    local code, out = mailauth("--help")
    assert.are.equal(0, code)
    assert.matches("report summary FILE", out)
    assert.matches("%-%-report%-store STORE", out)
  end)
end)
