-- mailauth.report.codec: one canonical text form of a report record, so
-- that a store can count identical rows by their bytes (SQLite GROUP BY,
-- a Redis hash field) and read them back without load() (a stored value
-- is data, never code).  Keys are sorted: the same record always gives
-- the same bytes.
--   string: s<len>:<bytes>   number: n<digits>;   boolean: T / F
--   table:  t<pairs>e, each pair a key then its value
local M = {}

local function encode(v, out)
  local kind = type(v)
  if kind == "string" then
    out[#out + 1] = "s" .. #v .. ":" .. v
  elseif kind == "number" then
    out[#out + 1] = ("n%.17g;"):format(v)
  elseif kind == "boolean" then
    out[#out + 1] = v and "T" or "F"
  elseif kind == "table" then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    -- numbers before strings, each in order: lists keep their order
    table.sort(keys, function(a, b)
      if type(a) ~= type(b) then return type(a) == "number" end
      return a < b
    end)
    out[#out + 1] = "t"
    for _, k in ipairs(keys) do
      encode(k, out)
      encode(v[k], out)
    end
    out[#out + 1] = "e"
  else
    error("report codec: cannot store a " .. kind, 0)
  end
end

--- encode(value) -> text
function M.encode(v)
  local out = {}
  encode(v, out)
  return table.concat(out)
end

--- encode_record(record) -> key, meta
-- What a store keeps of a report record (mailauth.report.record's), the
-- same for SQLite and Redis: key, what the report counts (row,
-- identifiers, auth_results: records with the same key are one report row
-- with their count), and meta, the policy they were judged under
-- (policy_published and rua: a report names its domain's newest).
function M.encode_record(rec)
  return M.encode({ row = rec.row, identifiers = rec.identifiers, auth_results = rec.auth_results }),
         M.encode({ policy_published = rec.policy_published, rua = rec.rua })
end

-- decode_at(text, pos) -> value, next position | nil on malformed text
local function decode_at(s, i, depth)
  if depth > 32 then return nil end
  local c = s:sub(i, i)
  if c == "s" then
    local len, colon = s:match("^(%d+)():", i + 1)
    if not len then return nil end
    local first = colon + 1
    local last = first + tonumber(len) - 1
    if last > #s then return nil end
    return s:sub(first, last), last + 1
  elseif c == "n" then
    local num, after = s:match("^([^;]+);()", i + 1)
    num = tonumber(num)
    if not num then return nil end
    return num, after
  elseif c == "T" then return true, i + 1
  elseif c == "F" then return false, i + 1
  elseif c == "t" then
    local t = {}
    i = i + 1
    while s:sub(i, i) ~= "e" do
      local k, v
      k, i = decode_at(s, i, depth + 1)
      if k == nil then return nil end
      v, i = decode_at(s, i, depth + 1)
      if v == nil then return nil end
      t[k] = v
    end
    return t, i + 1
  end
  return nil
end

--- decode(text) -> value | nil, problem
function M.decode(s)
  if type(s) ~= "string" then return nil, "not a stored record" end
  local v, after = decode_at(s, 1, 0)
  if v == nil or after ~= #s + 1 then return nil, "malformed stored record" end
  return v
end

return M
