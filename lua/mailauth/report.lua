-- mailauth.report: DMARC aggregate reports (RFC 9990) for a host that
-- checks mail with mailauth.check: a record per message, kept in a store
-- (SQLite on one host, Redis for several), the reports of a period made
-- from it, gzipped, with their rua destinations, and the report message
-- for the operator's MTA; and reading the reports others send.  One file
-- per concern under report/: record (a check result as a record), codec
-- (its stored bytes), store_sqlite, store_redis, xml (the writer), gzip,
-- container (what a received report arrives in), parse.
local internal = require "mailauth.internal"
local options = require "mailauth.options"
local recordmod = require "mailauth.report.record"
local gzip = require "mailauth.report.gzip"

local M = {}

-- The options only this file reads, in options.lua's shape.
local LUA = {
  recipients = { kind = "list", rule = "a list of addresses" },
  reasons = { kind = "list", rule = "a list of reason names or { type =, comment = }" },
  now = { kind = "integer", min = 0, max = 2 ^ 53, rule = "seconds since the epoch" },
  sqlite = { kind = "string", rule = "a file path" },
  redis = { kind = "string", rule = "an address (host:port, redis://host:port)" },
  -- checked by store() itself: a number or false
  retention = { kind = "any", rule = "seconds in (0, 10 years], or false (kept for ever)",
                aliases = "expire expiry ttl" },
  prefix = { kind = "string", rule = "a string" },
  timeout = { kind = "any" },
  busy_timeout = { kind = "integer", min = 0, max = 3600000, rule = "milliseconds" },
  client = { kind = "map", rule = "a table with call(...) (a Redis client)" },
  org_name = { kind = "string", rule = "a string" },
  email = { kind = "string", rule = "an address" },
  report_id_prefix = { kind = "string", rule = "a string" },
  period = { kind = "map", rule = "{ begin = seconds, ['end'] = seconds }" },
  only_domains = { kind = "list", rule = "a list of domains" },
  skip_domains = { kind = "list", rule = "a list of domains" },
  receiver = { kind = "string", rule = "a domain" },
  extra_contact_info = { kind = "string", rule = "a string" },
  generator = { kind = "string", rule = "a string" },
  from = { kind = "string", rule = "an address" },
  to = { kind = "any", rule = "an address or a list of them" },
  domain = { kind = "string", rule = "a domain" },
  submitter = { kind = "string", rule = "a domain" },
  report_id = { kind = "string", rule = "a string" },
  filename = { kind = "string", rule = "a file name" },
  date = { kind = "string", rule = "an RFC 5322 date" },
  max_bytes = { kind = "integer", min = 1, max = 2 ^ 31, rule = "bytes" },
}
for name, d in pairs(LUA) do
  -- a name other files also take (timeout) keeps their entry
  if not options.LUA[name] then d.name = name; options.LUA[name] = d end
end

local OPTS = internal.declare {
  ["report.record"] = { "recipients", "reasons", "now" },
  ["report.store"] = { "sqlite", "redis", "retention", "prefix", "timeout", "busy_timeout",
                       "client" },
  ["report.aggregate"] = { "org_name", "email", "report_id_prefix", "period", "only_domains",
                           "skip_domains", "receiver", "extra_contact_info", "generator",
                           "resolver", "time_budget", "now", "dmarc:org_domain", "dmarc:psl_file" },
  ["report.message"] = { "from", "to", "domain", "submitter", "report_id", "filename", "date" },
  ["report.parse"] = { "max_bytes" },
}

local function table_opts(fname, opts, n)
  opts = opts or {}
  if type(opts) ~= "table" then internal.argerror(fname, n, "table or nil", opts, 2) end
  options.check(fname, opts, OPTS[fname], 3)
  return opts
end

--- mailauth.report.record(report, { recipients =, reasons =, now = }) -> record | nil, problem
-- See report/record.lua.
function M.record(report, opts)
  if type(report) ~= "table" then internal.argerror("report.record", 1, "table", report) end
  opts = table_opts("report.record", opts, 2)
  return recordmod.record(report, opts)
end

-- How long a store keeps a record by default, both stores alike: a week,
-- so that a daily report made late (or made again) still finds its day.
M.RETENTION = 7 * 86400
local MAX_RETENTION = 10 * 365 * 86400

