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
--   to the same table) or mailauth results: { iprev =, spf =, dkim = {...},
--   dmarc =, arc = } as mailauth.iprev/spf/dkim_verify/dmarc/arc_verify give.

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

-- ---- formatting ----

-- RFC 2045 token: CHAR except SPACE, CTLs and tspecials.
local function is_token(s)
  return #s > 0 and not s:find('[%z\1-\32\127-\255%(%)<>@,;:\\"/%[%]%?=]')
end

local function is_domain(s)
  if #s == 0 or s:find("%.%.") or s:sub(1, 1) == "." or s:sub(-1) == "." then return false end
  for label in s:gmatch("[^.]+") do
    if not label:find("^%w[%w%-]*$") or label:find("%-$") then return false end
  end
  return true
end

local function is_dot_atom(s)
  return #s > 0 and not s:find("^%.") and not s:find("%.$") and not s:find("%.%.")
    and not s:find("[^%w!#$%%&'*+%-/=?^_`{|}~.]")
end

-- Control characters would break the header (or forge a new one): spaces.
local function clean(s)
  return (tostring(s):gsub("[%z\1-\31\127]", " "))
end

local function quote(s)
  return '"' .. s:gsub('[\\"]', "\\%0") .. '"'
end

-- pvalue (RFC 8601 §2.2): a token, [local-part]@domain, else quoted.
local function pvalue(v)
  v = clean(v)
  if is_token(v) then return v end
  local lp, dom = v:match("^(.*)@([^@]*)$")
  if lp and is_domain(dom) and (lp == "" or is_dot_atom(lp)) then return v end
  return quote(v)
end

local function value(v)
  v = clean(v)
  if is_token(v) then return v end
  return quote(v)
end

local function comment(c)
  return "(" .. clean(c):gsub("[\\()]", "\\%0") .. ")"
end

local function keyword(k, what)
  k = tostring(k)
  -- "_" and "." only come from lenient parses of real-world headers
  if not k:find("^[%w][%w%-_%.]*$") then
    error(("mailauth.authres.format: %s %q is not a keyword"):format(what, k), 4)
  end
  return k
end

