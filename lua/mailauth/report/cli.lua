-- `mailauth report record|aggregate|summary` and `check --report-store`
-- (bin/mailauth, lua/mailauth/cli.lua): kept here so that the command
-- line's own file stays about checks.  cx: what cli.lua lends (die,
-- call, read_file, check_one, print_json, EXIT).
local report = require "mailauth.report"

local M = {}

-- --report-store: redis://HOST:PORT, else a SQLite file.
local function open_store(cx, o)
  local spec = o.report_store or cx.die("report needs --report-store FILE (or redis://HOST:PORT)")
  local opts = { retention = o.retention }
  if spec:match("^redis://") then opts.redis = spec else opts.sqlite = spec end
  local store, err = cx.call(report.store, opts)
  if not store then
    io.stderr:write("mailauth: report store: ", tostring(err), "\n")
    if o.json then cx.print_json({ error = tostring(err) }) end
    return nil, cx.EXIT.temperror
  end
  return store
end

--- record_into(cx, o, store, rep) -> true | nil
-- One checked message into the store; a message with no DMARC policy has
-- nothing to record (not an error).  A store that fails is said on stderr.
function M.record_into(cx, o, store, rep, name)
  local rec, why = report.record(rep, { recipients = o.rcpt })
  if not rec then
    if o.trace then io.stderr:write(("mailauth: %s: not recorded: %s\n"):format(name, why)) end
    return true
  end
  local ok, err = store:add(rec)
  if not ok then
    io.stderr:write(("mailauth: %s: the report store did not keep it: %s\n"):format(name, err))
    return nil
  end
  return true
end

M.open_store = open_store

local function record(cx, o, resolver)
  if #o.words < 3 then cx.die("report record needs message files") end
  local store, code = open_store(cx, o)
  if not store then return code end
  local worst, kept = cx.EXIT.pass, 0
  for i = 3, #o.words do
    local rep = cx.check_one(o, resolver, cx.read_file(o.words[i], "report record"))
    if M.record_into(cx, o, store, rep, o.words[i]) then kept = kept + 1
    else worst = cx.EXIT.temperror end
  end
  store:close()
  if o.json then cx.print_json({ checked = #o.words - 2, recorded = kept })
  else print(("%d messages checked, %d recorded or without a policy"):format(#o.words - 2, kept)) end
  return worst
end

local function write(cx, path, data)
  local f, err = io.open(path, "wb")
  if not f then cx.die("report aggregate: " .. err) end
  f:write(data)
  f:close()
end

local function aggregate(cx, o, resolver)
  if not o.org_name or not o.email then cx.die("report aggregate needs --org-name and --email") end
  local store, code = open_store(cx, o)
  if not store then return code end
  local period
  if o.begin or o["end"] then
    if not (o.begin and o["end"]) then cx.die("report aggregate: give both --begin and --end") end
    period = { begin = o.begin, ["end"] = o["end"] }
  end
  local only = o.domain and { o.domain } or nil
  local reps, err = cx.call(report.aggregate, store, { org_name = o.org_name, email = o.email,
    period = period, only_domains = only, skip_domains = o.skip_domains, resolver = resolver,
    now = o.now, psl_file = o.psl_file, org_domain = o.org_domain })
  store:close()
  if not reps then
    io.stderr:write("mailauth: report aggregate: ", tostring(err), "\n")
    return cx.EXIT.temperror
  end
  local dir = o.out or "."
  local rows = {}
  for i, r in ipairs(reps) do
    write(cx, dir .. "/" .. r.filename, r.xml_gz)
    if #r.rua > 0 then
      write(cx, dir .. "/" .. r.filename:gsub("%.xml%.gz$", ".eml"), report.message(r.xml_gz, {
        from = o.email, to = r.rua, domain = r.domain, submitter = r.submitter,
        report_id = r.report_id, filename = r.filename }))
    end
    rows[i] = { domain = r.domain, file = r.filename, records = r.records, messages = r.messages,
                rua = r.rua, refused = r.refused }
  end
  if o.json then cx.print_json(rows) return cx.EXIT.pass end
  for _, r in ipairs(rows) do
    print(("%s: %d records, %d messages -> %s"):format(r.file, r.records, r.messages,
          #r.rua > 0 and table.concat(r.rua, ", ") or "(no destination)"))
    for _, x in ipairs(r.refused) do print(("  refused %s: %s"):format(x.uri, x.reason)) end
  end
  if #rows == 0 then print("no records in the period") end
  return cx.EXIT.pass
end

local function summary(cx, o)
  if #o.words < 3 then cx.die("report summary needs report files") end
  local reports, worst = {}, cx.EXIT.pass
  for i = 3, #o.words do
    local r, err = report.parse(cx.read_file(o.words[i], "report summary"))
    if r then reports[#reports + 1] = r
    else
      io.stderr:write(("mailauth: %s: %s\n"):format(o.words[i], err))
      worst = cx.EXIT.permerror
    end
  end
  local rows = report.summary(reports)
  if o.json then cx.print_json(rows) return worst end
  local total = 0
  for _, r in ipairs(rows) do total = total + r.messages end
  print(("%d reports, %d messages"):format(#reports, total))
  print(("%-20s %-40s %8s  %-11s %-5s %-5s %s"):format("domain", "source ip", "messages",
        "disposition", "dkim", "spf", "header from"))
  for _, r in ipairs(rows) do
    print(("%-20s %-40s %8d  %-11s %-5s %-5s %s"):format(r.domain, r.source_ip, r.messages,
          r.disposition, r.dkim, r.spf, r.header_from))
  end
  return worst
end

local SUB = { record = record, aggregate = aggregate, summary = summary }
M.NO_DNS = { summary = true }

function M.run(cx, o, resolver)
  local sub = o.words[2]
  local fn = SUB[sub or ""]
  if not fn then cx.die("report needs record, aggregate or summary (see --help)") end
  return fn(cx, o, resolver)
end

return M