--- mailauth.report.store{ sqlite = path | redis = address, retention =, ... } -> store | nil, problem
-- retention: seconds (default M.RETENTION), or false to keep records for
-- ever.  store:add(record) -> true | nil, problem (never raises: a store
-- that is down must not stop mail); store:collect(begin, end);
-- store:expire(now); store:close().
function M.store(opts)
  if type(opts) ~= "table" then internal.argerror("report.store", 1, "table", opts) end
  table_opts("report.store", opts, 1)
  if (opts.sqlite ~= nil) == (opts.redis ~= nil or opts.client ~= nil) then
    error("mailauth.report.store: give sqlite = path or redis = address (one of them)", 2)
  end
  local retention = opts.retention
  if retention == nil then
    retention = M.RETENTION
  elseif retention ~= false and not (type(retention) == "number" and retention > 0
                                     and retention <= MAX_RETENTION) then
    options.bad("report.store", "retention", 2)
  end
  local store, err
  if opts.sqlite then
    store, err = require("mailauth.report.store_sqlite").open(opts.sqlite, opts, retention)
  else
    store, err = require("mailauth.report.store_redis").open(opts.redis or "", opts, retention)
  end
  if not store then return nil, err end
  -- add() never raises: a record that cannot be kept is an error value
  local add = store.add
  store.add = function(self, rec)
    if type(rec) ~= "table" or type(rec.row) ~= "table" or type(rec.policy_domain) ~= "string" then
      return nil, "not a report record (mailauth.report.record's)"
    end
    local ok, res, e = pcall(add, self, rec)
    if not ok then return nil, tostring(res) end
    return res, e
  end
  return store
end

-- ---- aggregate ----

local function set_of(list)
  local s = {}
  for _, d in ipairs(list or {}) do s[d:lower():gsub("%.$", "")] = true end
  return s
end

-- The previous whole UTC day: RFC 9990 §3.2.2's default interval is 24 h.
local function yesterday(now)
  local e = now - now % 86400
  return e - 86400, e
end

-- A TXT lookup through the caller's resolver, of any kind the checks take
-- (internal.query: a mailauth.resolver, a batch resolver, a function, an
-- object with :query), within budget seconds: the records, or nil and the
-- rcode.  level: as error() counts it from the caller of txt.
local function txt(resolver, name, budget, level)
  local a = internal.query(resolver, internal.deadline(budget), name, "TXT", level + 1)
  if a.rcode ~= "NOERROR" then return nil, a.rcode or "SERVFAIL" end
  return a.records or {}
end

-- RFC 9990 §4 step 6: a record whose first tag is v=DMARC1 (a record as
-- its character-strings, as a Lua resolver may give it, joined first).
local function is_dmarc1(rec)
  if type(rec) == "table" then rec = table.concat(rec) end
  local first = type(rec) == "string" and rec:match("^%s*([^;]*)")
  return first and first:match("^v%s*=%s*DMARC1%s*$") ~= nil or false
end
M._is_dmarc1 = is_dmarc1

