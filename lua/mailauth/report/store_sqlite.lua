-- mailauth.report's SQLite store, through LuaSQL (Debian lua-sql-sqlite3):
-- the embedded default, one file several processes of one host may write
-- at once.  WAL lets readers and one writer run together; busy_timeout
-- makes a writer that finds the file locked wait instead of failing.
-- Each recorded message is one row (time, policy domain, the record's
-- canonical bytes, the policy it was judged under); a report counts the
-- identical rows of its period.  Values go into SQL as hex literals, so
-- nothing a sender wrote is ever SQL text.
local codec = require "mailauth.report.codec"
local clock = require("mailauth.core").monotonic

local M = {}
local Store = {}
Store.__index = Store

local function hex(s)
  return "X'" .. s:gsub(".", function(c) return ("%02X"):format(c:byte()) end) .. "'"
end

local SCHEMA = {
  "PRAGMA journal_mode=WAL",
  [[CREATE TABLE IF NOT EXISTS mailauth_report (
      t INTEGER NOT NULL, domain BLOB NOT NULL, rec BLOB NOT NULL, meta BLOB NOT NULL)]],
  "CREATE INDEX IF NOT EXISTS mailauth_report_t ON mailauth_report (t)",
  "CREATE INDEX IF NOT EXISTS mailauth_report_domain ON mailauth_report (domain, t)",
}

-- A wait that spends no CPU: LuaSocket's sleep (Debian lua-socket, which
-- the Redis store needs too); nil without LuaSocket (plain Lua has none).
local function sleeper()
  local ok, socket = pcall(require, "socket")
  return ok and type(socket.sleep) == "function" and socket.sleep or nil
end

-- Every statement: nil, the driver's words on failure.
local function exec(conn, sql)
  local ok, res, err = pcall(conn.execute, conn, sql)
  if not ok then return nil, tostring(res) end
  if res == nil then return nil, tostring(err) end
  return res
end

--- open(path, { busy_timeout = }, retention) -> store | nil, problem
-- retention: seconds, or false (rows are never dropped).
function M.open(path, opts, retention)
  local ok, driver = pcall(require, "luasql.sqlite3")
  if not ok then
    return nil, "the SQLite store needs LuaSQL (Debian lua-sql-sqlite3)"
  end
  local env = driver.sqlite3()
  local conn, err = env:connect(path)
  if not conn then env:close() return nil, ("cannot open %s: %s"):format(path, tostring(err)) end
  local self = setmetatable({ env = env, conn = conn, path = path,
                              retention = retention or nil, adds = 0 }, Store)
  local busy = math.floor(opts.busy_timeout or 10000)
  -- first, so that creating the schema waits for another process too
  local pragma = exec(conn, ("PRAGMA busy_timeout=%d"):format(busy))
  if type(pragma) == "userdata" then pragma:close() end
  -- Switching to WAL needs the file to itself: while another process
  -- writes (or makes the same switch), SQLite says "locked" at once,
  -- without the busy handler.  So a schema step that finds the file
  -- locked is tried again after a pause (5 ms, doubling up to 100 ms,
  -- asleep), until the busy timeout has passed on the monotonic clock:
  -- wall time, the time the other process holds the file.  Without
  -- LuaSocket there is no pause but a busy loop, so no second try.
  local give_up, sleep = clock() + busy / 1000, sleeper()
  for _, sql in ipairs(SCHEMA) do
    local res, e = exec(conn, sql)
    local pause = 0.005
    while not res and sleep and e:find("locked") do
      local left = give_up - clock()
      if left <= 0 then break end
      sleep(math.min(pause, left))
      pause = math.min(pause * 2, 0.1)
      res, e = exec(conn, sql)
    end
    if not res then self:close() return nil, ("%s: %s"):format(path, e) end
    if type(res) == "userdata" then res:close() end
  end
  return self
end

-- Rows older than the retention go, every 64 adds and before a report.
local EXPIRE_EVERY = 64

--- store:add(record) -> true | nil, problem
function Store:add(rec)
  local key, meta = codec.encode_record(rec)
  local ok, err = exec(self.conn, ("INSERT INTO mailauth_report VALUES (%d, %s, %s, %s)")
                       :format(rec.time, hex(rec.policy_domain), hex(key), hex(meta)))
  if not ok then return nil, err end
  self.adds = self.adds + 1
  if self.adds % EXPIRE_EVERY == 0 then self:expire(rec.time) end
  return true
end

--- store:expire(now) -> true | nil, problem: drops rows past the retention
function Store:expire(now)
  if not self.retention then return true end
  local ok, err = exec(self.conn, ("DELETE FROM mailauth_report WHERE t < %d")
                                  :format(math.floor(now - self.retention)))
  if not ok then return nil, err end
  return true
end

local function rows(conn, sql)
  local cur, err = exec(conn, sql)
  if not cur then return nil, err end
  local out = {}
  local row = cur:fetch({}, "n")
  while row do
    out[#out + 1] = { row[1], row[2], row[3] }
    row = cur:fetch({}, "n")
  end
  cur:close()
  return out
end

--- store:domains(begin, end) -> { [domain] = { meta =, rows = { { key, count }, ... } } }
-- The period is [begin, end): a row at end belongs to the next report.
function Store:collect(b, e)
  local where = ("t >= %d AND t < %d"):format(b, e)
  local counted, err = rows(self.conn, "SELECT domain, rec, COUNT(*) FROM mailauth_report WHERE "
                                       .. where .. " GROUP BY domain, rec ORDER BY domain, rec")
  if not counted then return nil, err end
  -- the policy of each domain's newest row: the one the report names
  local metas
  metas, err = rows(self.conn, "SELECT domain, meta, MAX(t) FROM mailauth_report WHERE "
                               .. where .. " GROUP BY domain")
  if not metas then return nil, err end
  local out = {}
  for _, m in ipairs(metas) do out[m[1]] = { meta = codec.decode(m[2]), rows = {} } end
  for _, r in ipairs(counted) do
    local d = out[r[1]]
    local rec = codec.decode(r[2])
    if d and rec then d.rows[#d.rows + 1] = { record = rec, count = tonumber(r[3]) } end
  end
  return out
end

--- store:close()
function Store:close()
  if self.conn then self.conn:close() self.conn = nil end
  if self.env then self.env:close() self.env = nil end
end

return M
