-- The mailauth command line (bin/mailauth): single checks for a mail admin,
-- and the offline demo.  Output is meant to be read at a glance; --json is
-- for machines.
local mailauth = require "mailauth"

local M = {}

local USAGE = [[
usage: mailauth [options] COMMAND ...

commands:
  iprev IP            forward-confirmed reverse DNS of IP (RFC 8601 §3)
  ptr IP              the PTR names of IP
  query NAME TYPE     one DNS question (A, AAAA, MX, TXT, PTR, CNAME, NS)
  demo [DIR]          check the sample connections in DIR (default: examples)

options:
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
  for _, rec in ipairs(a.records) do
    if type(rec) == "table" then
      print(("  %d %s"):format(rec.preference, rec.exchange))
    else
      print("  " .. rec)
    end
  end
  return a.rcode == "NOERROR" and 0 or 1
end

-- The demo: every connection listed in DIR/demo.lua, answered from the
-- zone files in DIR/zones, nothing from the network.
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
  print(("mailauth demo: %d connections, offline zones from %s/zones (%d files)")
        :format(#demo.connections, dir, #zonefiles))
  for _, c in ipairs(demo.connections) do
    print("")
    print(("== %s"):format(c.title))
    print(("   client %s  helo %s  mail from <%s>"):format(c.ip, c.helo or "-", c.sender or ""))
    local r = mailauth.iprev(c.ip, { resolver = resolver })
    show_iprev(c.ip, r)
    if c.expect and c.expect.iprev and c.expect.iprev ~= r.result then
      die(("demo: %s: iprev gave %s, expected %s"):format(c.title, r.result, c.expect.iprev))
    end
    if c.note then print("   note: " .. c.note) end
  end
  return 0
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
