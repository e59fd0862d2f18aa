-- mailauth.authres: Authentication-Results header fields (RFC 8601).
--
-- parse(text [, { lenient = true } or { dialect = "microsoft" }]) -> { authserv_id, version, instance,
--   results = { { method, method_version, result, comment, reason,
--                 properties = { { ptype, property, value }, ... } }, ... } }
--   ("none": result = "none" and results = {}); nil, reason when invalid.
--   The text may carry the "Authentication-Results:" field name or not.
--   dialect = "microsoft": what Exchange Online writes (src/authres/authres.c lists
--   each extension): no authserv-id (authserv_id = nil), "action=none"
--   (ptype = ""), "header.from=;", bare "domain;" between results, a final
--   ";".  The result then has dialect = "microsoft"; a strictly valid field
--   gives the same tree as the strict parser.  Result words stay as written,
--   lower-cased ("bestguesspass"); compauth's "reason=100" is its reason.
--   Properties are kept as written, repeats included (two header.d in one
--   result come back both): a trust policy must refuse such a result.
--
-- format(report, authserv_id [, { fold = false, max_per_method = 16,
--   max_bytes = 8192 }]) -> "Authentication-Results: ..." (bounded: see
--   M.MAX_PER_METHOD below; the rest is counted in a trailing comment)
--   report is either what parse() returns (so format(parse(h)) parses back
--   to the same table) or mailauth results: { iprev =, spf =, spf_helo =,
--   dkim = {...}, dmarc =, arc = } as mailauth.iprev/spf/dkim_verify/dmarc/
--   arc_verify give them, each with method and properties in parse()'s
--   shape.  The field is written in C (src/authres/authres_format.c,
--   mauth_authres_format), the same for C hosts.

local core = require "mailauth.core"

local M = {}

local function lower(s) return s and s:lower() end

function M.parse(text, opts)
  if type(text) ~= "string" then
    error(("bad argument #1 to 'mailauth.authres.parse' (string expected, got %s)")
          :format(type(text)), 2)
  end
  opts = opts or {}
  if type(opts) ~= "table" then
    error(("bad argument #2 to 'mailauth.authres.parse' (table expected, got %s)")
          :format(type(opts)), 2)
  end
  local dialect = opts.dialect
  if dialect ~= nil and dialect ~= "strict" and dialect ~= "microsoft" then
    error(("bad argument #2 to 'mailauth.authres.parse' (dialect: \"strict\" or \"microsoft\", got %s)")
          :format(tostring(dialect)), 2)
  end
  if dialect == "microsoft" and opts.lenient then
    error("bad argument #2 to 'mailauth.authres.parse' (dialect and lenient exclude each other)", 2)
  end
  local check, err = core.check("authres_parse", { text = text, lenient = opts.lenient and true or false,
                                                   dialect = dialect })
  if not check then error("mailauth.authres.parse: " .. tostring(err), 2) end
  check:step()
  local r = check:result()
  check:close()
  if r.invalid then return nil, r.invalid end
  r.results = r.results or {}
  for _, res in ipairs(r.results) do res.properties = res.properties or {} end
  if dialect == "microsoft" then r.dialect = "microsoft" end
  return r
end

-- ---- formatting: src/authres/authres_format.c writes the field ----

-- The header's bounds (opts.max_per_method, opts.max_bytes): per method at
-- most 16 results, passes first, and at most 8192 bytes of them; the rest
-- is counted in a trailing comment, "(974 more dkim results not shown)".
M.MAX_PER_METHOD = 16
M.MAX_BYTES = 8192