-- The organisational domain of a name by the Public Suffix List (the
-- operator's psl_file when given), the name itself when none.
local function org_of(name, psl_file)
  local ok, org = pcall(require("mailauth.dmarc").org_domain, name,
                        psl_file and { psl_file = psl_file } or nil)
  return ok and org or name
end

--- destinations(policy_domain, rua, resolver, budget [, level [, org]]) -> accepted, refused
-- RFC 9989 §4.7 rua: mailto: URIs, a "!size" suffix ignored; RFC 9990 §4:
-- a destination outside the policy domain's organisational domain only
-- when <policy-domain>._report._dmarc.<destination host> has a v=DMARC1
-- record (any DNS failure refuses: fail closed).  org: the DMARC options
-- the records were made with ({ org_domain =, psl_file = }): the PSL the
-- operator gave decides "outside"; with org_domain = "tree" (RFC 9989's
-- DNS tree walk, which no list can answer offline) only the policy domain
-- itself is inside and every other host is verified.
local function destinations(domain, rua, resolver, budget, level, org)
  level = level or 1
  org = org or {}
  local accepted, refused = {}, {}
  local tree = org.org_domain == "tree"
  local own = tree and domain:lower() or org_of(domain, org.psl_file)
  local function inside(host)
    if tree then return host == own end
    return org_of(host, org.psl_file) == own
  end
  for _, uri in ipairs(rua or {}) do
    local plain = uri:gsub("!%d+[kmgtKMGT]?$", "")
    local addr = plain:match("^[Mm][Aa][Ii][Ll][Tt][Oo]:(.+)$")
    local host = addr and addr:match("@([^@]+)$")
    if not host then
      refused[#refused + 1] = { uri = uri, reason = "not a mailto: URI with a domain" }
    else
      host = host:lower()
      if inside(host) then
        accepted[#accepted + 1] = addr
      elseif not resolver then
        refused[#refused + 1] = { uri = uri, reason = "external destination and no resolver to verify it" }
      else
        local name = domain .. "._report._dmarc." .. host
        local recs, rcode = txt(resolver, name, budget, level + 1)
        local found = false
        for _, r in ipairs(recs or {}) do found = found or is_dmarc1(r) end
        if found then
          accepted[#accepted + 1] = addr
        else
          refused[#refused + 1] = { uri = uri, reason = recs and ("no v=DMARC1 record at " .. name)
                                                        or ("%s for %s"):format(rcode, name) }
        end
      end
    end
  end
  return accepted, refused
end
M._destinations = destinations

-- RFC 9990 §3.2.1 unique-id: 1*(ALPHA / DIGIT); stable for one domain
-- and period, so that a report made again keeps its name (RFC 9990
-- §3.2.1: a re-sent report MUST use the same file name).
local function unique_id(prefix, domain, b, e)
  local raw = ("%s!%s!%d!%d"):format(prefix, domain, b, e)
  local h = 7
  for i = 1, #raw do h = (h * 31 + raw:byte(i)) % 4294967291 end
  return ("%s%d%08x"):format((prefix:gsub("[^%w]", "")), b, h)
end

--- mailauth.report.aggregate(store, opts) -> { report, ... } | nil, problem
-- One report per policy domain with records in the period:
-- { domain =, report_id =, filename =, xml =, xml_gz =, rua = {address, ...},
--   refused = { { uri =, reason = }, ... }, records =, messages = }.
function M.aggregate(store, opts)
  if type(store) ~= "table" or not store.collect then
    internal.argerror("report.aggregate", 1, "report store", store)
  end
  opts = table_opts("report.aggregate", opts, 2)
  if not opts.org_name or not opts.email then
    error("mailauth.report.aggregate: org_name and email are required (RFC 9990 §3.1.1)", 2)
  end
  local now = opts.now or os.time()
  local b, e
  if opts.period then
    b, e = tonumber(opts.period.begin or opts.period[1]), tonumber(opts.period["end"] or opts.period[2])
    if not b or not e or e <= b then
      error("mailauth.report.aggregate: period must be { begin =, ['end'] = } with end after begin", 2)
    end
  else
    b, e = yesterday(now)
  end
  if store.expire then store:expire(now) end
  local domains, err = store:collect(b, e)
  if not domains then return nil, err end
  local only, skip = opts.only_domains and set_of(opts.only_domains), set_of(opts.skip_domains)
  local receiver = opts.receiver or opts.email:match("@(.+)$") or opts.org_name
  local prefix = opts.report_id_prefix or receiver
  local names = {}
  for d in pairs(domains) do
    if (not only or only[d]) and not skip[d] then names[#names + 1] = d end
  end
  table.sort(names)
  local xml = require "mailauth.report.xml"
  local budget = internal.budget_of(opts, "report.aggregate", 2)
  local out = {}
  for _, d in ipairs(names) do
    local entry = domains[d]
    local meta = entry.meta or {}
    local pub = meta.policy_published or { domain = d, p = "none" }
    local id = unique_id(prefix, d, b, e)
    local doc = xml.report({ org_name = opts.org_name, email = opts.email,
                             extra_contact_info = opts.extra_contact_info, report_id = id,
                             begin = b, ["end"] = e - 1,
                             generator = opts.generator or require("mailauth")._VERSION },
                           pub, entry.rows)
    local gz, gerr = gzip.gzip(doc)
    if not gz then return nil, gerr end
    local rua, refused = destinations(d, meta.rua, opts.resolver, budget, 2,
                                      { org_domain = opts.org_domain, psl_file = opts.psl_file })
    local messages = 0
    for _, r in ipairs(entry.rows) do messages = messages + r.count end
    out[#out + 1] = {
      domain = d, report_id = id, submitter = receiver, xml = doc, xml_gz = gz,
      -- RFC 9990 §3.2.1's file name
      filename = ("%s!%s!%d!%d!%s.xml.gz"):format(receiver, d, b, e - 1, (id:gsub("[^%w]", ""))),
      rua = rua, refused = refused, records = #entry.rows, messages = messages,
      period = { begin = b, ["end"] = e },
    }
  end
  return out
end

-- ---- the report message ----


local function header_safe(fname, name, v)
  if type(v) ~= "string" or v:find("[\r\n%z]") then
    error(("mailauth.%s: %s must be a one-line string"):format(fname, name), 3)
  end
  return v
end

--- mailauth.report.message(xml_gz, { from, to, domain, submitter, report_id, filename, date })
-- -> the RFC 5322 message (CRLF lines) RFC 9990 §3.2.1 describes, for `sendmail -t`.
function M.message(gz, opts)
  if type(gz) ~= "string" then internal.argerror("report.message", 1, "string", gz) end
  opts = table_opts("report.message", opts, 2)
  local f = "report.message"
  local from = header_safe(f, "from", opts.from)
  local to = type(opts.to) == "table" and table.concat(opts.to, ", ") or opts.to
  to = header_safe(f, "to", to)
  local domain = header_safe(f, "domain", opts.domain)
  local submitter = header_safe(f, "submitter", opts.submitter)
  local rid = header_safe(f, "report_id", opts.report_id)
  local filename = opts.filename and header_safe(f, "filename", opts.filename)
                   or ("%s!%s!report.xml.gz"):format(submitter, domain)
  local date = opts.date and header_safe(f, "date", opts.date) or os.date("!%a, %d %b %Y %H:%M:%S +0000")
  local boundary = "=_mailauth_report_" .. rid:gsub("[^%w]", "")
  local lines = {
    "From: " .. from,
    "To: " .. to,
    -- RFC 9990 §3.2.1 dmarc-subject, folded
    ("Subject: Report Domain: %s\r\n Submitter: %s\r\n Report-ID: <%s>"):format(domain, submitter, rid),
    "Date: " .. date,
    ("Message-ID: <%s@%s>"):format(rid, submitter),
    "MIME-Version: 1.0",
    ('Content-Type: multipart/mixed; boundary="%s"'):format(boundary),
    "",
    "--" .. boundary,
    "Content-Type: text/plain; charset=us-ascii",
    "",
    ("This is a DMARC aggregate report (RFC 9990) for %s from %s."):format(domain, submitter),
    ("Report-ID: <%s>"):format(rid),
    "",
    "--" .. boundary,
    "Content-Type: application/gzip",
    "Content-Transfer-Encoding: base64",
    ('Content-Disposition: attachment; filename="%s"'):format(filename),
    "",
    internal.base64(gz, 76),
    "--" .. boundary .. "--",
    "",
  }
  return table.concat(lines, "\r\n")
end

-- ---- reading reports ----

--- mailauth.report.parse(data [, { max_bytes = }]) -> report | nil, problem
-- data: the XML, gzipped, zipped, or the report message.  See report/parse.lua.
function M.parse(data, opts)
  if type(data) ~= "string" then internal.argerror("report.parse", 1, "string", data) end
  opts = table_opts("report.parse", opts, 2)
  -- the bound travels with this call (no module field changed: two
  -- parses may run at once in a host's coroutines)
  local ok, r, err = pcall(require("mailauth.report.parse").parse, data, opts.max_bytes)
  if not ok then return nil, tostring(r) end
  return r, err
end

--- mailauth.report.summary(reports) -> rows
-- What a domain owner looks at first (like parsedmarc's summary): per
-- policy domain, source IP and result, the messages counted, sorted by
-- messages (most first).
function M.summary(reports)
  local by, rows = {}, {}
  for _, rep in ipairs(reports) do
    local domain = rep.policy_published and rep.policy_published.domain or "?"
    for _, rec in ipairs(rep.records or {}) do
      local pe = rec.policy_evaluated or {}
      local key = table.concat({ domain, rec.source_ip or "", pe.disposition or "", pe.dkim or "",
                                 pe.spf or "", rec.identifiers.header_from or "" }, "\0")
      local row = by[key]
      if not row then
        row = { domain = domain, source_ip = rec.source_ip or "", disposition = pe.disposition or "",
                dkim = pe.dkim or "", spf = pe.spf or "",
                header_from = rec.identifiers.header_from or "", messages = 0 }
        by[key] = row
        rows[#rows + 1] = row
      end
      row.messages = row.messages + (rec.count or 0)
    end
  end
  table.sort(rows, function(a, b)
    if a.messages ~= b.messages then return a.messages > b.messages end
    if a.domain ~= b.domain then return a.domain < b.domain end
    return a.source_ip < b.source_ip
  end)
  return rows
end

return M
