#!/usr/bin/env lua
-- check-dir.lua: checks every .eml in a folder, as each message was when it
-- arrived: the envelope (client IP, HELO, MAIL FROM) is read back from the
-- Received field your own MTA wrote (mailauth.received, --trusted-hops) and
-- the Return-Path.  The messages run as coroutines sharing one resolver:
-- each round, the DNS questions of all of them go out as one parallel
-- batch (each question once), so a folder costs about as many round trips
-- as its slowest message.  One line per message on stdout, a progress
-- line on stderr for long runs, a summary table at the end.
--
--   lua check-dir.lua DIR [--trusted-hops N] [--nameserver 127.0.0.1@53]
--       [--zonefile FILE]... [--parallel 32] [--authserv-id mx.example.org] [--now T]
--
-- From a checkout: LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/lua5.4/?.so;;'
local mailauth = require "mailauth"

local function usage(msg)
  io.stderr:write("check-dir.lua: ", msg, "\n",
    "usage: check-dir.lua DIR [--trusted-hops N] [--nameserver H@P] [--zonefile F]..."
    .. " [--parallel K] [--authserv-id ID] [--now T]\n")
  os.exit(2)
end

local function parse_args(argv)
  local o = { trusted_hops = 1, parallel = 32, zonefiles = {}, authserv_id = "localhost" }
  local i = 1
  while i <= #argv do
    local a = argv[i]
    local function value()
      i = i + 1
      return argv[i] or usage(a .. " needs a value")
    end
    if a == "--trusted-hops" then o.trusted_hops = tonumber(value()) or usage("--trusted-hops: a number")
    elseif a == "--nameserver" then o.nameserver = value()
    elseif a == "--zonefile" then o.zonefiles[#o.zonefiles + 1] = value()
    elseif a == "--parallel" then o.parallel = tonumber(value()) or usage("--parallel: a number")
    elseif a == "--authserv-id" then o.authserv_id = value()
    elseif a == "--now" then o.now = tonumber(value()) or usage("--now: seconds since the epoch")
    elseif a:sub(1, 2) == "--" then usage("unknown option " .. a)
    elseif not o.dir then o.dir = a
    else usage("one folder only") end
    i = i + 1
  end
  if not o.dir then usage("no folder given") end
  return o
end

local function eml_files(dir)
  local list = {}
  local p = assert(io.popen("ls -1 '" .. dir:gsub("'", "'\\''") .. "'"))
  for name in p:lines() do
    if name:match("%.eml$") then list[#list + 1] = dir .. "/" .. name end
  end
  p:close()
  table.sort(list)
  return list
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  return text
end

-- A resolver for one coroutine: its questions go to the scheduler.
local YIELDING = { query_many = function(_, questions) return coroutine.yield(questions) end }

-- One message: its envelope, then every check.
local function check_one(path, o)
  local text = read(path)
  local env = mailauth.received(text, { trusted_hops = o.trusted_hops })
  if not env.ip then return { path = path, problem = env.problem } end
  local report = mailauth.check(text, { ip = env.ip, helo = env.helo, sender = env.sender or "",
                                        resolver = YIELDING, authserv_id = o.authserv_id,
                                        now = o.now })
  report.path = path
  return report
end

local function dkim_of(sigs)
  local best = "none"
  for _, s in ipairs(sigs or {}) do
    if s.result == "pass" then return "pass" end
    if best == "none" or s.result == "fail" then best = s.result end
  end
  return best
end

local PROTOCOLS = { "iprev", "spf", "dkim", "dmarc", "arc" }
local function verdicts(r)
  if r.problem and not r.spf then return nil end
  return { iprev = r.iprev.result, spf = r.spf.result, dkim = dkim_of(r.dkim),
           dmarc = r.dmarc.result, arc = r.arc.result }
end

local function main(argv)
  local o = parse_args(argv)
  local shared
  if #o.zonefiles > 0 then
    shared = assert(mailauth.resolver { zonefiles = o.zonefiles })
  elseif o.nameserver then
    shared = assert(mailauth.resolver { nameservers = { o.nameserver }, timeout = 2, retries = 1 })
  else
    shared = assert(mailauth.resolver())
  end
  local files = eml_files(o.dir)
  local total, done, next_file = #files, 0, 1
  local active = {} -- { co, questions }
  local counts, unreadable, rounds = {}, 0, 0
  for _, p in ipairs(PROTOCOLS) do counts[p] = {} end
  local started, last_progress = os.time(), os.time()

  local function finish(r)
    done = done + 1
    local v = verdicts(r)
    if not v then
      unreadable = unreadable + 1
      io.write(("%s\tunreadable\t%s\n"):format(r.path, r.problem))
    else
      local cols = {}
      for _, p in ipairs(PROTOCOLS) do
        counts[p][v[p]] = (counts[p][v[p]] or 0) + 1
        cols[#cols + 1] = p .. "=" .. v[p]
      end
      io.write(("%s\t%s\t%s\n"):format(r.path, r.ip, table.concat(cols, " ")))
    end
    if total >= 100 and os.time() > last_progress then
      last_progress = os.time()
      io.stderr:write(("checked %d/%d (%d s)\n"):format(done, total, os.time() - started))
    end
  end

  -- Starts or resumes a coroutine; it either asks (kept) or is done.
  local function step(entry, ...)
    local ok, got = coroutine.resume(entry.co, ...)
    if not ok then error(entry.path .. ": " .. tostring(got), 0) end
    if coroutine.status(entry.co) == "dead" then
      finish(got)
      return false
    end
    entry.questions = got
    return true
  end

  while next_file <= total or #active > 0 do
    while #active < o.parallel and next_file <= total do
      local path = files[next_file]
      next_file = next_file + 1
      local entry = { path = path, co = coroutine.create(function() return check_one(path, o) end) }
      if step(entry) then active[#active + 1] = entry end
    end
    if #active > 0 then
      -- one batch for every open question of every message, each once
      local list, index = {}, {}
      for _, e in ipairs(active) do
        e.slots = {}
        for i, q in ipairs(e.questions) do
          local key = q.type .. " " .. q.name:lower()
          if not index[key] then
            list[#list + 1] = { name = q.name, type = q.type }
            index[key] = #list
          end
          e.slots[i] = index[key]
        end
      end
      rounds = rounds + 1
      local answers = shared:query_many(list)
      local still = {}
      for _, e in ipairs(active) do
        local mine = {}
        for i, slot in ipairs(e.slots) do mine[i] = answers[slot] end
        if step(e, mine) then still[#still + 1] = e end
      end
      active = still
    end
  end

  -- the summary: one row per protocol, one column per result
  local RESULTS = { "pass", "fail", "softfail", "neutral", "none", "policy", "temperror", "permerror" }
  io.write(("\n%-6s"):format(""))
  for _, res in ipairs(RESULTS) do io.write(("%10s"):format(res)) end
  io.write("\n")
  for _, p in ipairs(PROTOCOLS) do
    io.write(("%-6s"):format(p))
    for _, res in ipairs(RESULTS) do io.write(("%10d"):format(counts[p][res] or 0)) end
    io.write("\n")
  end
  io.write(("%d messages, %d unreadable envelopes, %d DNS rounds\n"):format(total, unreadable, rounds))
end

main(arg)
