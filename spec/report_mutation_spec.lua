-- The report reader on damaged reports: the RFC 9990 sample and a real
-- gzipped, zipped and mailed report from ../shared/testdata, each with
-- bytes flipped, cut or repeated (a seeded generator: the same cases every
-- run).  The reader is called without mailauth.report.parse's pcall, so
-- any Lua error of its own fails the case: container.lua reads offsets and
-- sizes out of the zip and MIME data it is given, and a wrong bound there
-- indexes past the data or loops.  Every case must give a report table or
-- nil and a problem string.
local mailauth = require "mailauth"
-- the reader itself, without the pcall of mailauth.report.parse
local inner = require("mailauth.report.parse").parse
local helpers = require "spec.support.helpers"

describe("mailauth.report.parse on damaged input", function()
  local DIR = helpers.testdata("dmarc-report/")
  if not DIR then pending("skipped: ../shared/testdata/dmarc-report absent") return end
  for _, m in ipairs { "lxp", "zlib" } do
    if not pcall(require, m) then pending("skipped: " .. m .. " is not installed") return end
  end
  -- a small LCG, so the cases do not depend on math.random's Lua version
  local state = 12345
  local function rand(n)
    state = (state * 1103515245 + 12345) % 2147483648
    return state % n + 1
  end
  local function damage(s)
    local kind = rand(3)
    if kind == 1 then -- flip a byte
      local i = rand(#s)
      return s:sub(1, i - 1) .. string.char(rand(256) - 1) .. s:sub(i + 1)
    elseif kind == 2 then -- cut
      return s:sub(1, rand(#s))
    end
    local i, j = rand(#s), rand(#s) -- repeat a slice
    if i > j then i, j = j, i end
    return s:sub(1, j) .. s:sub(i, j) .. s:sub(j + 1)
  end
  for _, file in ipairs { "rfc/rfc9990-appendix-b.xml",
                          "mox/attachments/mail.ru!ueber.net!1559779200!1559865600.xml.gz",
                          "mox/attachments/google.com!ueber.net!1633996800!1634083199.zip",
                          "stalwart/101.eml" } do
    it("never raises on 300 damaged copies of " .. file, function()
      local data = helpers.read(DIR .. file)
      local parsed, refused = 0, 0
      for _ = 1, 300 do
        local ok, r, err = pcall(inner, damage(data))
        assert(ok, r)
        if r then
          assert.is_table(r.records)
          parsed = parsed + 1
        else
          assert.is_string(err)
          refused = refused + 1
        end
      end
      assert.are.equal(300, parsed + refused)
    end)
  end
end)
