-- mailauth.report.xml: the RFC 9990 aggregate report as XML (§3 and
-- Appendix A's schema: namespace urn:ietf:params:xml:ns:dmarc-2.0, the
-- elements of each sequence in the schema's order).
local M = {}

M.NAMESPACE = "urn:ietf:params:xml:ns:dmarc-2.0"

--- strip(s) -> s without the characters a report does not carry: the C0
-- controls XML 1.0 cannot hold (all but TAB, LF and CR), and DEL.  The one
-- rule for both places text is cleaned: report/record.lua (what a sender
-- wrote, once, as a record is made) and esc below (the operator's metadata).
local function strip(s)
  return (s:gsub("[%z\1-\8\11\12\14-\31\127]", ""))
end
M.strip = strip

local ESC = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;" }
local function esc(s)
  return (strip(tostring(s)):gsub('[&<>"]', ESC))
end

-- <name>value</name> at an indent, nothing for a nil value.
local function leaf(out, ind, name, value)
  if value == nil then return end
  out[#out + 1] = ("%s<%s>%s</%s>"):format(ind, name, esc(value), name)
end

local function open(out, ind, name) out[#out + 1] = ind .. "<" .. name .. ">" end
local function close(out, ind, name) out[#out + 1] = ind .. "</" .. name .. ">" end

-- <name> holding t's fields as leaves, in the schema's order (fields).
local function element(out, ind, name, t, fields)
  open(out, ind, name)
  for _, f in ipairs(fields) do leaf(out, ind .. "  ", f, t[f]) end
  close(out, ind, name)
end

local function metadata(out, m)
  open(out, "  ", "report_metadata")
  leaf(out, "    ", "org_name", m.org_name)
  leaf(out, "    ", "email", m.email)
  leaf(out, "    ", "extra_contact_info", m.extra_contact_info)
  leaf(out, "    ", "report_id", m.report_id)
  open(out, "    ", "date_range")
  leaf(out, "      ", "begin", ("%d"):format(m.begin))
  leaf(out, "      ", "end", ("%d"):format(m["end"]))
  close(out, "    ", "date_range")
  for _, e in ipairs(m.errors or {}) do leaf(out, "    ", "error", e) end
  leaf(out, "    ", "generator", m.generator)
  close(out, "  ", "report_metadata")
end

local function policy(out, p)
  open(out, "  ", "policy_published")
  for _, tag in ipairs { "domain", "p", "sp", "np", "adkim", "aspf", "discovery_method",
                         "fo", "testing" } do
    leaf(out, "    ", tag, p[tag])
  end
  close(out, "  ", "policy_published")
end

local function record(out, rec, count)
  local I = "    "
  open(out, "  ", "record")
  open(out, I, "row")
  leaf(out, I .. "  ", "source_ip", rec.row.source_ip)
  leaf(out, I .. "  ", "count", ("%d"):format(count))
  local pe = rec.row.policy_evaluated
  open(out, I .. "  ", "policy_evaluated")
  leaf(out, I .. "    ", "disposition", pe.disposition)
  leaf(out, I .. "    ", "dkim", pe.dkim)
  leaf(out, I .. "    ", "spf", pe.spf)
  for _, r in ipairs(pe.reason or {}) do
    open(out, I .. "    ", "reason")
    leaf(out, I .. "      ", "type", r.type)
    leaf(out, I .. "      ", "comment", r.comment)
    close(out, I .. "    ", "reason")
  end
  close(out, I .. "  ", "policy_evaluated")
  close(out, I, "row")
  local id = rec.identifiers
  open(out, I, "identifiers")
  leaf(out, I .. "  ", "header_from", id.header_from)
  leaf(out, I .. "  ", "envelope_from", id.envelope_from)
  leaf(out, I .. "  ", "envelope_to", id.envelope_to)
  close(out, I, "identifiers")
  open(out, I, "auth_results")
  for _, d in ipairs(rec.auth_results.dkim or {}) do
    element(out, I .. "  ", "dkim", d, { "domain", "selector", "result", "human_result" })
  end
  -- the schema allows one SPF result
  local s = (rec.auth_results.spf or {})[1]
  if s then element(out, I .. "  ", "spf", s, { "domain", "scope", "result", "human_result" }) end
  close(out, I, "auth_results")
  close(out, "  ", "record")
end

--- report(metadata, policy_published, rows) -> XML text
-- rows: { { record =, count = }, ... } (a store's collect()).
function M.report(meta, pub, rows)
  local out = { '<?xml version="1.0" encoding="UTF-8"?>',
                ('<feedback xmlns="%s">'):format(M.NAMESPACE), "  <version>1.0</version>" }
  metadata(out, meta)
  policy(out, pub)
  for _, r in ipairs(rows) do record(out, r.record, r.count) end
  out[#out + 1] = "</feedback>"
  out[#out + 1] = ""
  return table.concat(out, "\n")
end

return M
