-- The mailauth command line (bin/mailauth): single checks for a mail admin,
-- and the offline demo.  Output is meant to be read at a glance; --json is
-- for machines.
local mailauth = require "mailauth"

local M = {}

local USAGE = [[
usage: mailauth [options] COMMAND ...

commands:
  check MESSAGE       every check for a message file (- for stdin): iprev, SPF
                      (MAIL FROM and HELO), DKIM, DMARC; prints the
                      Authentication-Results header and a summary
  spf                 SPF for --ip/--sender (or --helo with an empty sender)
  iprev IP            forward-confirmed reverse DNS of IP (RFC 8601 §3)
  ptr IP              the PTR names of IP
  dkim MESSAGE        verify every DKIM signature of a message
  dmarc DOMAIN        the DMARC record and policy of a From domain
  query NAME TYPE     one DNS question (A, AAAA, MX, TXT, PTR, CNAME, NS)
  demo [DIR]          check the sample messages in DIR (default: examples)

options:
  --ip ADDRESS        the SMTP client's address
  --helo NAME         the HELO/EHLO name
  --sender ADDRESS    the MAIL FROM address ("" for a bounce)
  --authserv-id ID    the name in Authentication-Results (default: localhost)
  --now SECONDS       the clock for signature times (default: now)
  --dns NS            ask this nameserver (127.0.0.1, 127.0.0.1@5353, [::1]:53);
                      may be given more than once
  --zone FILE         answer offline from this zone file; may be repeated
  --timeout SECONDS   per DNS try (default 5)
  --json              print results as JSON
  -h, --help          this text
]]

local function die(msg)
  io.stderr:write("mailauth: ", msg, "\n")
  os.exit(2)
end

