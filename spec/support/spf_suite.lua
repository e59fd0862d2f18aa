-- Loads an OpenSPF test suite (YAML, see ../shared/testdata/spf/SOURCES.md) and
-- serves its zonedata as a Lua-function resolver for mailauth.spf.
--
-- Driver rules (from the suite's header and pyspf's test driver):
--  * a name absent from zonedata is NXDOMAIN; a listed name without records
--    of the asked type answers NOERROR with none;
--  * SPF (type 99) records are served as TXT only when the name lists no
--    TXT entry (RFC 7208 dropped type SPF; "TXT: NONE" only stops the copy);
--  * TIMEOUT at a name makes every type not listed there time out;
--  * a TXT given as a list is one record of several strings;
--  * CNAMEs are followed (up to 10), as a recursive resolver does.
local lyaml = require "lyaml"
local fakedns = require "fakedns"
local helpers = require "spec.support.helpers"

local M = {}

local read = helpers.read

-- lyaml cuts strings at a NUL byte, and the suites hold "\0" escapes
-- (a-null, mx-null): carry them through as U+2400 and restore the byte.
local NUL_MARK = "\226\144\128" -- UTF-8 of U+2400
local function restore_nul(v)
  if type(v) == "string" then return (v:gsub(NUL_MARK, "\0")) end
  if type(v) == "table" then
    local out = {}
    for k, x in pairs(v) do out[restore_nul(k)] = restore_nul(x) end
    return out
  end
  return v
end

function M.load(path)
  local text = read(path)
  assert(not text:find(NUL_MARK, 1, true))
  text = text:gsub("\\0", "\\u2400")
  return restore_nul(lyaml.load(text, { all = true }))
end

local function lname(n)
  n = tostring(n):lower()
  if n:sub(-1) == "." then n = n:sub(1, -2) end
  return n
end

-- zonedata -> a fakedns zone { [name] = { TXT = {...}, A = {...}, ...,
-- fault = { unlisted = "TIMEOUT" } } }
function M.zone(zonedata)
  local zone = {}
  for name, recs in pairs(zonedata or {}) do
    local z = zone[lname(name)] or {}
    zone[lname(name)] = z
    local spf, has_txt = {}, false
    for _, r in ipairs(recs) do
      if r == "TIMEOUT" then
        z.fault = { unlisted = "TIMEOUT" }
      elseif type(r) == "table" then
        for t, v in pairs(r) do
          if t == "SPF" then
            spf[#spf + 1] = v
          else
            if t == "TXT" then has_txt = true end
            -- "TXT: NONE" lists no type: TIMEOUT still applies to TXT
            if not (t == "TXT" and v == "NONE") then
              z[t] = z[t] or {}
              local list = z[t]
              if t == "MX" then
                list[#list + 1] = { preference = tonumber(v[1]), exchange = lname(v[2]) }
              elseif t == "TXT" then
                if type(v) == "table" then
                  local parts = {}
                  for i, p in ipairs(v) do parts[i] = tostring(p) end
                  list[#list + 1] = parts
                else
                  list[#list + 1] = tostring(v)
                end
              elseif t == "PTR" or t == "CNAME" then
                list[#list + 1] = lname(v)
              else
                list[#list + 1] = tostring(v)
              end
            end
          end
        end
      end
    end
    if not has_txt and #spf > 0 then
      z.TXT = z.TXT or {}
      for _, v in ipairs(spf) do
        if type(v) == "table" then
          local parts = {}
          for i, p in ipairs(v) do parts[i] = tostring(p) end
          z.TXT[#z.TXT + 1] = parts
        else
          z.TXT[#z.TXT + 1] = tostring(v)
        end
      end
    end
  end
  return zone
end

-- A resolver function(name, qtype) over a zone built by M.zone: the fake
-- DNS, following up to 10 CNAMEs (a longer chain or a loop is SERVFAIL).
function M.resolver(zone, log)
  return fakedns.new(zone, { log = log, max_cnames = 10 }).resolve
end

-- Every test of a suite as a flat list, in file order of scenarios and
-- sorted by name inside a scenario (YAML maps have no order in Lua).
function M.cases(docs)
  local out = {}
  for si, doc in ipairs(docs) do
    local zone = M.zone(doc.zonedata)
    local names = {}
    for name in pairs(doc.tests or {}) do names[#names + 1] = name end
    table.sort(names)
    for _, name in ipairs(names) do
      local t = doc.tests[name]
      local expect = t.result
      if type(expect) ~= "table" then expect = { expect } end
      out[#out + 1] = {
        scenario = doc.description or ("scenario " .. si),
        name = name,
        test = t,
        zone = zone,
        expect = expect,
      }
    end
  end
  return out
end

function M.accepts(list, result)
  for _, r in ipairs(list) do
    if r == result then return true end
  end
  return false
end

return M
