-- Loads the ValiMail ARC suites (../shared/testdata/arc/SOURCES.md) and serves a
-- scenario's txt-records as a Lua-function resolver.
--
-- Harness rules (from the suite's README and its runner):
--  * messages are YAML blocks with LF line ends: converted to CRLF;
--  * a txt-records name answers its one TXT record; any other name is
--    NXDOMAIN;
--  * cv values compare case-insensitively; "" (three tests whose newest
--    seal says cv=fail) is scored apart, against RFC 8617 §5.2 step 2: fail.
local lyaml = require "lyaml"
local fakedns = require "fakedns"
local helpers = require "spec.support.helpers"

local M = {}

local read = helpers.read

-- lyaml cuts strings at a NUL byte; the ARC suites hold none, but keep the
-- SPF loader's guard so a future copy with "\0" fails loudly.
local NUL_MARK = "\226\144\128"
function M.load(path)
  local text = read(path)
  assert(not text:find(NUL_MARK, 1, true))
  assert(not text:find("\\0", 1, true), "suite holds \\0 escapes")
  return lyaml.load(text, { all = true })
end

function M.crlf(s)
  return (s:gsub("\r?\n", "\r\n"))
end

-- The fake DNS over { [name] = "TXT record" } (line breaks dropped):
-- its resolve function, and the fake itself (for its log).
function M.resolver(records)
  local zone = {}
  for name, txt in pairs(records or {}) do
    zone[name:lower()] = { TXT = { (txt:gsub("\n", "")) } }
  end
  return fakedns.resolver(zone)
end

-- Tests in a stable order: { scenario, name, test }.
function M.tests(docs)
  local out = {}
  for si, doc in ipairs(docs) do
    local names = {}
    for name in pairs(doc.tests or {}) do names[#names + 1] = name end
    table.sort(names)
    for _, name in ipairs(names) do
      out[#out + 1] = { scenario = doc, index = si, name = name, test = doc.tests[name] }
    end
  end
  return out
end

return M
