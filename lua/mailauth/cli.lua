-- The mailauth command line (bin/mailauth): single checks for a mail admin,
-- signing and sealing, DKIM key generation, and the offline demo.  Output
-- is meant to be read at a glance; --json is for machines.  The exit code
-- says the outcome the same way in both (EXIT below, `--help`,
-- man/mailauth.1).  Errors name what the user gave (an option, a file),
-- never a place in the source.
local mailauth = require "mailauth"

local M = {}

-- The exit codes; every command maps its outcome onto these.
local EXIT = { pass = 0, fail = 1, usage = 2, temperror = 3, permerror = 4 }
M.EXIT = EXIT

local USAGE = [[
usage: mailauth [options] COMMAND ...

commands:
  check MESSAGE|DIR   every check for a message file (- for stdin): iprev, SPF
                      (MAIL FROM and HELO), DKIM, ARC, DMARC; prints the
                      Authentication-Results header and a summary.  A folder:
                      every *.eml in it, then a table
  spf                 SPF for --ip/--sender (or --helo with no --sender)
  iprev IP            forward-confirmed reverse DNS of IP (RFC 8601 §3)
  ptr IP              the PTR names of IP
  dkim MESSAGE        verify every DKIM signature of a message
  dmarc DOMAIN        the DMARC record and policy of a From domain
  query NAME [TYPE]   one DNS question (A, AAAA, MX, TXT, PTR, CNAME, NS)
  sign MESSAGE        print the message with a DKIM-Signature added
                      (--key, --domain, --selector; --algorithm)
  seal MESSAGE        print the message with an ARC set added (--key,
                      --domain, --selector, --authserv-id; --results, --cv)
  keygen              make a DKIM key: writes the private key (--out, default
                      SELECTOR.private) and prints the DNS TXT record
                      (--selector, --domain; --type rsa|ed25519, --bits)
  demo [DIR]          check the sample messages in DIR (default: examples)
  report record MESSAGE...
                      check each message (--ip, --sender, ...) and keep its
                      DMARC report record in --report-store
  report aggregate    the RFC 9990 aggregate reports of --begin..--end
                      (default: yesterday, UTC) from --report-store, one
                      .xml.gz and its report message (.eml, for sendmail -t)
                      per policy domain in --out (default .); --org-name,
                      --email; --domain, --skip-domain to choose
  report summary FILE...
                      read aggregate reports (XML, gzip, zip or the message)
                      and print messages per domain, source IP and result

options:
  --ip ADDRESS        the SMTP client's address
  --helo NAME         the HELO/EHLO name
  --sender ADDRESS    the MAIL FROM address ("" for a bounce)
  --authserv-id ID    the name in Authentication-Results (default: localhost)
  --now SECONDS       the clock for signature times (default: now)
  --dns NS            ask this nameserver (127.0.0.1, 127.0.0.1@5353, [::1]:53);
                      may be given more than once
  --resolv-conf FILE  take the nameservers from FILE (default /etc/resolv.conf)
  --zone FILE         answer offline from this zone file; may be repeated
  --timeout SECONDS   per DNS try (default 5)
  --trace             each DNS question, its answer, rcode and time on stderr
                      (also --verbose)
  --json              print results as JSON (empty lists as [])
  --key FILE          sign, seal: the private key (PEM)
  --domain NAME       sign, seal: d=; keygen: the domain of the record;
                      report aggregate: the one policy domain to report
  --selector NAME     sign, seal, keygen: s=
  --algorithm ALG     sign, seal: rsa-sha256 (default) or ed25519-sha256
  --results TEXT      seal: what this hop found ("spf=pass ...; dkim=pass ...")
  --cv none|pass|fail seal: the chain validation (default: arc= of --results)
  --type rsa|ed25519  keygen: the key type (default rsa)
  --bits N            keygen: RSA key size (default 2048)
  --out FILE          keygen: where the private key goes; report aggregate:
                      the folder for the reports
  --report-store STORE
                      check, report: a SQLite file, or redis://HOST:PORT
  --retention SECONDS report: how long records are kept (default: 7 days)
  --psl-file FILE     check, dmarc, report: the Public Suffix List to use
                      (default: the system's, publicsuffix)
  --org-domain psl|tree
                      check, dmarc, report: the Organizational Domain by the
                      list (psl, RFC 7489; default) or by the DNS tree walk
                      (tree, RFC 9989)
  --rcpt ADDRESS      check, report record: an envelope recipient; repeatable
  --org-name NAME     report aggregate: the reporting organisation
  --email ADDRESS     report aggregate: its contact address (also From:)
  --begin SECONDS     report aggregate: the period's start (epoch seconds)
  --end SECONDS       report aggregate: the period's end (excluded)
  --skip-domain NAME  report aggregate: no report for NAME; repeatable
  --version           print the version
  -h, --help          this text

exit codes (the same with --json):
  0  pass / accept: check: DMARC passes, or nothing says reject or
     quarantine; spf, iprev, dkim: pass; dmarc: a valid record was found;
     ptr: a name; query: an answer (NOERROR); sign, seal, keygen, report: done;
     demo: every message met its expectation
  1  fail: authentication failed, or the policy says reject or quarantine
     (spf fail, softfail, neutral, none; iprev: no name maps back; no or no
     valid DKIM signature; no DMARC record; ptr, query: NXDOMAIN; seal: the
     newest ARC-Seal says cv=fail, so no set is added; demo: a message did
     not meet its expectation)
  2  usage error: a bad option, argument or file (a key file that cannot
     be read, an --out keygen cannot write, a name query cannot ask)
  3  temporary failure: DNS (timeout, SERVFAIL, REFUSED, any rcode but
     NOERROR and NXDOMAIN): try again later; report: the store
     could not keep or give the records
  4  permanent error: broken records (SPF permerror, a DKIM signature or
     key that cannot be used, a DMARC record that cannot be applied; iprev:
     no PTR record), a broken message, or a key sign or seal cannot use or
     keygen cannot make (openssl failed); report summary: a file that is not
     a readable report
]]

local quiet_exit = {}   -- raised by die(): main turns it into the exit code

-- Error texts of the library carry the Lua position of the caller ("x.lua:12: ");
-- the user gave an option or a file, not that line.
local function clean(msg)
  msg = tostring(msg)
  local prev
  repeat
    prev = msg
    msg = msg:gsub("^[^%s:]+%.lua:%d+: ", "")
  until msg == prev
  return msg
end

local function die(msg, code)
  io.stderr:write("mailauth: ", clean(msg), "\n")
  error({ [quiet_exit] = code or EXIT.usage }, 0)
end

local VALUE_OPTS = {
  ["--ip"] = "ip", ["--helo"] = "helo", ["--sender"] = "sender",
  ["--authserv-id"] = "authserv_id", ["--resolv-conf"] = "resolv_conf",
  ["--key"] = "key", ["--domain"] = "domain", ["--selector"] = "selector",
  ["--algorithm"] = "algorithm", ["--results"] = "results", ["--cv"] = "cv",
  ["--type"] = "type", ["--out"] = "out",
  ["--report-store"] = "report_store", ["--org-name"] = "org_name", ["--email"] = "email",
  ["--psl-file"] = "psl_file", ["--org-domain"] = "org_domain",
}
local NUMBER_OPTS = { ["--now"] = "now", ["--timeout"] = "timeout", ["--bits"] = "bits",
                      ["--retention"] = "retention", ["--begin"] = "begin", ["--end"] = "end" }
-- options that may be given more than once, into a list
local LIST_OPTS = { ["--rcpt"] = "rcpt", ["--skip-domain"] = "skip_domains" }
local FLAG_OPTS = {
  ["--json"] = "json", ["--trace"] = "trace", ["--verbose"] = "trace",
  ["--version"] = "version", ["-h"] = "help", ["--help"] = "help",
}

-- Options anywhere, the command and its words in order.
local function parse_args(argv)
  local o = { dns = {}, zones = {}, words = {}, rcpt = {}, skip_domains = {} }
  local i = 1
  while i <= #argv do
    local a = argv[i]
    local function value()
      i = i + 1
      if argv[i] == nil then die(a .. " needs a value") end
      return argv[i]
    end
    if a == "--dns" then o.dns[#o.dns + 1] = value()
    elseif a == "--zone" then o.zones[#o.zones + 1] = value()
    elseif VALUE_OPTS[a] then o[VALUE_OPTS[a]] = value()
    elseif LIST_OPTS[a] then table.insert(o[LIST_OPTS[a]], value())
    elseif NUMBER_OPTS[a] then
      o[NUMBER_OPTS[a]] = tonumber(value()) or die(a .. " wants a number, not '" .. argv[i] .. "'")
    elseif FLAG_OPTS[a] then o[FLAG_OPTS[a]] = true
    elseif a:sub(1, 1) == "-" and a ~= "-" then die("unknown option " .. a .. " (see --help)")
    else o.words[#o.words + 1] = a end
    i = i + 1
  end
  return o
end

-- ---- JSON: lua-cjson writes the strings and numbers; the structure is
-- ours, so that an empty list is [] (cjson 2.1 writes every empty table
-- as {}).  Keys sorted: the same result prints the same bytes.
local function json_encoder()
  local ok, cjson = pcall(require, "cjson")
  if not ok then die("--json needs lua-cjson (apt-get install lua-cjson, or luarocks install lua-cjson)") end
  local encode
  local function is_list(t)
    local n = #t
    for k in pairs(t) do
      if type(k) ~= "number" or k < 1 or k > n or k % 1 ~= 0 then return false end
    end
    return true
  end
  function encode(v, out)
    local tv = type(v)
    if tv == "table" then
      if is_list(v) then
        out[#out + 1] = "["
        for i = 1, #v do
          if i > 1 then out[#out + 1] = "," end
          encode(v[i], out)
        end
        out[#out + 1] = "]"
      else
        local keys = {}
        for k in pairs(v) do keys[#keys + 1] = tostring(k) end
        table.sort(keys)
        out[#out + 1] = "{"
        for i, k in ipairs(keys) do
          if i > 1 then out[#out + 1] = "," end
          local val = v[k]
          if val == nil then val = v[tonumber(k)] end
          out[#out + 1] = cjson.encode(k) .. ":"
          encode(val, out)
        end
        out[#out + 1] = "}"
      end
    elseif tv == "string" or tv == "number" or tv == "boolean" then
      out[#out + 1] = cjson.encode(v)
    else
      out[#out + 1] = "null"
    end
  end
  return function(v)
    local out = {}
    encode(v, out)
    return table.concat(out)
  end
end

local to_json
local function print_json(v)
  to_json = to_json or json_encoder()
  print(to_json(v))
end

-- ---- DNS ----

local function make_resolver(o)
  local opts
  if #o.zones > 0 then
    opts = { zonefiles = o.zones }
  elseif #o.dns > 0 then
    opts = { nameservers = o.dns, timeout = o.timeout }
  else
    opts = { resolv_conf = o.resolv_conf, timeout = o.timeout }
  end
  local ok, r, err = pcall(mailauth.resolver, opts)
  if not ok then die(r) end
  if not r then die(err) end
  if not o.trace then return r end
  -- --trace: the checks ask through this function (a Lua resolver), which
  -- asks the real one and writes each exchange on stderr.
  local clock = mailauth.core.monotonic
  return function(name, qtype)
    local t0 = clock()
    local a = r:query(name, qtype)
    local shown = {}
    for i, rec in ipairs(a.records or {}) do
      shown[i] = type(rec) == "table" and (rec.preference .. " " .. rec.exchange) or rec
    end
    io.stderr:write(("dns: %s %s -> %s%s (%d ms)%s\n"):format(qtype, name, a.rcode,
      a.cnames and #a.cnames > 0 and (" via " .. table.concat(a.cnames, " > ")) or "",
      math.floor((clock() - t0) * 1000 + 0.5),
      #shown > 0 and (" " .. table.concat(shown, " | ")) or ""))
    return a
  end
end

-- ---- files ----

local function is_dir(path)
  -- io.open opens a folder on Linux; reading it fails with EISDIR.
  local f = io.open(path, "rb")
  if not f then return false end
  local ok, _, code = f:read(1)
  f:close()
  return ok == nil and code == 21
end

local function read_file(path, what)
  if path == "-" then return io.read("*a") end
  if is_dir(path) then die(("%s: %s is a folder, not a file"):format(what, path)) end
  local f, err = io.open(path, "rb")
  if not f then die(what .. ": " .. err) end
  local text = f:read("*a")
  f:close()
  return text
end

-- fn(...) with every value it returns; what it raises is a usage error.
local function call(fn, ...)
  local function pass(ok, ...)
    if not ok then die((...)) end
    return ...
  end
  return pass(pcall(fn, ...))
end

-- ---- outcomes -> exit codes ----

local function result_exit(result)
  if result == "pass" then return EXIT.pass end
  if result == "temperror" then return EXIT.temperror end
  if result == "permerror" then return EXIT.permerror end
  return EXIT.fail
end

-- dkim: one passing signature authenticates; else the worst outcome.
local function dkim_exit(sigs)
  local seen = {}
  for _, d in ipairs(sigs) do seen[d.result] = true end
  if seen.pass then return EXIT.pass end
  if seen.fail or seen.policy or seen.neutral then return EXIT.fail end
  if seen.temperror then return EXIT.temperror end
  if seen.permerror then return EXIT.permerror end
  return EXIT.fail -- no signature
end

-- check: DMARC decides (RFC 7489 §6.6); a failure only counts as one when
-- the policy acts on it; DNS trouble anywhere while DMARC did not pass is
-- a temporary failure, as is DMARC's own.
local function check_exit(rep)
  local dm = rep.dmarc or {}
  if dm.result == "pass" then return EXIT.pass end
  if dm.result == "fail" and (dm.disposition == "reject" or dm.disposition == "quarantine") then
    return EXIT.fail
  end
  local temp = dm.result == "temperror"
  for _, r in ipairs({ rep.spf or {}, rep.spf_helo or {}, rep.iprev or {}, rep.arc or {} }) do
    temp = temp or r.result == "temperror"
  end
  for _, d in ipairs(rep.dkim or {}) do temp = temp or d.result == "temperror" end
  if temp then return EXIT.temperror end
  -- a record that is there but cannot be applied is a broken record
  if dm.result == "permerror" or rep.message_problem or (dm.result == "none" and dm.record) then
    return EXIT.permerror
  end
  return EXIT.pass
end
M.check_exit = check_exit

-- ---- text output ----

local function list(t)
  if t == nil or #t == 0 then return "-" end
  return table.concat(t, ", ")
end

local function row(name, result, detail)
  print(("   %-8s %-10s %s"):format(name, result or "-", detail or ""))
end

local function show_iprev(ip, r)
  print(("iprev %-28s %-9s %s"):format(ip, r.result,
    r.name and ("confirmed as " .. r.name) or (r.problem or "")))
  if r.ptr and #r.ptr > 0 then print(("      PTR: %s"):format(list(r.ptr))) end
end

local function describe_spf(s)
  if not s then return end
  -- the identity checked is the value of its smtp.* property (RFC 8601 §2.7.2)
  local identity = s.properties and s.properties[1] and s.properties[1].value
  local who = s.scope == "helo" and ("helo " .. tostring(s.helo or s.domain))
              or ("mail from " .. tostring(identity or s.sender or s.domain))
  row("spf", s.result, who .. (s.problem and ("; " .. s.problem) or
                               s.mechanism and ("; matched " .. s.mechanism) or ""))
end

local function show_dkim(sigs)
  if #sigs == 0 then row("dkim", "none", "no signature") end
  for _, d in ipairs(sigs) do
    row("dkim", d.result, ("d=%s s=%s %s%s"):format(tostring(d.domain), tostring(d.selector),
      tostring(d.algorithm), d.problem and ("; " .. d.problem) or ""))
  end
end

-- The summary a mail admin reads at a glance.
local function show_report(rep)
  if #rep.from_domains ~= 1 then
    row("from", "?", ("%d From domains: %s"):format(#rep.from_domains, list(rep.from_domains)))
  end
  if rep.iprev then
    row("iprev", rep.iprev.result, rep.iprev.name or rep.iprev.problem)
  end
  describe_spf(rep.spf)
  describe_spf(rep.spf_helo)
  show_dkim(rep.dkim)
  local dm = rep.dmarc
  row("dmarc", dm.result, ("From %s; policy %s, disposition %s%s"):format(
    tostring(dm.domain), tostring(dm.policy or "-"), tostring(dm.disposition or "-"),
    dm.problem and ("; " .. dm.problem) or ""))
  if dm.shared_parent then
    row("", "", ("%s is a shared parent: its tenants do not align with each other")
      :format(dm.shared_parent))
  end
  local arc = rep.arc
  if arc and arc.result ~= "none" then
    local newest = arc.chain and arc.chain[#arc.chain]
    row("arc", arc.result, ("%d set(s)%s%s"):format(arc.instances or 0,
      newest and newest.domain and (", newest sealed by " .. newest.domain) or "",
      arc.problem and ("; " .. arc.problem) or ""))
  end
  if rep.message_problem then row("message", "problem", rep.message_problem) end
end

-- ---- commands ----

local commands = {}

function commands.iprev(o, resolver)
  local ip = o.words[2] or die("iprev needs an IP address")
  local r = call(mailauth.iprev, ip, { resolver = resolver })
  if o.json then print_json(r) else show_iprev(ip, r) end
  return result_exit(r.result)
end

function commands.ptr(o, resolver)
  local ip = o.words[2] or die("ptr needs an IP address")
  local names, err = call(mailauth.ptr, ip, { resolver = resolver })
  if o.json then
    print_json(names and { names = names } or { error = err })
  else
    print(names and table.concat(names, "\n") or ("no PTR: " .. tostring(err)))
  end
  if names then return EXIT.pass end
  return err == "nxdomain" and EXIT.fail or EXIT.temperror
end

-- An answer (NOERROR, data or not) passes and NXDOMAIN fails; every other
-- rcode is DNS trouble, temporary as it is for each check of the library
-- (RFC 7208 §4.4: only NXDOMAIN is an answer that there is
-- nothing).  So a query never ends in a permanent error: a name that
-- cannot be asked (BADNAME) is a bad argument.
local RCODE_EXIT = { NOERROR = EXIT.pass, NXDOMAIN = EXIT.fail }

local QTYPES = { A = true, AAAA = true, MX = true, TXT = true, PTR = true, CNAME = true,
                 NS = true, SOA = true }

function commands.query(o, resolver)
  local name = o.words[2] or die("query needs a name")
  local qtype = (o.words[3] or "A"):upper()
  if not QTYPES[qtype] then
    die(("query: unknown record type '%s' (A, AAAA, MX, TXT, PTR, CNAME, NS, SOA)"):format(o.words[3]))
  end
  local a
  if type(resolver) == "function" then a = call(resolver, name, qtype)
  else a = call(resolver.query, resolver, name, qtype) end
  if a.rcode == "BADNAME" then
    die(("query: '%s' cannot be asked: a label over 63 bytes, an empty label, or a name over 255 bytes")
      :format(name))
  end
  if o.json then
    print_json(a)
  else
    print(("%s (ttl %d)"):format(a.rcode, a.ttl or 0))
    for _, alias in ipairs(a.cnames or {}) do print("  via CNAME " .. alias) end
    for _, rec in ipairs(a.records or {}) do
      if type(rec) == "table" then
        print(("  %d %s"):format(rec.preference, rec.exchange))
      else
        print("  " .. rec)
      end
    end
  end
  return RCODE_EXIT[a.rcode] or EXIT.temperror
end

-- the store of --report-store, opened once per run (report/cli.lua)
local report_store

local function check_only(o, resolver, text)
  return call(mailauth.check, text, { ip = o.ip, helo = o.helo, sender = o.sender,
    resolver = resolver, authserv_id = o.authserv_id, now = o.now, psl_file = o.psl_file,
    org_domain = o.org_domain })
end

-- One message; with --report-store its DMARC report record is kept too
-- (a store that fails is said on stderr: the check's outcome stands).
local function check_one(o, resolver, text, name)
  local rep = check_only(o, resolver, text)
  if o.report_store and o.words[1] == "check" then
    local rcli = require "mailauth.report.cli"
    if report_store == nil then
      report_store = rcli.open_store(M.report_context, o) or false
    end
    if report_store then rcli.record_into(M.report_context, o, report_store, rep, name or "message") end
  end
  return rep
end

-- A folder: every *.eml in it (sorted), one row each, then the count of
-- each exit code; the exit code is the worst (highest) of them.
local function check_folder(o, resolver, dir)
  local files = {}
  local p = io.popen("ls -1 -- '" .. dir:gsub("'", "'\\''") .. "' 2>/dev/null")
  for name in p:lines() do
    if name:match("%.eml$") then files[#files + 1] = name end
  end
  p:close()
  table.sort(files)
  if #files == 0 then die(("check: no .eml files in the folder %s"):format(dir)) end
  local tty = os.execute("test -t 2")
  tty = tty == true or tty == 0
  local rows, counts, worst = {}, {}, EXIT.pass
  for i, name in ipairs(files) do
    if tty then io.stderr:write(("\r[%d/%d] %s\027[K"):format(i, #files, name)) end
    local rep = check_one(o, resolver, read_file(dir .. "/" .. name, "check"), name)
    local code = check_exit(rep)
    counts[code] = (counts[code] or 0) + 1
    if code > worst then worst = code end
    rows[i] = { file = name, exit = code, dmarc = rep.dmarc.result,
                disposition = rep.dmarc.disposition,
                spf = rep.spf and rep.spf.result, dkim = (rep.dkim[1] or {}).result or "none" }
    if o.json then rows[i].report = rep end
  end
  if tty then io.stderr:write("\r\027[K") end
  if o.json then print_json({ messages = rows, counts = counts }) return worst end
  print(("%-40s %-5s %-10s %-10s %-10s %s"):format("message", "exit", "dmarc", "spf", "dkim", "disposition"))
  for _, r in ipairs(rows) do
    print(("%-40s %-5d %-10s %-10s %-10s %s"):format(r.file, r.exit, r.dmarc or "-",
      r.spf or "-", r.dkim or "-", r.disposition or "-"))
  end
  print(("%d messages: %d pass, %d fail, %d temperror, %d permerror"):format(#files,
    counts[0] or 0, counts[1] or 0, counts[3] or 0, counts[4] or 0))
  return worst
end

function commands.check(o, resolver)
  local path = o.words[2] or die("check needs a message file (or - for stdin, or a folder)")
  if path ~= "-" and is_dir(path) then return check_folder(o, resolver, path) end
  local rep = check_one(o, resolver, read_file(path, "check"), path)
  if o.json then
    print_json(rep)
  else
    print((rep.authentication_results:gsub("\r\n", "\n")))
    show_report(rep)
  end
  return check_exit(rep)
end

function commands.spf(o, resolver)
  if not o.ip then die("spf needs --ip") end
  local r = call(mailauth.spf, { ip = o.ip, sender = o.sender or "", helo = o.helo,
    resolver = resolver, scope = (o.sender == nil and o.helo) and "helo" or nil })
  if o.json then print_json(r) else
    print(r.received_spf)
    describe_spf(r)
  end
  return result_exit(r.result)
end

function commands.dkim(o, resolver)
  local path = o.words[2] or die("dkim needs a message file (or - for stdin)")
  local sigs = call(mailauth.dkim_verify, read_file(path, "dkim"), { resolver = resolver, now = o.now })
  if o.json then print_json(sigs) else show_dkim(sigs) end
  return dkim_exit(sigs)
end

function commands.dmarc(o, resolver)
  local domain = o.words[2] or die("dmarc needs a From domain")
  local r = call(mailauth.dmarc, { from = domain, resolver = resolver, psl_file = o.psl_file,
                                   org_domain = o.org_domain })
  if o.json then
    print_json(r)
  else
    print(("record   %s"):format(r.record or "-"))
    print(("policy   %s (from %s, org domain %s)"):format(tostring(r.policy or "-"),
      tostring(r.policy_domain or "-"), tostring(r.org_domain or "-")))
    if r.problem then print("problem  " .. r.problem) end
  end
  if r.result == "temperror" or r.result == "permerror" then return result_exit(r.result) end
  if r.record and r.result == "none" then return EXIT.permerror end -- there, but broken
  return r.record and EXIT.pass or EXIT.fail
end

local function signer_opts(o, what)
  for _, k in ipairs({ "key", "domain", "selector" }) do
    if not o[k] then die(("%s needs --%s"):format(what, k)) end
  end
  return { domain = o.domain, selector = o.selector, key = read_file(o.key, "--key"),
           algorithm = o.algorithm, now = o.now }
end

-- The message with the new fields on top, its line ends kept.
local function prepend(fields, message)
  local eol = message:find("\r\n", 1, true) and "\r\n" or "\n"
  if eol == "\n" then fields = fields:gsub("\r\n", "\n") end
  io.write(fields, eol, message)
end

function commands.sign(o)
  local path = o.words[2] or die("sign needs a message file (or - for stdin)")
  local message = read_file(path, "sign")
  local opts = signer_opts(o, "sign")
  local header, err = call(mailauth.dkim_sign, message, opts)
  if not header then die("sign: " .. tostring(err), EXIT.permerror) end
  if o.json then print_json({ header = header }) else prepend(header, message) end
  return EXIT.pass
end

function commands.seal(o)
  local path = o.words[2] or die("seal needs a message file (or - for stdin)")
  local message = read_file(path, "seal")
  local opts = signer_opts(o, "seal")
  opts.authserv_id = o.authserv_id or die("seal needs --authserv-id")
  opts.authentication_results = o.results
  opts.cv = o.cv
  local fields, r, code = call(mailauth.arc_seal, message, opts)
  -- A chain its last hop found failed is a failed authentication: RFC
  -- 8617 §5.1 adds no set to it.  Anything else (the key, the message) is
  -- permanent.
  if not fields then
    die("seal: " .. tostring(r), code == "arc_chain_failed" and EXIT.fail or EXIT.permerror)
  end
  if o.json then print_json(r) else prepend(fields, message) end
  return EXIT.pass
end

-- ---- keygen ----

local base64 = require("mailauth.internal").base64
M.base64 = base64

local function sh(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- A TXT record's text as zone-file strings of at most 255 bytes each
-- (RFC 1035 §3.3: a character-string is one length byte and its bytes).
local function txt_strings(text)
  local parts = {}
  for i = 1, #text, 255 do parts[#parts + 1] = '"' .. text:sub(i, i + 254) .. '"' end
  return parts
end
M.txt_strings = txt_strings

-- The key is OpenSSL's (the openssl command, as opendkim-genkey uses it):
-- RSA with p= its SubjectPublicKeyInfo (RFC 6376 §3.6.1), Ed25519 with p=
-- the bare 32-byte public key (RFC 8463 §4.2), the last 32 bytes of its
-- SubjectPublicKeyInfo.
function commands.keygen(o)
  local selector = o.selector or die("keygen needs --selector")
  local ktype = o.type or "rsa"
  if ktype ~= "rsa" and ktype ~= "ed25519" then die("--type is rsa or ed25519, not '" .. ktype .. "'") end
  local bits = o.bits or 2048
  if ktype == "rsa" and (bits < 1024 or bits > 8192 or bits % 1 ~= 0) then
    die("--bits wants a key size from 1024 to 8192")
  end
  local out = o.out or (selector .. ".private")
  local existing = io.open(out, "rb")
  if existing then existing:close(); die(("keygen: %s exists; give another --out"):format(out)) end
  -- The file is made here, empty and private (umask 077), so that a path
  -- that cannot be written is the user's (a bad --out, exit 2) and not
  -- taken for openssl failing; openssl then writes into it.
  local made = os.execute("umask 077 && { : > " .. sh(out) .. "; } 2>/dev/null")
  if not (made == true or made == 0) then
    local _, why = io.open(out, "ab")
    die(("keygen: cannot write the key to %s (%s); give another --out")
      :format(out, tostring(why and why:gsub("^[^:]*: ", "") or "not writable")))
  end
  local gen = ktype == "rsa"
    and ("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:%d"):format(bits)
    or "openssl genpkey -algorithm ED25519"
  local ok = os.execute("umask 077 && " .. gen .. " -out " .. sh(out) .. " 2>/dev/null")
  if not (ok == true or ok == 0) then
    os.remove(out)
    die("keygen: openssl genpkey failed (is openssl installed?)", EXIT.permerror)
  end
  local p = io.popen("openssl pkey -in " .. sh(out) .. " -pubout -outform DER 2>/dev/null")
  local der = p:read("*a")
  p:close()
  if #der < 32 then die("keygen: openssl pkey gave no public key", EXIT.permerror) end
  local pub = ktype == "rsa" and der or der:sub(-32)
  local text = ("v=DKIM1; k=%s; p=%s"):format(ktype, base64(pub))
  local owner = selector .. "._domainkey" .. (o.domain and ("." .. o.domain:gsub("%.$", "") .. ".") or "")
  if o.json then
    print_json({ private_key = out, name = owner, type = "TXT", value = text, strings = txt_strings(text) })
  else
    print(("%s IN TXT ( %s )"):format(owner, table.concat(txt_strings(text), "\n\t")))
    io.stderr:write(("keygen: private key in %s\n"):format(out))
  end
  return EXIT.pass
end

-- ---- demo ----

-- Every message listed in DIR/demo.lua, checked with the zone files in
-- DIR/zones (nothing from the network), judged by DIR/policy.lua.
function commands.demo(o)
  local dir = o.words[2] or "examples"
  local zonefiles = {}
  local p = io.popen("ls " .. sh(dir) .. "/zones/*.zone 2>/dev/null")
  for line in p:lines() do zonefiles[#zonefiles + 1] = line end
  p:close()
  if #zonefiles == 0 then die("no zone files in " .. dir .. "/zones") end
  local resolver = assert(mailauth.resolver { zonefiles = zonefiles })
  local chunk, err = loadfile(dir .. "/demo.lua")
  if not chunk then die(err) end
  local demo = chunk()
  local policy = assert(loadfile(dir .. "/policy.lua"))()
  print(("mailauth demo: %d messages, DNS answered offline from %s/zones (%d zone files)")
        :format(#demo.connections, dir, #zonefiles))
  local failed = 0
  for _, c in ipairs(demo.connections) do
    print("")
    print(("== %s"):format(c.title))
    print(("   client %s  helo %s  mail from <%s>"):format(c.ip, c.helo or "-", c.sender or ""))
    local rep = mailauth.check(read_file(dir .. "/" .. c.message, "demo"), { ip = c.ip, helo = c.helo,
      sender = c.sender, resolver = resolver, authserv_id = demo.authserv_id, now = demo.now })
    print("")
    for line in rep.authentication_results:gmatch("[^\r\n]+") do print("   " .. line) end
    print("")
    show_report(rep)
    local verdict, why = policy(rep, demo)
    print(("   verdict  %s: %s"):format(verdict:upper(), why))
    if c.note then print("   note     " .. c.note) end
    for key, want in pairs(c.expect or {}) do
      local got = key == "verdict" and verdict or (rep[key] and rep[key].result)
      if got ~= want then
        io.stderr:write(("demo: %s: %s is %s, expected %s\n"):format(c.title, key, tostring(got), want))
        failed = failed + 1
      end
    end
  end
  return failed == 0 and EXIT.pass or EXIT.fail
end

-- mailauth report record|aggregate|summary: lua/mailauth/report/cli.lua
M.report_context = { die = die, call = call, read_file = read_file, check_one = check_only,
                     print_json = function(v) return print_json(v) end, EXIT = EXIT }
function commands.report(o, resolver)
  return require("mailauth.report.cli").run(M.report_context, o, resolver)
end

local NO_DNS = { demo = true, sign = true, seal = true, keygen = true }

local function run(argv)
  local o = parse_args(argv)
  local cmd = o.words[1]
  if o.version then
    print(("%s (%s)"):format(mailauth._VERSION, _VERSION))
    return EXIT.pass
  end
  if o.help then io.write(USAGE) return EXIT.pass end
  if cmd == nil then io.stderr:write(USAGE) return EXIT.usage end
  local fn = commands[cmd]
  if not fn then die("unknown command '" .. cmd .. "' (see --help)") end
  if NO_DNS[cmd] or (cmd == "report" and o.words[2] == "summary") then return fn(o) end
  return fn(o, make_resolver(o))
end

-- The exit code; die() anywhere below ends here with its code.  Anything
-- else raised is a bug of ours: its traceback is worth having.
function M.main(argv)
  local ok, code = xpcall(run, function(e)
    if type(e) == "table" and e[quiet_exit] then return e end
    return debug.traceback(tostring(e), 2)
  end, argv)
  if ok then return code end
  if type(code) == "table" then return code[quiet_exit] end
  io.stderr:write("mailauth: internal error: ", code, "\n")
  return 70
end

return M
