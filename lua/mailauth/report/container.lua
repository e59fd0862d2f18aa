-- mailauth.report.container: the XML of a report as it arrives: plain,
-- gzip (also twice over), a zip file's first .xml member, or the report
-- message itself (RFC 9990 §3.2's attachment, base64 or not, inside any
-- MIME structure).  Every inflate is bounded (gzip.lua).
local gzip = require "mailauth.report.gzip"

local M = {}

local MAX_DEPTH = 4 -- containers inside containers

local B64 = {}
do
  local abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  for i = 1, 64 do B64[abc:byte(i)] = i - 1 end
end

local function unbase64(s)
  local out, bits, n = {}, 0, 0
  for i = 1, #s do
    local v = B64[s:byte(i)]
    if v then
      bits = bits * 64 + v
      n = n + 6
      if n >= 8 then
        n = n - 8
        local byte = math.floor(bits / 2 ^ n) % 256
        out[#out + 1] = string.char(byte)
        bits = bits % 2 ^ n
      end
    end
  end
  return table.concat(out)
end

local function u16(s, i) return s:byte(i) + s:byte(i + 1) * 256 end
local function u32(s, i) return u16(s, i) + u16(s, i + 2) * 65536 end

-- A zip file (APPNOTE.TXT): the central directory, found from the end
-- record, names each member with its sizes; the first .xml member (or the
-- first) is inflated.
local function unzip(s, max)
  local eocd
  for i = #s - 21, math.max(1, #s - 65557), -1 do
    if s:sub(i, i + 3) == "PK\5\6" then eocd = i break end
  end
  if not eocd then return nil, "zip: no end of central directory" end
  local entries, at = u16(s, eocd + 10), u32(s, eocd + 16) + 1
  local pick
  for _ = 1, entries do
    if s:sub(at, at + 3) ~= "PK\1\2" then return nil, "zip: bad central directory" end
    local e = { method = u16(s, at + 10), csize = u32(s, at + 20), usize = u32(s, at + 24),
                offset = u32(s, at + 42) + 1 }
    local nlen, xlen, clen = u16(s, at + 28), u16(s, at + 30), u16(s, at + 32)
    e.name = s:sub(at + 46, at + 45 + nlen)
    if not pick or (e.name:lower():match("%.xml$") and not pick.name:lower():match("%.xml$")) then
      pick = e
    end
    at = at + 46 + nlen + xlen + clen
  end
  if not pick then return nil, "zip: no member" end
  local lh = pick.offset
  if s:sub(lh, lh + 3) ~= "PK\3\4" then return nil, "zip: bad local header" end
  local data = lh + 30 + u16(s, lh + 26) + u16(s, lh + 28)
  local body = s:sub(data, data + pick.csize - 1)
  if pick.method == 0 then return body end
  if pick.method == 8 then return gzip.inflate(body, true, max) end
  return nil, ("zip: compression method %d is not supported"):format(pick.method)
end

-- The header fields of a MIME entity, lowercased names, unfolded.
local function split_entity(s)
  local head, body = s:match("^(.-)\r?\n\r?\n(.*)$")
  if not head then return {}, s end
  head = head:gsub("\r?\n[ \t]+", " ")
  local fields = {}
  for line in head:gmatch("[^\r\n]+") do
    local name, value = line:match("^([^:%s]+)%s*:%s*(.*)$")
    if name then fields[name:lower()] = fields[name:lower()] or value end
  end
  return fields, body
end

-- Every leaf body of a MIME message, decoded (base64; others as they are).
local function leaves(s, out, depth)
  if depth > 8 then return out end
  local fields, body = split_entity(s)
  local ctype = (fields["content-type"] or "text/plain"):lower()
  local boundary = (fields["content-type"] or ""):match('[Bb][Oo][Uu][Nn][Dd][Aa][Rr][Yy]="([^"]+)"')
                   or (fields["content-type"] or ""):match("[Bb][Oo][Uu][Nn][Dd][Aa][Rr][Yy]=([^;%s]+)")
  if ctype:match("^multipart/") and boundary then
    local delim = "--" .. boundary
    local pos = 1
    local parts = {}
    while true do
      local a, b = body:find(delim, pos, true)
      if not a then break end
      parts[#parts + 1] = b + 1
      pos = b + 1
    end
    for i = 1, #parts - 1 do
      local part = body:sub(parts[i], (body:find(delim, parts[i], true) or 0) - 1)
      part = part:gsub("^[^\n]*\n", "", 1)
      leaves(part, out, depth + 1)
    end
    return out
  end
  local cte = (fields["content-transfer-encoding"] or ""):lower()
  if cte:match("base64") then body = unbase64(body) end
  out[#out + 1] = body
  return out
end

local function looks_like_message(s)
  return s:sub(1, 2048):match("^[%w%-]+:") ~= nil and s:find("\n\r?\n") ~= nil
end

--- xml_of(bytes [, depth [, max]]) -> xml text | nil, problem
-- max: bytes inflated at most (gzip.MAX_OUTPUT when nil).
function M.xml_of(s, depth, max)
  depth = depth or 0
  if depth > MAX_DEPTH then return nil, "containers nested too deep" end
  if s:sub(1, 2) == "\31\139" then
    local inner, err = gzip.inflate(s, false, max)
    if not inner then return nil, "gzip: " .. err end
    return M.xml_of(inner, depth + 1, max)
  elseif s:sub(1, 4) == "PK\3\4" then
    local inner, err = unzip(s, max)
    if not inner then return nil, err end
    return M.xml_of(inner, depth + 1, max)
  end
  local lead = s:match("^[%s\239\187\191]*(.?)")
  if lead == "<" or s == "" or not looks_like_message(s) then return s end
  -- a message: its first body part that holds a report
  local firsterr = "no report in the message"
  for _, body in ipairs(leaves(s, {}, 0)) do
    local kind = body:sub(1, 2) == "\31\139" or body:sub(1, 4) == "PK\3\4"
                 or body:match("^%s*<%?xml") or body:match("^%s*<feedback")
    if kind then
      local xml, err = M.xml_of(body, depth + 1, max)
      if xml then return xml end
      firsterr = err
    end
  end
  return nil, firsterr
end

return M
