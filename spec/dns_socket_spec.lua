-- The ldns driver's UDP sockets (src/dns/resolver.c): one connected socket
-- per nameserver, kept across queries and calls, reopened after an error
-- and after UDP_MAX_QUERIES (100) queries; replies taken only from the
-- server's address, with the try's id and the question as asked (RFC 5452
-- §9.1).  Against spec/support/spoofdns.py, which the spec starts itself
-- (/usr/bin/python3 with dnspython) and which forges replies.
local mailauth = require "mailauth"
local socket = require "socket"

local PY = "/usr/bin/python3"

local function has_dnspython()
  return os.execute(PY .. " -c 'import dns.message' 2>/dev/null") == true or
         os.execute(PY .. " -c 'import dns.message' 2>/dev/null") == 0
end

-- The sockets this process has open (the entries of /proc/<pid>/fd that
-- are sockets): read through a shell, so the pid is read from
-- /proc/self/stat by this process first.
local function sockets_open()
  local f = io.open("/proc/self/stat")
  if not f then return nil end
  local pid = f:read("l"):match("^(%d+)")
  f:close()
  local ls = io.popen("ls -l /proc/" .. pid .. "/fd 2>/dev/null")
  local n = 0
  for line in ls:lines() do
    if line:find("socket:", 1, true) then n = n + 1 end
  end
  ls:close()
  return n
end

describe("#integration the resolver's UDP sockets", function()
  local dir, pid, ns

  setup(function()
    if not has_dnspython() then return end
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    os.execute(PY .. " spec/support/spoofdns.py --port-file " .. dir .. "/port --lifetime 300 > " ..
               dir .. "/log 2>&1 & echo $! > " .. dir .. "/pid")
    for _ = 1, 250 do
      local f = io.open(dir .. "/port")
      if f then
        local port = f:read("n")
        f:close()
        if port then ns = "127.0.0.1@" .. port break end
      end
      socket.sleep(0.02)
    end
    local f = io.open(dir .. "/pid")
    pid = f and f:read("n")
    if f then f:close() end
  end)

  teardown(function()
    if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
    if dir then os.execute("rm -rf " .. dir) end
  end)

  local function resolver(opts)
    opts = opts or {}
    opts.nameservers = { ns }
    opts.timeout = opts.timeout or 1
    opts.retries = opts.retries or 0
    opts.cache = 0 -- every query goes to the server
    return assert(mailauth.resolver(opts))
  end

  local function port_of(r)
    local a = r:query("port.sock.test", "TXT")
    assert.are.equal("NOERROR", a.rcode)
    return a.records[1]
  end

  before_each(function()
    if not has_dnspython() then
      pending("needs /usr/bin/python3 with dnspython (python3-dnspython)")
    end
    assert(ns, "spoofdns.py did not start; see its log in " .. tostring(dir))
  end)

  -- Without the reuse (a socket per query, as before), the server sees a
  -- new source port each time and the fd count grows by one per call.
  it("asks every query of every call from one socket", function()
    local r = resolver()
    local first = port_of(r)
    local before = sockets_open()
    for _ = 1, 20 do assert.are.equal(first, port_of(r)) end
    local answers = r:query_many {
      { name = "port.sock.test", type = "TXT" }, { name = "port.sock.test", type = "TXT" },
      { name = "port.sock.test", type = "TXT" },
    }
    for _, a in ipairs(answers) do assert.are.same({ first }, a.records) end
    if before then assert.are.equal(before, sockets_open()) end
    assert.are.equal(24, r:stats().queries)
  end)

  -- With UDP_MAX_QUERIES removed from udp_socket, the 101st query still
  -- leaves from the first port (the spec fails: same port).
  it("moves to a new port after 100 queries", function()
    local r = resolver()
    local first = port_of(r)
    for _ = 2, 100 do assert.are.equal(first, port_of(r)) end
    assert.are_not.equal(first, port_of(r))
  end)

  -- Mutation check: with the UDP socket left unconnected (sendto the
  -- server, recv from anyone), the forged reply from the other port is
  -- taken: records were { "forged" }.
  it("ignores a reply from another address", function()
    assert.are.same({ "genuine" }, resolver():query("wrongsrc.sock.test", "TXT").records)
  end)

  -- Mutation check: without the id comparison in reply_matches the
  -- forged reply (id + 1) is taken: { "forged" }.
  it("ignores a reply with another id", function()
    assert.are.same({ "genuine" }, resolver():query("wrongid.sock.test", "TXT").records)
  end)

  -- Mutation check: without the name comparison in reply_matches the
  -- reply about wrongr.sock.test is taken: { "forged" }; without the
  -- type/class comparison, the one whose question says A is taken (and
  -- holds no TXT of that type: records were {}).
  it("ignores a reply to another question", function()
    local r = resolver()
    assert.are.same({ "genuine" }, r:query("wrongq.sock.test", "TXT").records)
    assert.are.same({ "genuine" }, r:query("wrongtype.sock.test", "TXT").records)
    -- and the case of the name is not part of the question's identity
    assert.are.same({ "genuine" }, r:query("WrongQ.Sock.TEST", "TXT").records)
  end)

  -- A forked child asks from a socket of its own; the parent keeps its.
  -- With udp_leave_parent's fork test removed (the child would use the
  -- socket it inherited), the child's port is the parent's.  The host is
  -- C (spec/support/fork_ports.c): Lua cannot fork.
  it("opens a socket of its own in a forked child", function()
    package.path = "spec/support/?.lua;" .. package.path
    local cstress = require "cstress"
    local bdir = cstress.build_dir()
    if not bdir then return pending("no build directory for this Lua") end
    local san = bdir:match("asan") and " -fsanitize=address,undefined" or ""
    local bin = dir .. "/fork_ports"
    cstress.compile("cc", "-O1 -g" .. san, "fork_ports", cstress.core_objects(bdir), bin,
                    dir .. "/cc.log")
    local p = assert(io.popen(cstress.sh_quote(bin) .. " " .. ns))
    local ports = {}
    for line in p:lines() do ports[#ports + 1] = line end
    assert.is_truthy(p:close(), "fork_ports failed")
    assert.are.equal(3, #ports)
    assert.are_not.equal(ports[1], ports[2])
    assert.are.equal(ports[1], ports[3])
  end)

  -- While the server is away its port answers ICMP port unreachable: the
  -- socket's recv fails (ECONNREFUSED), the resolver closes it and opens a
  -- new one (a new port) for the next call.  With udp_close removed from
  -- udp_read_all's error path, the socket is kept: the same port again.
  it("reopens its socket after an error", function()
    local r = resolver { timeout = 0.3 }
    local first = port_of(r)
    assert.are.same({ "closing" }, r:query("close.sock.test", "TXT").records)
    socket.sleep(0.1) -- the server closes its socket after that reply
    local t0 = socket.gettime()
    assert.are.equal("TIMEOUT", r:query("port.sock.test", "TXT").rcode)
    -- the error ended the try at once, not the timeout
    assert.is_true(socket.gettime() - t0 < 0.25, "took " .. (socket.gettime() - t0) .. " s")
    socket.sleep(0.6)
    local again = port_of(r)
    assert.are_not.equal(first, again)
    assert.are.equal(again, port_of(r))
  end)
end)
