-- The real Exchange Online messages of ../shared/testdata/m365/, read in
-- place, as field lists that give the stored bytes back unchanged, with
-- the ARC edits the m365 specs make: the "probe" of RESULTS.md (the chain
-- as Exchange Online handed it over: newest ARC set removed) and an AAR
-- rewritten in place.
local helpers = require "spec.support.helpers"

local M = {}

M.DIR = helpers.TESTDATA .. "/m365/"

M.read = helpers.read_if

M.have = M.read(M.DIR .. "RESULTS.md") ~= nil

-- A message as { fields = { { name, value, raw } }, body }: raw bytes kept,
-- so that join() gives the message back byte for byte.
function M.split(msg)
  local hend = assert(msg:find("\r\n\r\n", 1, true), "no end of header")
  local head, body = msg:sub(1, hend - 1), msg:sub(hend + 4)
  local fields, cur = {}, nil
  for line in (head .. "\r\n"):gmatch("(.-)\r\n") do
    if cur and line:find("^[ \t]") then
      cur = cur .. "\r\n" .. line
    else
      if cur then fields[#fields + 1] = cur end
      cur = line
    end
  end
  fields[#fields + 1] = cur
  local out = {}
  for i, raw in ipairs(fields) do
    local name, value = raw:match("^([^:]+):(.*)$")
    out[i] = { name = name, value = value, raw = raw }
  end
  return { fields = out, body = body }
end

function M.join(m)
  local raws = {}
  for i, f in ipairs(m.fields) do raws[i] = f.raw end
  return table.concat(raws, "\r\n") .. "\r\n\r\n" .. m.body
end

local messages = {}
-- Message "001".."005", split (cached: callers copy before editing).
function M.message(n)
  if not messages[n] then messages[n] = M.split(assert(M.read(M.DIR .. n .. ".mail"))) end
  return messages[n]
end

function M.arc_instance(f)
  return tonumber(f.value:match("^[ \t\r\n]*i[ \t\r\n]*=[ \t\r\n]*(%d+)"))
end

-- d= of the ARC-Seal of each instance, the newest instance, and its t=.
function M.seals(m)
  local d, newest, t = {}, 0, nil
  for _, f in ipairs(m.fields) do
    if f.name:lower() == "arc-seal" then
      local i = M.arc_instance(f)
      local v = f.value:gsub("[\r\n\t ]", "")
      d[i] = v:match(";d=([^;]+)")
      if i > newest then newest, t = i, tonumber(v:match(";t=(%d+)")) end
    end
  end
  return d, newest, t
end

-- The probe of RESULTS.md: the three ARC-* fields of the newest set removed.
function M.probe(m)
  local _, newest = M.seals(m)
  local kept = {}
  for _, f in ipairs(m.fields) do
    local n = f.name:lower()
    local arc = n == "arc-seal" or n == "arc-message-signature" or n == "arc-authentication-results"
    if not (arc and M.arc_instance(f) == newest) then kept[#kept + 1] = f end
  end
  assert(#kept == #m.fields - 3, "the newest set is not three fields")
  return { fields = kept, body = m.body }
end

-- The message with the ARC-Authentication-Results of instance inst
-- replaced by "ARC-Authentication-Results: <value>".
function M.replace_aar(m, inst, value)
  local out = { body = m.body, fields = {} }
  for i, f in ipairs(m.fields) do
    out.fields[i] = f
    if f.name:lower() == "arc-authentication-results" and M.arc_instance(f) == inst then
      out.fields[i] = { name = f.name, value = " " .. value, raw = f.name .. ": " .. value }
    end
  end
  return out
end

-- The value of the first field named name (lower-case), unfolded.
function M.field(m, name, inst)
  for _, f in ipairs(m.fields) do
    if f.name:lower() == name and (inst == nil or M.arc_instance(f) == inst) then
      return (f.value:gsub("\r\n", ""))
    end
  end
end

function M.from_domain(m)
  return (M.field(m, "from"):match("@([%w%.%-]+)>?%s*$")):lower()
end

-- An offline resolver holding the pinned ARC keys of keys.zone.
function M.resolver()
  local mailauth = require "mailauth"
  return mailauth.resolver { zones = { assert(M.read(M.DIR .. "keys.zone")) } }
end

return M
