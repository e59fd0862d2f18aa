-- mailauth.report (RFC 9990 aggregate reports), with real parts only:
-- mailauth.check over the zone resolver makes the results; records go
-- into a real SQLite file (LuaSQL) that two processes write at once; the
-- report is validated by xmllint against the RFC 9990 schema kept in
-- ../shared/testdata/dmarc-report/schema, parsed back by our reader and
-- by Python's xml.etree (/usr/bin/python3); every report of that folder
-- parses with the records, count sums and parse status reports.tsv gives.
local mailauth = require "mailauth"
local helpers = require "spec.support.helpers"

local LUA = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
local function sh(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local function has(module)
  local ok = pcall(require, module)
  return ok
end
local function command(name)
  local p = io.popen("command -v " .. name .. " 2>/dev/null")
  local path = p:read("*l")
  p:close()
  return path ~= nil and path ~= ""
end
local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p " .. sh(d)))
  return d
end

local ZONE = [[
example.org. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
_dmarc.example.org. 300 IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.org!10m,mailto:agg@reports.example.net,mailto:agg@nowhere.example; fo=1"
example.org._report._dmarc.reports.example.net. 300 IN TXT "v=DMARC1"
example.com. 300 IN TXT "v=spf1 -all"
_dmarc.example.com. 300 IN TXT "v=DMARC1; p=quarantine; sp=none; adkim=s; t=y"
]]
local resolver = mailauth.resolver { zones = { ZONE } }

local function check(from, ip, sender)
  return mailauth.check(("From: a@%s\r\nSubject: hi\r\n\r\nbody\r\n"):format(from),
                        { ip = ip, helo = "mx.sender.example", sender = sender,
                          resolver = resolver, pct_roll = 0 })
end

describe("mailauth.report.record", function()
  it("turns a check result into an RFC 9990 record", function()
    local rep = check("example.org", "192.0.2.1", "bounce@example.org")
    local rec = assert(mailauth.report.record(rep, { recipients = { "u@dest.example", "v@DEST.example" },
                                                      now = 1700000000 }))
    assert.are.equal("example.org", rec.policy_domain)
    assert.are.equal("192.0.2.1", rec.row.source_ip)
    -- RFC 9990 ActionDispositionType: "pass" when DMARC passes under p=reject
    assert.are.same({ disposition = "pass", dkim = "fail", spf = "pass", reason = {} },
                    rec.row.policy_evaluated)
    assert.are.same({ header_from = "example.org", envelope_from = "example.org",
                      envelope_to = "dest.example" }, rec.identifiers)
    assert.are.same({ { domain = "example.org", scope = "mfrom", result = "pass" } },
                    rec.auth_results.spf)
    assert.are.equal("reject", rec.policy_published.p)
    assert.are.equal("1", rec.policy_published.fo)
    assert.is_truthy(rec.policy_published.discovery_method == "psl"
                     or rec.policy_published.discovery_method == "treewalk")
    assert.are.equal(1700000000, rec.time)
  end)

  it("takes policy_published from the core: every DMARC result with a policy has it", function()
    -- (record.lua reads no record text: there is no other source to fall back on)
    for _, case in ipairs { { "example.org", "192.0.2.1" }, { "example.com", "198.51.100.7" },
                            { "sub.example.com", "198.51.100.7" } } do
      local rep = check(case[1], case[2], "x@" .. case[1])
      assert.is_string(rep.dmarc.policy, case[1])
      local pub = rep.dmarc.policy_published
      assert.is_table(pub, case[1])
      local rec = assert(mailauth.report.record(rep))
      for _, tag in ipairs { "p", "sp", "np", "adkim", "aspf", "fo" } do
        assert.are.equal(pub[tag], rec.policy_published[tag], case[1] .. " " .. tag)
      end
    end
  end)

  it("reports an fo= written with spaces around its colons (RFC 7489 §6.4) without them", function()
    -- before, only ^[01ds:]+$ was kept: "0 : d", valid, left the report
    local z = mailauth.resolver { zones = { [[
spaced.example. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
_dmarc.spaced.example. 300 IN TXT "v=DMARC1; p=none; fo=0 : d"
]] } }
    local rep = mailauth.check("From: a@spaced.example\r\nSubject: hi\r\n\r\nbody\r\n",
                               { ip = "192.0.2.1", helo = "mx.sender.example", sender = "b@spaced.example",
                                 resolver = z, pct_roll = 0 })
    assert.are.equal("0 : d", rep.dmarc.policy_published.fo)
    assert.are.equal("0:d", assert(mailauth.report.record(rep)).policy_published.fo)
  end)

  it("says policy_test_mode when t=y softened a failing message's disposition", function()
    local rep = check("example.com", "198.51.100.7", "x@example.com")
    assert.are.equal("fail", rep.dmarc.result)
    local rec = assert(mailauth.report.record(rep, { reasons = { { type = "local_policy", comment = "ok" } } }))
    assert.are.equal("y", rec.policy_published.testing)
    assert.are.equal("s", rec.policy_published.adkim)
    local kinds = {}
    for _, r in ipairs(rec.row.policy_evaluated.reason) do kinds[#kinds + 1] = r.type end
    if rep.dmarc.disposition ~= rep.dmarc.policy then
      assert.are.same({ "local_policy", "policy_test_mode" }, kinds)
    else
      assert.are.same({ "local_policy" }, kinds)
    end
  end)

  it("has nothing to record without a DMARC policy, and refuses unknown reasons", function()
    local rep = check("no-dmarc.example", "192.0.2.1", "a@no-dmarc.example")
    local rec, why = mailauth.report.record(rep)
    assert.is_nil(rec)
    assert.matches("no DMARC policy", why)
    rep = check("example.org", "192.0.2.1", "a@example.org")
    rec, why = mailauth.report.record(rep, { reasons = { "forwarded" } })
    assert.is_nil(rec)
    assert.matches("reasons%[1%]", why)
    assert.has_error(function() mailauth.report.record(rep, { recipient = {} }) end,
      "mailauth.report.record: option 'recipient' is unknown (did you mean 'recipients'?)")
  end)
end)

describe("mailauth.report.parse", function()
  local DIR = helpers.testdata("dmarc-report/")
  if not DIR then
    pending("skipped: ../shared/testdata/dmarc-report absent")
    return
  end
  if not has("lxp") or not has("zlib") then
    pending("skipped: lua-expat or lua-zlib is not installed for " .. LUA)
    return
  end

  it("reads every report of reports.tsv with its records, count sum and parse status", function()
    local tsv = helpers.read(DIR .. "reports.tsv")
    local n, parsed, refused = 0, 0, 0
    for line in tsv:gmatch("[^\n]+") do
      local c = {}
      for field in (line .. "\t"):gmatch("([^\t]*)\t") do c[#c + 1] = field end
      if c[1] ~= "file" then
        n = n + 1
        local r, err = mailauth.report.parse(helpers.read(DIR .. c[1]))
        if c[9] == "yes" then
          assert(r, c[1] .. ": " .. tostring(err))
          local sum = 0
          for _, rec in ipairs(r.records) do sum = sum + rec.count end
          assert.are.equal(tonumber(c[7]), #r.records, c[1] .. " records")
          assert.are.equal(tonumber(c[8]), sum, c[1] .. " count sum")
          assert.are.equal(c[5], r.report_metadata.org_name, c[1] .. " org_name")
          assert.are.equal(c[6], r.policy_published.domain, c[1] .. " policy domain")
          if c[4]:match("^9990") then assert.are.equal("rfc9990", r.schema, c[1])
          elseif c[4] == "7489" then assert.are.equal("rfc7489", r.schema, c[1]) end
          parsed = parsed + 1
        else
          assert.is_nil(r, c[1])
          -- the same complaint as the one reports.tsv names (Python's expat)
          local want = c[9]:match("^no: ([^:]+)")
          if want == "empty file" then assert.matches("empty document", err)
          else assert.matches(want, err, 1, true) end
          refused = refused + 1
        end
      end
    end
    assert.are.equal(54, n)
    assert.are.equal(50, parsed)
    assert.are.equal(4, refused)
  end)

  it("reads the RFC 9990 sample's fields", function()
    local r = assert(mailauth.report.parse(helpers.read(DIR .. "rfc/rfc9990-appendix-b.xml")))
    assert.are.equal("urn:ietf:params:xml:ns:dmarc-2.0", r.namespace)
    assert.are.same({ begin = 302832000, ["end"] = 302918399 }, r.report_metadata.date_range)
    assert.are.equal("treewalk", r.policy_published.discovery_method)
    assert.are.same({ { domain = "example.com", selector = "abc123", result = "pass" } },
                    r.records[1].auth_results.dkim)
    assert.are.equal("fail", r.records[1].policy_evaluated.spf)
  end)

  it("refuses bad input with a problem, never an error", function()
    local function refused(data, pattern)
      local r, err = mailauth.report.parse(data)
      assert.is_nil(r)
      assert.matches(pattern, err)
    end
    refused("<feedback><record>", "not well%-formed")
    refused("<other/>", "root element is <other>")
    -- the billion laughs: refused before expat could expand it
    refused('<?xml version="1.0"?><!DOCTYPE f [<!ENTITY a "aaaaaaaaaa">'
            .. '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><feedback>&b;</feedback>',
            "document type declaration")
    -- a gzip bomb: 80 MiB of zeros in ~80 KB stops at the bound (64 MiB), and
    -- at a caller's smaller one
    local zlib = require "zlib"
    local bomb = zlib.deflate(9, 31)(("\0"):rep(80 * 1024 * 1024), "finish")
    assert.is_true(#bomb < 200000)
    refused(bomb, "inflates to more than 67108864 bytes")
    local small = zlib.deflate(9, 31)(("<feedback>" .. (" "):rep(4096) .. "</feedback>"), "finish")
    local r, err = mailauth.report.parse(small, { max_bytes = 1000 })
    assert.is_nil(r)
    assert.matches("more than 1000 bytes", err)
    refused(bomb:sub(1, 100), "ends early")
    refused("PK\3\4garbage", "zip")
  end)
end)

describe("mailauth.report.aggregate's check of external destinations", function()
  if not has("zlib") then
    pending("skipped: lua-zlib is not installed for " .. LUA)
    return
  end
  -- a store of one record, its rua the zone's: its own domain's address, an
  -- external one with its _report._dmarc record, one without (NXDOMAIN)
  local zone = resolver
  local rec = assert(mailauth.report.record(check("example.org", "192.0.2.1", "b@example.org"),
                                            { now = 1700000100 }))
  local store = { collect = function()
    return { ["example.org"] = { meta = { policy_published = rec.policy_published, rua = rec.rua },
                                 rows = { { record = rec, count = 1 } } } }
  end }
  local function verify(r)
    local reps = assert(mailauth.report.aggregate(store, { org_name = "Receiver",
      email = "dmarc@receiver.example", period = { begin = 1700000000, ["end"] = 1700086400 },
      now = 1700086500, resolver = r }))
    assert.are.same({ "dmarc@example.org", "agg@reports.example.net" }, reps[1].rua)
    assert.are.equal(1, #reps[1].refused)
    assert.are.equal("mailto:agg@nowhere.example", reps[1].refused[1].uri)
    assert.matches("^NXDOMAIN for example%.org%._report%._dmarc%.nowhere%.example", reps[1].refused[1].reason)
  end

  it("asks a C zone resolver (mailauth.resolver{ zones = })", function()
    verify(mailauth.resolver { zones = { ZONE } })
  end)

  it("asks a batch resolver (query_many only), with the seconds left as its hint", function()
    -- before, only a function or :query was asked: every external
    -- destination was refused as SERVFAIL
    local asked = {}
    verify({ query_many = function(_, questions, timeout)
      assert.is_true(type(timeout) == "number" and timeout > 0 and timeout <= 20)
      local answers = {}
      for i, q in ipairs(questions) do
        asked[#asked + 1] = q.type .. " " .. q.name
        answers[i] = zone:query(q.name, q.type)
      end
      return answers
    end })
    assert.are.same({ "TXT example.org._report._dmarc.reports.example.net",
                      "TXT example.org._report._dmarc.nowhere.example" }, asked)
  end)

  it("asks a function resolver, whose TXT records may be lists of character-strings", function()
    verify(function(name, qtype, left)
      assert.is_true(type(left) == "number" and left > 0)
      local a = zone:query(name, qtype)
      local lists = {}
      for i, txt in ipairs(a.records or {}) do lists[i] = { txt:sub(1, 3), txt:sub(4) } end
      a.records = lists
      return a
    end)
  end)

  it("raises for a resolver of no kind the checks take", function()
    assert.has_error(function() verify(42) end)
  end)

  it("are outside by the operator's psl_file, and by name alone under org_domain = 'tree'", function()
    -- a.shared.example sends its reports to b.shared.example.  By the
    -- public list both are under shared.example: one organisation, no
    -- check.  The operator's list makes shared.example a suffix (a hosting
    -- provider's customers): two organisations, so the destination needs
    -- its _report._dmarc record, which it lacks.  Before, aggregate read
    -- the public list only and sent the report there unverified.
    local dir = tmpdir()
    local psl = dir .. "/psl.dat"
    local f = assert(io.open(psl, "w"))
    f:write("// the operator's list\nexample\nshared.example\n")
    f:close()
    local z = mailauth.resolver { zones = { [[
a.shared.example. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
_dmarc.a.shared.example. 300 IN TXT "v=DMARC1; p=none; rua=mailto:agg@b.shared.example"
]] } }
    local rep = mailauth.check("From: a@a.shared.example\r\nSubject: hi\r\n\r\nbody\r\n",
                               { ip = "192.0.2.1", helo = "mx.sender.example", sender = "b@a.shared.example",
                                 resolver = z, pct_roll = 0, psl_file = psl })
    local r = assert(mailauth.report.record(rep, { now = 1700000100 }))
    local one = { collect = function()
      return { [r.policy_domain] = { meta = { policy_published = r.policy_published, rua = r.rua },
                                     rows = { { record = r, count = 1 } } } }
    end }
    local function aggregate(extra)
      local o = { org_name = "Receiver", email = "dmarc@receiver.example",
                  period = { begin = 1700000000, ["end"] = 1700086400 }, now = 1700086500, resolver = z }
      for k, v in pairs(extra) do o[k] = v end
      return assert(mailauth.report.aggregate(one, o))[1]
    end
    assert.are.same({ "agg@b.shared.example" }, aggregate({}).rua)
    local own = aggregate({ psl_file = psl })
    assert.are.same({}, own.rua)
    assert.matches("^NXDOMAIN for a%.shared%.example%._report%._dmarc%.b%.shared%.example",
                   own.refused[1].reason)
    assert.are.same({}, aggregate({ org_domain = "tree" }).rua)
    os.remove(psl); os.remove(dir)
  end)
end)

describe("mailauth.report stores and reports", function()
  if not has("luasql.sqlite3") then
    pending("skipped: LuaSQL's SQLite driver (Debian lua-sql-sqlite3) is not installed for " .. LUA)
    return
  end
  if not has("zlib") then
    pending("skipped: lua-zlib is not installed for " .. LUA)
    return
  end
  local XSD = helpers.testdata("dmarc-report/schema/rfc9990.xsd")

  local function records()
    local a = assert(mailauth.report.record(check("example.org", "192.0.2.1", "b@example.org"),
                                            { now = 1700000100 }))
    local b = assert(mailauth.report.record(check("example.org", "198.51.100.9", "b@example.org"),
                                            { now = 1700000200 }))
    local c = assert(mailauth.report.record(check("example.com", "198.51.100.9", "b@example.com"),
                                            { now = 1700000300 }))
    return a, b, c
  end

  it("keeps what two processes write at once (SQLite, WAL) and reports it", function()
    local dir = tmpdir()
    local db = dir .. "/report.db"
    local script = dir .. "/writer.lua"
    -- each writer: its own process, 200 records as fast as it can
    helpers.write(script, ([[
      package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
      package.cpath = %q .. package.cpath
      local report = require "mailauth.report"
      local store = assert(report.store { sqlite = %q })
      local ip = arg[1]
      for i = 1, 200 do
        assert(store:add({ time = 1700000000 + i, policy_domain = "example.org", rua = {},
          policy_published = { domain = "example.org", p = "none" },
          row = { source_ip = ip, policy_evaluated = { disposition = "none", dkim = "fail",
                  spf = "pass", reason = {} } },
          identifiers = { header_from = "example.org" }, auth_results = { dkim = {}, spf = {} } }))
      end
      store:close()
    ]]):format(package.cpath:match("^[^;]*;") or "", db))
    assert(os.execute(("(%s %s 192.0.2.1 & %s %s 192.0.2.2 & wait) 2>%s"):format(
      LUA, sh(script), LUA, sh(script), sh(dir .. "/err"))))
    assert.are.equal("", helpers.read(dir .. "/err"))
    local store = assert(mailauth.report.store { sqlite = db })
    -- now: the day after the records (the store keeps 7 days by default)
    local reps = assert(mailauth.report.aggregate(store, { org_name = "Receiver",
      email = "dmarc@receiver.example", period = { begin = 1700000000, ["end"] = 1700086400 },
      now = 1700086500 }))
    assert.are.equal(1, #reps)
    assert.are.equal(2, reps[1].records)
    assert.are.equal(400, reps[1].messages)
    store:close()
    os.execute("rm -rf " .. sh(dir))
  end)

  it("makes the RFC 9990 report: schema-valid, named, its destinations verified", function()
    local dir = tmpdir()
    local store = assert(mailauth.report.store { sqlite = dir .. "/r.db", retention = 86400 })
    local a, b, c = records()
    for _ = 1, 3 do assert(store:add(a)) end
    assert(store:add(b))
    assert(store:add(c))
    local reps = assert(mailauth.report.aggregate(store, { org_name = "Receiver",
      email = "dmarc@receiver.example", period = { begin = 1700000000, ["end"] = 1700086400 },
      resolver = resolver, skip_domains = { "example.com" }, now = 1700086500 }))
    assert.are.equal(1, #reps)
    local r = reps[1]
    assert.are.equal("example.org", r.domain)
    assert.are.equal(2, r.records)
    assert.are.equal(4, r.messages)
    -- RFC 9990 §3.2.1: receiver!policy-domain!begin!end!unique-id.xml.gz
    assert.matches("^receiver%.example!example%.org!1700000000!1700086399![%w]+%.xml%.gz$", r.filename)
    -- !10m dropped; the external destination with its _report._dmarc
    -- record kept, the one without refused (NXDOMAIN)
    assert.are.same({ "dmarc@example.org", "agg@reports.example.net" }, r.rua)
    assert.are.equal(1, #r.refused)
    assert.are.equal("mailto:agg@nowhere.example", r.refused[1].uri)
    assert.matches("example%.org%._report%._dmarc%.nowhere%.example", r.refused[1].reason)
    -- the gzip is the XML
    assert.are.equal(r.xml, require("zlib").inflate(47)(r.xml_gz))
    -- parsed back: the same rows and counts
    local back = assert(mailauth.report.parse(r.xml_gz))
    assert.are.equal("rfc9990", back.schema)
    local counts = {}
    for _, rec in ipairs(back.records) do counts[rec.source_ip] = rec.count end
    assert.are.same({ ["192.0.2.1"] = 3, ["198.51.100.9"] = 1 }, counts)
    -- the same report made again has the same name (RFC 9990 §3.2.1)
    local again = assert(mailauth.report.aggregate(store, { org_name = "Receiver",
      email = "dmarc@receiver.example", period = { begin = 1700000000, ["end"] = 1700086400 },
      only_domains = { "example.org" }, now = 1700086500 }))
    assert.are.equal(r.filename, again[1].filename)
    -- without a resolver an external destination is not trusted
    assert.are.same({ "dmarc@example.org" }, again[1].rua)
    helpers.write(dir .. "/r.xml", r.xml)
    if XSD and command("xmllint") then
      local ok = os.execute(("xmllint --noout --schema %s %s 2>%s"):format(sh(XSD),
                            sh(dir .. "/r.xml"), sh(dir .. "/lint")))
      assert.is_truthy(ok == true or ok == 0, helpers.read(dir .. "/lint"))
      assert.matches("validates", helpers.read(dir .. "/lint"))
    else
      print("report_spec: xmllint (Debian libxml2-utils) or the RFC 9990 schema absent: not validated")
    end
    if io.open("/usr/bin/python3") then
      -- a second reader: Python's xml.etree, the same records and counts
      local p = io.popen(("/usr/bin/python3 -c %s %s"):format(sh([[
import sys, xml.etree.ElementTree as ET
ns = {"d": "urn:ietf:params:xml:ns:dmarc-2.0"}
root = ET.parse(sys.argv[1]).getroot()
for r in root.findall("d:record", ns):
    print(r.find("d:row/d:source_ip", ns).text, r.find("d:row/d:count", ns).text)
]]), sh(dir .. "/r.xml")))
      local seen = {}
      for line in p:lines() do
        local ip, n = line:match("^(%S+) (%d+)$")
        seen[ip] = tonumber(n)
      end
      p:close()
      assert.are.same(counts, seen)
    end
    -- retention: past it, the rows are gone
    assert(store:expire(1700000100 + 86400 + 1000))
    local later = assert(mailauth.report.aggregate(store, { org_name = "R", email = "d@r.example",
      period = { begin = 1700000000, ["end"] = 1700086400 } }))
    assert.are.equal(0, #later)
    store:close()
    os.execute("rm -rf " .. sh(dir))
  end)

  it("builds the report message, which reads back as the report", function()
    local dir = tmpdir()
    local store = assert(mailauth.report.store { sqlite = dir .. "/r.db" })
    local a = records()
    assert(store:add(a))
    local r = assert(mailauth.report.aggregate(store, { org_name = "Receiver",
      email = "dmarc@receiver.example", period = { begin = 1700000000, ["end"] = 1700086400 },
      now = 1700086500 }))[1]
    local msg = mailauth.report.message(r.xml_gz, { from = "dmarc@receiver.example", to = r.rua,
      domain = r.domain, submitter = r.submitter, report_id = r.report_id, filename = r.filename,
      date = "Tue, 14 Nov 2023 22:13:20 +0000" })
    assert.matches("\r\nSubject: Report Domain: example%.org\r\n Submitter: receiver%.example\r\n"
                   .. " Report%-ID: <" .. r.report_id .. ">\r\n", msg)
    assert.matches('Content%-Type: application/gzip\r\n', msg)
    assert.is_truthy(msg:find('filename="' .. r.filename .. '"', 1, true))
    local back = assert(mailauth.report.parse(msg))
    assert.are.equal(1, back.records[1].count)
    assert.has_error(function()
      mailauth.report.message(r.xml_gz, { from = "a@b\r\nBcc: x@y", to = "t@example", domain = "d",
                                          submitter = "s", report_id = "1" })
    end, "mailauth.report.message: from must be a one-line string")
    store:close()
    os.execute("rm -rf " .. sh(dir))
  end)

  it("keeps a record 7 days by default, for ever with retention = false", function()
    local dir = tmpdir()
    local a = records()
    local week = 7 * 86400
    assert.are.equal(week, mailauth.report.RETENTION)
    local function kept(store)
      local got = assert(store:collect(1700000000, 1700086400))
      return got["example.org"] ~= nil
    end
    local store = assert(mailauth.report.store { sqlite = dir .. "/default.db" })
    assert(store:add(a))
    assert(store:expire(a.time + week - 1))
    assert.is_true(kept(store))
    assert(store:expire(a.time + week + 1))
    assert.is_false(kept(store))
    store:close()
    store = assert(mailauth.report.store { sqlite = dir .. "/forever.db", retention = false })
    assert(store:add(a))
    assert(store:expire(a.time + 20 * 365 * 86400))
    assert.is_true(kept(store))
    store:close()
    for _, bad in ipairs { 0, -1, 0 / 0, 11 * 365 * 86400, "7d", true } do
      assert.has_error(function() mailauth.report.store { sqlite = dir .. "/x.db", retention = bad } end,
        "mailauth.report.store: option 'retention' must be seconds in (0, 10 years], or false (kept for ever)")
    end
    os.execute("rm -rf " .. sh(dir))
  end)

  it("waits asleep for a file another writer holds, and gives up after busy_timeout of wall time", function()
    -- Another connection's write transaction (RESERVED): the switch to WAL
    -- is then refused at once, without SQLite's busy handler, so the store
    -- waits itself.  Before, it tried again at once until busy_timeout of
    -- CPU time (os.clock) had gone: a spin, and no bound on the wall time.
    if not has("socket") then pending("lua-socket is not installed for " .. LUA) return end
    local clock = require("mailauth.core").monotonic
    local dir = tmpdir()
    local db = dir .. "/held.db"
    local env = require("luasql.sqlite3").sqlite3()
    local other = assert(env:connect(db))
    assert(other:execute("CREATE TABLE t (x)"))
    assert(other:execute("BEGIN IMMEDIATE"))
    local t0, c0 = clock(), os.clock()
    local store, err = mailauth.report.store { sqlite = db, busy_timeout = 300 }
    local wall, cpu = clock() - t0, os.clock() - c0
    assert.is_nil(store)
    assert.matches("locked", err)
    assert.is_true(wall >= 0.25 and wall < 10, "waited " .. wall .. " s")
    assert.is_true(cpu < 0.1, "spent " .. cpu .. " s of CPU")
    -- the writer done, the same store opens
    assert(other:execute("COMMIT"))
    store = assert(mailauth.report.store { sqlite = db, busy_timeout = 300 })
    store:close()
    other:close()
    env:close()
    os.execute("rm -rf " .. sh(dir))
  end)

  it("refuses a store add that is not a record, as a value", function()
    local dir = tmpdir()
    local store = assert(mailauth.report.store { sqlite = dir .. "/r.db" })
    local ok, err = store:add({})
    assert.is_nil(ok)
    assert.matches("not a report record", err)
    store:close()
    local none, why = mailauth.report.store { sqlite = dir .. "/no/such/dir/r.db" }
    assert.is_nil(none)
    assert.is_string(why)
    os.execute("rm -rf " .. sh(dir))
  end)
end)
