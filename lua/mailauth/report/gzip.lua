-- mailauth.report's compression: gzip (RFC 1952) through lua-zlib
-- (Debian lua-zlib), and a bounded inflate for reports from outside: the
-- input goes in small pieces and the output is counted after each, so a
-- gzip bomb stops at the bound instead of filling memory.
local M = {}

local function zlib()
  local ok, z = pcall(require, "zlib")
  if not ok then return nil, "gzip needs lua-zlib (Debian lua-zlib)" end
  return z
end

M.MAX_OUTPUT = 64 * 1024 * 1024 -- bytes inflated at most (a report of ~150k records)
local PIECE = 1024 -- deflate expands at most ~1032:1: one piece gives ~1 MiB

--- gzip(text) -> bytes | nil, problem
function M.gzip(s)
  local z, err = zlib()
  if not z then return nil, err end
  -- window 15 + 16: a gzip header and trailer
  return (z.deflate(9, 31)(s, "finish"))
end

--- inflate(bytes, raw, max) -> text | nil, problem
-- raw: a raw deflate stream (a zip member); else gzip or zlib.  Bytes
-- after the end of the stream (trailing garbage some senders add) are
-- ignored.
function M.inflate(s, raw, max)
  local z, err = zlib()
  if not z then return nil, err end
  max = max or M.MAX_OUTPUT
  local stream = z.inflate(raw and -15 or 47)
  local out, size = {}, 0
  local pos = 1
  while pos <= #s do
    local piece = s:sub(pos, pos + PIECE - 1)
    local ok, data, eof = pcall(stream, piece)
    if not ok then return nil, "bad compressed data: " .. tostring(data):gsub("^.-: ", "") end
    size = size + #data
    if size > max then return nil, ("inflates to more than %d bytes"):format(max) end
    out[#out + 1] = data
    if eof then return table.concat(out) end
    pos = pos + #piece
  end
  return nil, "compressed data ends early"
end

return M