local function resinfo(res)
  local out = { keyword(res.method, "method") }
  if res.method_version then out[1] = out[1] .. "/" .. tostring(math.floor(res.method_version)) end
  out[1] = out[1] .. "=" .. keyword(res.result, "result")
  if res.comment then out[#out + 1] = comment(res.comment) end
  if res.reason then out[#out + 1] = "reason=" .. value(res.reason) end
  for _, p in ipairs(res.properties or {}) do
    local name = keyword(p.property, "property")
    -- ptype "" is Microsoft's bare "action=" (parse's microsoft dialect)
    if p.ptype and p.ptype ~= "" then name = keyword(p.ptype, "ptype") .. "." .. name end
    out[#out + 1] = name .. "=" .. pvalue(p.value)
  end
  return table.concat(out, " ")
end

local function prop(list, ptype, property, v)
  if v ~= nil and v ~= "" then
    list[#list + 1] = { ptype = ptype, property = property, value = tostring(v) }
  end
end

-- A mailauth result carries a problem; report it as the reason.
local function reason_of(r)
  if r.problem and r.result ~= "pass" then return r.problem end
end

-- mailauth results -> RFC 8601 resinfo tables.
local function from_report(report)
  local results = {}
  local ip = report.iprev
  if ip and ip.result then
    local props = {}
    prop(props, "policy", "iprev", ip.ip)
    results[#results + 1] = { method = "iprev", result = ip.result, reason = reason_of(ip),
                              comment = ip.name, properties = props }
  end
  -- SPF for MAIL FROM, then for HELO (RFC 8601 §2.7.2: smtp.mailfrom, smtp.helo)
  for _, spf in ipairs { report.spf or false, report.spf_helo or false } do
    if spf and spf.result then
      local props = {}
      if spf.scope == "helo" then
        prop(props, "smtp", "helo", spf.helo or spf.domain)
      else
        -- an empty MAIL FROM was checked as postmaster@HELO (RFC 7208 §2.4)
        local mailfrom = spf.sender
        if mailfrom == nil or mailfrom == "" then mailfrom = spf.identity or spf.mailfrom or spf.domain end
        prop(props, "smtp", "mailfrom", mailfrom)
      end
      results[#results + 1] = { method = "spf", result = spf.result, reason = reason_of(spf),
                                properties = props }
    end
  end
  local dkim = report.dkim
  if type(dkim) == "table" and dkim.result then dkim = { dkim } end
  -- a message without any signature: dkim=none (RFC 8601 §2.7.1)
  if type(dkim) == "table" and #dkim == 0 then
    results[#results + 1] = { method = "dkim", result = "none", properties = {} }
  end
  for _, d in ipairs(dkim or {}) do
    local props = {}
    prop(props, "header", "d", d.domain)
    prop(props, "header", "i", d.identity)
    prop(props, "header", "s", d.selector)
    prop(props, "header", "a", d.algorithm)
    prop(props, "header", "b", d.b)
    results[#results + 1] = { method = "dkim", result = d.result, reason = reason_of(d),
                              properties = props }
  end
  local dm = report.dmarc
  if dm and dm.result then
    local props, c = {}, nil
    prop(props, "header", "from", dm.domain)
    if dm.policy then
      c = "p=" .. dm.policy .. " dis=" .. tostring(dm.disposition or "none")
    end
    results[#results + 1] = { method = "dmarc", result = dm.result, comment = c,
                              reason = reason_of(dm), properties = props }
  end
  local arc = report.arc
  if arc and arc.result then
    local props = {}
    prop(props, "header", "oldest-pass", arc.oldest_pass)
    results[#results + 1] = { method = "arc", result = arc.result, reason = reason_of(arc),
                              properties = props }
  end
  return results
end

-- The header's bounds (opts.max_per_method, opts.max_bytes): 990 DKIM
-- signatures once made a 152 KB header.  Per method at most 16 results
-- are written, passes first (a later filter looks for dkim=pass), and the
-- resinfo part at most 8192 bytes; what is left out is counted in a
-- trailing comment, "(312 more dkim results not shown)" (RFC 8601 §2.2
-- allows CFWS there), never dropped silently.
M.MAX_PER_METHOD = 16
M.MAX_BYTES = 8192

-- Which results to write: indexes kept (in order) and counts left out.
local function bounded(results, parts, per_method, max_bytes, seplen)
  local chosen, count = {}, {}
  -- passes first, then the rest, each method up to per_method
  for pass = 1, 2 do
    for i, res in ipairs(results) do
      local m = tostring(res.method):lower()
      local is_pass = tostring(res.result):lower() == "pass"
      if (pass == 1) == is_pass then
        count[m] = (count[m] or 0) + 1
        if count[m] <= per_method then chosen[i] = true end
      end
    end
  end
  local keep, left, order, bytes = {}, {}, {}, 0
  for i, res in ipairs(results) do
    local m = tostring(res.method):lower()
    if chosen[i] and bytes + #parts[i] + seplen <= max_bytes then
      keep[#keep + 1] = i
      bytes = bytes + #parts[i] + seplen
    else
      if not left[m] then order[#order + 1] = m end
      left[m] = (left[m] or 0) + 1
    end
  end
  return keep, left, order
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
  local head = "Authentication-Results: "
  if report.instance then
    head = "ARC-Authentication-Results: i=" .. tostring(math.floor(report.instance)) .. "; "
  end
  head = head .. value(authserv_id)
  if report.version then head = head .. " " .. tostring(math.floor(report.version)) end
  if #results == 0 then return head .. "; none" end
  local sep = opts.fold == false and "; " or ";\r\n\t"
  local parts = {}
  for i, res in ipairs(results) do parts[i] = resinfo(res) end
  local keep, left, order = bounded(results, parts,
                                    opts.max_per_method or M.MAX_PER_METHOD,
                                    opts.max_bytes or M.MAX_BYTES, #sep)
  local out = {}
  for k, i in ipairs(keep) do out[k] = parts[i] end
  if #out == 0 then out[1] = "none" end -- nothing fits: the no-result form
  local text = head .. sep .. table.concat(out, sep)
  if #order > 0 then
    local notes = {}
    for k, m in ipairs(order) do
      notes[k] = ("%d more %s result%s"):format(left[m], m, left[m] == 1 and "" or "s")
    end
    text = text .. (opts.fold == false and " " or "\r\n\t") ..
           "(" .. table.concat(notes, ", ") .. " not shown)"
  end
  return text
end

M._lower = lower
return M
