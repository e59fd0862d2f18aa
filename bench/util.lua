-- util.lua: what the Lua drivers of `make bench` share (see bench.h for the
-- C side: same two modes, same BENCH line).
local M = {}

function M.read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- Lines of TAB-separated fields (empty fields kept).
function M.tsv(text, nf)
  local rows = {}
  for line in text:gmatch("[^\n]+") do
    local row, pos = {}, 1
    for k = 1, nf do
      local tab = k < nf and line:find("\t", pos, true)
      row[k] = line:sub(pos, tab and tab - 1 or #line)
      pos = tab and tab + 1 or #line + 1
    end
    rows[#rows + 1] = row
  end
  return rows
end

-- The command line every driver takes: check ARGS... or bench SECONDS
-- ARGS...; returns the mode, the seconds (nil in check mode), then ARGS.
function M.args()
  if arg[1] == "bench" then return "bench", tonumber(arg[2]), table.unpack(arg, 3) end
  return arg[1], nil, table.unpack(arg, 2)
end

-- Operations per CPU second (os.clock), best of 3 rounds of >= seconds,
-- after one warm-up pass.  pass() runs once over the inputs and returns
-- how many operations it did.
function M.bench(seconds, pass)
  pass()
  local rounds, best = {}, 0
  for r = 1, 3 do
    collectgarbage("collect")
    local n, start, used = 0, os.clock(), 0
    -- os.clock is a system call: read it once per batch, the batch
    -- doubling until one lasts >= 5 ms (as bench.h does).
    local batch, last = 1, start
    repeat
      for _ = 1, batch do n = n + pass() end
      local now = os.clock()
      used = now - start
      if now - last < 0.005 then batch = batch * 2 end
      last = now
    until used >= seconds
    rounds[r] = n / used
    if rounds[r] > best then best = rounds[r] end
  end
  print(("BENCH %.1f %.1f %.1f %.1f"):format(best, rounds[1], rounds[2], rounds[3]))
end

-- M.bench where a pass is one(item) over every item of the list.
function M.bench_each(seconds, items, one)
  M.bench(seconds, function()
    for i = 1, #items do one(items[i]) end
    return #items
  end)
end

return M
