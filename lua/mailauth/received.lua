-- mailauth.received: the SMTP envelope of a stored message, read back from
-- the trace fields a trusted hop wrote (RFC 5321 §4.4), so that mail kept
-- on disk can be checked offline as it was when it arrived.
--
-- trusted_hops = n (default 1): the n topmost Received fields were written
-- by hosts you trust (your own MTAs, newest first); the n-th one records
-- who handed the message to them: its FROM clause gives the client's HELO
-- name and, in the TCP-info comment, its address.  The envelope sender is
-- the topmost Return-Path field (written at final delivery, §4.4).
-- Fields below the n-th were written by others and are never read: anyone
-- can prepend Received fields before the message reaches you.
--
-- Read (RFC 5321 §4.4):  Stamp = From-domain By-domain Opt-info ";" date-time
--   From-domain = "FROM" FWS Extended-Domain
--   Extended-Domain = Domain / Domain FWS "(" TCP-info ")" /
--                     address-literal FWS "(" TCP-info ")"
--   TCP-info = address-literal / Domain FWS address-literal
-- and the forms widely written beside it: Exim's "([ip] helo=name)",
-- Microsoft's bare "(ip)".  A field that says no client address in this
-- way gives no ip and a problem saying why, never a guess.
local core = require "mailauth.core"
local internal = require "mailauth.internal"
local options = require "mailauth.options"

local M = {}

local OPTS = internal.declare { received = { "trusted_hops" } }

-- The header fields, unfolded, in order: { { name = lower, value = text }, ... }.
local function header_fields(message)
  local head = message:match("^(.-\n)\r?\n") or message
  local list = {}
  for line in head:gmatch("([^\n]*)\n?") do
    line = line:gsub("\r$", "")
    if line:find("^[ \t]") then
      if #list > 0 then list[#list].value = list[#list].value .. " " .. line:gsub("^[ \t]+", "") end
    elseif line ~= "" then
      local name, value = line:match("^([^:%s]+):[ \t]*(.*)$")
      if name then list[#list + 1] = { name = name:lower(), value = value } end
    end
  end
  return list
end
M._header_fields = header_fields

-- An IP address in text, checked by the core; nil when it is none.
local ANY = { "0.0.0.0/0", "::/0" }
local function ip_text(s)
  if not s then return nil end
  s = s:gsub("^[Ii][Pp][Vv]6:", "")
  local ok, hit = pcall(core.ip_match, s, ANY)
  if ok and hit then return s end
  return nil
end

-- The address of a TCP-info comment: "[ip]" (RFC 5321), "host [ip]",
-- "[ip] helo=name" (Exim) or a bare "ip" (Microsoft).  Also Exim's helo=.
local function tcp_info(comment)
  local inner = comment:sub(2, -2)
  local ip = ip_text(inner:match("%[([^%]]+)%]"))
  if not ip then
    for word in inner:gmatch("[^%s,;]+") do
      ip = ip_text(word)
      if ip then break end
    end
  end
  return ip, inner:match("helo=([^%s()]+)")
end

--- parse(value) -> { ip, helo, by, date } | nil, problem
-- One Received field's value.
function M.parse(value)
  local rest = value:match("^[Ff][Rr][Oo][Mm]%s+(.*)$")
  if not rest then return nil, "no FROM clause (RFC 5321 §4.4 Stamp)" end
  local domain, after = rest:match("^([^%s()]+)%s*(.*)$")
  if not domain then return nil, "FROM names no domain or address literal" end
  local out = { helo = domain }
  local comment = after:match("^(%b())")
  if comment then
    local ip, helo = tcp_info(comment)
    out.ip = ip
    if helo then out.helo = helo end
  end
  if not out.ip and domain:find("^%[") then out.ip = ip_text(domain:match("^%[(.-)%]$")) end
  out.by = value:match("[%s)][Bb][Yy]%s+([^%s;()]+)")
  out.date = value:match(";%s*([^;]-)%s*$")
  if not out.ip then
    return nil, "the FROM clause gives no client address (no TCP-info address literal)", out
  end
  return out
end

--- received(message [, { trusted_hops = n }]) -> { ip, helo, sender, by, date, hop, field }
-- With problem (and code "received_unreadable" or "received_missing")
-- when the trusted hop's field is absent or says no client address: ip is
-- then nil, and nothing should be checked as if it came from somewhere.
-- sender: the Return-Path's address ("" for the null path "<>"), nil when
-- the message has none (sender_problem says so).
function M.received(message, opts)
  if type(message) ~= "string" then internal.argerror("received", 1, "message string", message) end
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then internal.argerror("received", 2, "table or nil", opts) end
  options.check("received", opts, OPTS.received, 2)
  local n = opts.trusted_hops or 1
  local fields = header_fields(message)
  local out = { hop = n }
  local seen = 0
  for _, f in ipairs(fields) do
    if f.name == "return-path" and out.sender == nil then
      local path = f.value:match("^%s*<([^>]*)>")
      if path then
        out.sender = path
      else
        out.sender_problem, out.sender_code = "Return-Path is no <reverse-path>", "received_no_return_path"
      end
    elseif f.name == "received" then
      seen = seen + 1
      if seen == n then out.field = f.value end
    end
  end
  if out.sender == nil and not out.sender_problem then
    out.sender_problem, out.sender_code = "no Return-Path field", "received_no_return_path"
  end
  if not out.field then
    out.problem = ("%d Received field(s), the trusted hop is number %d"):format(seen, n)
    out.code = "received_missing"
    return out
  end
  local r, problem, partial = M.parse(out.field)
  r = r or partial or {}
  out.ip, out.helo, out.by, out.date = r.ip, r.helo, r.by, r.date
  if problem then out.problem, out.code = problem, "received_unreadable" end
  return out
end

return M