-- A mailauth report's results, in the field's order (RFC 8601 §2.7):
-- iprev, SPF for MAIL FROM then for HELO, each DKIM signature (none at
-- all: dkim=none), DMARC, ARC.  Each carries method and properties.
local DKIM_NONE = { method = "dkim", result = "none" }
local function from_report(report)
  local results = {}
  local function add(r)
    if type(r) == "table" and r.result then results[#results + 1] = r end
  end
  add(report.iprev)
  add(report.spf)
  add(report.spf_helo)
  local dkim = report.dkim
  if type(dkim) == "table" then
    if dkim.result then
      add(dkim)
    elseif #dkim == 0 then
      add(DKIM_NONE)
    else
      for i = 1, #dkim do add(dkim[i]) end
    end
  end
  add(report.dmarc)
  add(report.arc)
  return results
end

function M.format(report, authserv_id, opts)
  if type(report) ~= "table" then
    error(("bad argument #1 to 'mailauth.authres.format' (table expected, got %s)")
          :format(type(report)), 2)
  end
  authserv_id = authserv_id or report.authserv_id
  if type(authserv_id) ~= "string" or authserv_id == "" then
    error("bad argument #2 to 'mailauth.authres.format' (authserv-id string expected)", 2)
  end
  opts = opts or {}
  local results = report.results
  if type(results) ~= "table" then results = from_report(report) end
  local text, err = core.header("authres", results, {
    authserv_id = authserv_id, version = report.version, instance = report.instance,
    fold = opts.fold, max_per_method = opts.max_per_method, max_bytes = opts.max_bytes })
  if not text then error("mailauth.authres.format: " .. err, 2) end
  return text
end

-- ---- fields that claim to be ours (RFC 8601 §5) ----

-- The first word of an Authentication-Results value as a lenient reader
-- takes its authserv-id: after whitespace and comments (nested, with
-- quoted pairs), a quoted string's contents, or the text up to ";",
-- whitespace or "(".  nil when the value ends first.
local function first_word(v)
  local i, n, depth = 1, #v, 0
  while i <= n do
    local c = v:byte(i)
    if depth > 0 then
      if c == 92 then i = i + 1 -- a backslash: the next byte is quoted
      elseif c == 40 then depth = depth + 1
      elseif c == 41 then depth = depth - 1 end
    elseif c == 40 then depth = 1
    elseif c ~= 32 and c ~= 9 and c ~= 13 and c ~= 10 then break end
    i = i + 1
  end
  if i > n then return nil end
  if v:byte(i) == 34 then -- a quoted string
    local out, j = {}, i + 1
    while j <= n and v:byte(j) ~= 34 do
      if v:byte(j) == 92 then j = j + 1 end
      out[#out + 1] = v:sub(j, j)
      j = j + 1
    end
    return table.concat(out)
  end
  return v:match("^[^;%s(]*", i)
end

local function same_id(a, b)
  return a ~= nil and (a:lower():gsub("%.$", "")) == (b:lower():gsub("%.$", ""))
end

--- claims(message, authserv_id) -> { position, ... }, odd
-- RFC 8601 §5: anyone can write an Authentication-Results field, so a
-- border MTA deletes (or obscures) those that claim to be from its own
-- ADMD before adding its own.  The positions (1: the topmost
-- Authentication-Results field of the header section, as a milter counts
-- them) of the fields whose authserv-id is authserv_id: compared without
-- case and a final dot, and read leniently (first_word), so that a field
-- no strict parser accepts but a reader downstream might still take for
-- ours is among them.  odd: true when one of them has blanks before its
-- colon or its name folded, so that another reader may count the fields
-- otherwise (remove them all, then, not one by its position).
function M.claims(message, authserv_id)
  if type(message) ~= "string" then
    error(("bad argument #1 to 'mailauth.authres.claims' (string expected, got %s)")
          :format(type(message)), 2)
  end
  if type(authserv_id) ~= "string" or authserv_id == "" then
    error("bad argument #2 to 'mailauth.authres.claims' (authserv-id string expected)", 2)
  end
  local out, nth, odd, parts, np = {}, 0, false, {}, 0
  -- a field as a reader that unfolds first sees it (its lines gathered
  -- in parts: joined once, so a long folded field costs its length)
  local function close_field()
    if np == 0 then return end
    local field = table.concat(parts, "", 1, np)
    np = 0
    local name, blank, value = field:match("^([^:]-)([ \t]*):(.*)$")
    if name and name:lower() == "authentication-results" then
      nth = nth + 1
      if same_id(first_word(value), authserv_id) then
        out[#out + 1] = nth
        -- blanks before the colon, or the name folded before it: a
        -- reader may not count this field where we do
        odd = odd or blank ~= "" or name:find("[ \t]") ~= nil
      end
    end
  end
  local pos, len = 1, #message
  while pos <= len do
    local e = message:find("\n", pos, true) or len + 1
    local line = message:sub(pos, e - 1):gsub("\r$", "")
    pos = e + 1
    if line == "" then break end -- the end of the header section
    local c = line:byte(1)
    if not ((c == 32 or c == 9) and np > 0) then close_field() end
    np = np + 1
    parts[np] = line
  end
  close_field()
  return out, odd
end

M._lower = lower
return M