-- Options first, then the command and its words.
local function parse_args(argv)
  local o = { dns = {}, zones = {}, words = {} }
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
    elseif a == "--timeout" then o.timeout = tonumber(value()) or die("--timeout wants seconds")
    elseif a == "--ip" then o.ip = value()
    elseif a == "--helo" then o.helo = value()
    elseif a == "--sender" then o.sender = value()
    elseif a == "--authserv-id" then o.authserv_id = value()
    elseif a == "--now" then o.now = tonumber(value()) or die("--now wants seconds since the epoch")
    elseif a == "--json" then o.json = true
    elseif a == "-h" or a == "--help" then o.help = true
    elseif a:sub(1, 2) == "--" then die("unknown option " .. a .. " (see --help)")
    else o.words[#o.words + 1] = a end
    i = i + 1
  end
  return o
end

local function make_resolver(o)
  local r, err
  if #o.zones > 0 then
    r, err = mailauth.resolver { zonefiles = o.zones }
  elseif #o.dns > 0 then
    r, err = mailauth.resolver { nameservers = o.dns, timeout = o.timeout }
  else
    r, err = mailauth.resolver { timeout = o.timeout }
  end
  if not r then die(err) end
  return r
end

local function to_json(v)
  local ok, cjson = pcall(require, "cjson")
  if not ok then die("--json needs lua-cjson (apt-get install lua-cjson)") end
  return cjson.encode(v)
end

local function list(t)
  if t == nil or #t == 0 then return "-" end
  return table.concat(t, ", ")
end

local function show_iprev(ip, r)
  print(("iprev %-28s %-9s %s"):format(ip, r.result,
    r.name and ("confirmed as " .. r.name) or (r.problem or "")))
  if r.ptr and #r.ptr > 0 then print(("      PTR: %s"):format(list(r.ptr))) end
end

local commands = {}

function commands.iprev(o, resolver)
  local ip = o.words[2] or die("iprev needs an IP address")
  local ok, r = pcall(mailauth.iprev, ip, { resolver = resolver })
  if not ok then die(r) end
  if o.json then print(to_json(r)) else show_iprev(ip, r) end
  return r.result == "pass" and 0 or 1
end

function commands.ptr(o, resolver)
  local ip = o.words[2] or die("ptr needs an IP address")
  local ok, names, err = pcall(mailauth.ptr, ip, { resolver = resolver })
  if not ok then die(names) end
  if o.json then
    print(to_json(names and { names = names } or { error = err }))
  else
    print(names and table.concat(names, "\n") or ("no PTR: " .. err))
  end
  return names and 0 or 1
end

function commands.query(o, resolver)
  local name = o.words[2] or die("query needs a name")
  local ok, a = pcall(resolver.query, resolver, name, o.words[3] or "A")
  if not ok then die(a) end
  if o.json then print(to_json(a)) return 0 end
  print(("%s (ttl %d)"):format(a.rcode, a.ttl))
  for _, alias in ipairs(a.cnames or {}) do print("  via CNAME " .. alias) end
  for _, rec in ipairs(a.records) do
    if type(rec) == "table" then
      print(("  %d %s"):format(rec.preference, rec.exchange))
    else
      print("  " .. rec)
    end
  end
  return a.rcode == "NOERROR" and 0 or 1
end

local function read_message(path)
  local text
  if path == "-" then
    text = io.read("*a")
  else
    local f, err = io.open(path, "rb")
    if not f then die(err) end
    text = f:read("*a")
    f:close()
  end
  return text
end

local function row(name, result, detail)
  print(("   %-8s %-10s %s"):format(name, result or "-", detail or ""))
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
  if #rep.dkim == 0 then row("dkim", "none", "no signature") end
  for _, d in ipairs(rep.dkim) do
    row("dkim", d.result, ("d=%s s=%s %s%s"):format(tostring(d.domain), tostring(d.selector),
      tostring(d.algorithm), d.problem and ("; " .. d.problem) or ""))
  end
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
end

function commands.check(o, resolver)
  local path = o.words[2] or die("check needs a message file (or - for stdin)")
  local ok, rep = pcall(mailauth.check, read_message(path), { ip = o.ip, helo = o.helo,
    sender = o.sender, resolver = resolver, authserv_id = o.authserv_id, now = o.now })
  if not ok then die(rep) end
  if o.json then print(to_json(rep)) return 0 end
  print(rep.authentication_results)
  show_report(rep)
  return rep.dmarc.result == "fail" and 1 or 0
end

function commands.spf(o, resolver)
  if not o.ip then die("spf needs --ip") end
  local ok, r = pcall(mailauth.spf, { ip = o.ip, sender = o.sender or "", helo = o.helo,
    resolver = resolver, scope = (o.sender == nil and o.helo) and "helo" or nil })
  if not ok then die(r) end
  if o.json then print(to_json(r)) else
    print(r.received_spf)
    describe_spf(r)
  end
  return r.result == "pass" and 0 or 1
end

function commands.dkim(o, resolver)
  local path = o.words[2] or die("dkim needs a message file (or - for stdin)")
  local ok, sigs = pcall(mailauth.dkim_verify, read_message(path), { resolver = resolver, now = o.now })
  if not ok then die(sigs) end
  if o.json then print(to_json(sigs)) return 0 end
  if #sigs == 0 then row("dkim", "none", "no signature") end
  for _, d in ipairs(sigs) do
    row("dkim", d.result, ("d=%s s=%s %s%s"):format(tostring(d.domain), tostring(d.selector),
      tostring(d.algorithm), d.problem and ("; " .. d.problem) or ""))
  end
  return 0
end

function commands.dmarc(o, resolver)
  local domain = o.words[2] or die("dmarc needs a From domain")
  local ok, r = pcall(mailauth.dmarc, { from = domain, resolver = resolver })
  if not ok then die(r) end
  if o.json then print(to_json(r)) return 0 end
  print(("record   %s"):format(r.record or "-"))
  print(("policy   %s (from %s, org domain %s)"):format(tostring(r.policy or "-"),
    tostring(r.policy_domain or "-"), tostring(r.org_domain or "-")))
  if r.problem then print("problem  " .. r.problem) end
  return 0
end

-- The demo: every message listed in DIR/demo.lua, checked with the zone
-- files in DIR/zones (nothing from the network), judged by DIR/policy.lua.
function commands.demo(o)
  local dir = o.words[2] or "examples"
  local zonefiles = {}
  local p = io.popen('ls "' .. dir .. '"/zones/*.zone 2>/dev/null')
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
    local rep = mailauth.check(read_message(dir .. "/" .. c.message), { ip = c.ip, helo = c.helo,
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
  return failed == 0 and 0 or 1
end

function M.main(argv)
  local o = parse_args(argv)
  local cmd = o.words[1]
  if o.help or cmd == nil then
    io.write(USAGE)
    return o.help and 0 or 2
  end
  local fn = commands[cmd]
  if not fn then die("unknown command '" .. cmd .. "' (see --help)") end
  if cmd == "demo" then return fn(o) end
  return fn(o, make_resolver(o))
end

return M
