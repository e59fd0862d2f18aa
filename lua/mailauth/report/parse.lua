-- mailauth.report.parse: an aggregate report into a table, in either
-- schema: RFC 7489 Appendix C (no namespace, or the draft's) and RFC 9990
-- (urn:ietf:params:xml:ns:dmarc-2.0; also without it, by its elements).
-- XML through LuaExpat (Debian lua-expat); a document with a DTD is
-- refused before parsing (no report needs one, and entities are how XML
-- bombs expand), and the tree is bounded in depth and size.
local container = require "mailauth.report.container"
-- RFC 9990's namespace, as the report writer puts it
local NAMESPACE = require("mailauth.report.xml").NAMESPACE

local M = {}

local MAX_ELEMENTS = 4000000
local MAX_DEPTH = 32
local SEP = "|"

-- The document as a tree: { name =, ns =, children = {...}, text = }.
local function tree(xml)
  local ok, lxp = pcall(require, "lxp")
  if not ok then return nil, "reading reports needs LuaExpat (Debian lua-expat)" end
  if xml:find("<!DOCTYPE", 1, true) or xml:find("<!ENTITY", 1, true) then
    return nil, "a document type declaration is not accepted in a report"
  end
  local root = { children = {}, text = {} }
  local stack, n, problem = { root }, 0, nil
  local parser
  parser = lxp.new({
    StartElement = function(_, qname)
      n = n + 1
      if n > MAX_ELEMENTS or #stack > MAX_DEPTH then
        problem = problem or "the report is too large or too deep"
        parser:stop()
        return
      end
      local ns, name = qname:match("^(.*)" .. "%" .. SEP .. "([^" .. SEP .. "]*)$")
      local node = { name = name or qname, ns = ns, children = {}, text = {} }
      local top = stack[#stack]
      top.children[#top.children + 1] = node
      stack[#stack + 1] = node
    end,
    EndElement = function() stack[#stack] = nil end,
    CharacterData = function(_, s)
      local t = stack[#stack].text
      t[#t + 1] = s
    end,
  }, SEP)
  local okp, msg, line, col = parser:parse(xml)
  if okp then okp, msg, line, col = parser:parse() end
  pcall(parser.close, parser)
  if problem then return nil, problem end
  if not okp then
    return nil, ("not well-formed XML: %s (line %s, column %s)"):format(tostring(msg),
                 tostring(line), tostring(col))
  end
  if not root.children[1] then return nil, "no root element" end
  return root.children[1]
end

local function child(node, name)
  if not node then return nil end
  for _, c in ipairs(node.children) do
    if c.name == name then return c end
  end
end

local function each(node, name)
  local out = {}
  for _, c in ipairs(node and node.children or {}) do
    if c.name == name then out[#out + 1] = c end
  end
  return out
end

-- The text of a leaf (nil when absent; "" when empty), as written.
local function text(node, name)
  local c = child(node, name)
  if not c then return nil end
  return table.concat(c.text)
end

local function trim(s) return s and (s:gsub("^%s+", ""):gsub("%s+$", "")) end
-- An enumerated value: trimmed, lowercased ("Pass" as some senders write it)
local function word(node, name)
  local s = trim(text(node, name))
  return s and s:lower()
end
local function number(node, name) return tonumber(trim(text(node, name))) end

local function auth_results(node)
  local out = { dkim = {}, spf = {} }
  for _, d in ipairs(each(node, "dkim")) do
    out.dkim[#out.dkim + 1] = { domain = trim(text(d, "domain")), selector = trim(text(d, "selector")),
                                result = word(d, "result"), human_result = text(d, "human_result") }
  end
  for _, s in ipairs(each(node, "spf")) do
    out.spf[#out.spf + 1] = { domain = trim(text(s, "domain")), scope = word(s, "scope"),
                              result = word(s, "result"), human_result = text(s, "human_result") }
  end
  return out
end

local function record(node)
  local row = child(node, "row")
  local pe = child(row, "policy_evaluated")
  local reasons = {}
  for _, r in ipairs(each(pe, "reason")) do
    reasons[#reasons + 1] = { type = word(r, "type"), comment = text(r, "comment") }
  end
  local id = child(node, "identifiers")
  return {
    source_ip = trim(text(row, "source_ip")),
    count = number(row, "count") or 0,
    policy_evaluated = { disposition = word(pe, "disposition"), dkim = word(pe, "dkim"),
                         spf = word(pe, "spf"), reasons = reasons },
    identifiers = { header_from = trim(text(id, "header_from")),
                    envelope_from = trim(text(id, "envelope_from")),
                    envelope_to = trim(text(id, "envelope_to")) },
    auth_results = auth_results(child(node, "auth_results")),
  }
end

--- parse(xml_or_compressed [, max_bytes]) -> report | nil, problem
function M.parse(data, max_bytes)
  local xml, err = container.xml_of(data, 0, max_bytes)
  if not xml then return nil, err end
  if xml:match("^%s*$") then return nil, "empty document" end
  local root
  root, err = tree(xml)
  if not root then return nil, err end
  if root.name ~= "feedback" then
    return nil, ("the root element is <%s>, not <feedback>"):format(root.name)
  end
  local meta, pub = child(root, "report_metadata"), child(root, "policy_published")
  if not meta or not pub then return nil, "no report_metadata or policy_published" end
  local range = child(meta, "date_range")
  local version = trim(text(root, "version"))
  local out = {
    namespace = root.ns,
    version = version,
    report_metadata = {
      org_name = text(meta, "org_name"), email = trim(text(meta, "email")),
      extra_contact_info = text(meta, "extra_contact_info"),
      report_id = trim(text(meta, "report_id")),
      date_range = { begin = number(range, "begin"), ["end"] = number(range, "end") },
      errors = {}, generator = text(meta, "generator"),
    },
    policy_published = {
      domain = trim(text(pub, "domain")), p = word(pub, "p"), sp = word(pub, "sp"),
      np = word(pub, "np"), adkim = word(pub, "adkim"), aspf = word(pub, "aspf"),
      pct = number(pub, "pct"), fo = trim(text(pub, "fo")), testing = word(pub, "testing"),
      discovery_method = word(pub, "discovery_method"),
    },
    records = {},
  }
  for _, e in ipairs(each(meta, "error")) do
    out.report_metadata.errors[#out.report_metadata.errors + 1] = table.concat(e.text)
  end
  for i, r in ipairs(each(root, "record")) do out.records[i] = record(r) end
  -- RFC 9990 by its namespace, else by what only it has (a 2.0 version,
  -- discovery_method, testing)
  local p = out.policy_published
  out.schema = (root.ns == NAMESPACE or version == "2.0" or p.discovery_method or p.testing)
               and "rfc9990" or "rfc7489"
  return out
end

return M
