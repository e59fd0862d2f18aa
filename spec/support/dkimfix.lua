-- Helpers for the DKIM specs: fixture files, line ends, offline DNS.
local F = {}

F.dir = "spec/fixtures/dkim/"

function F.read(path)
  local f = assert(io.open(F.dir .. path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

-- LF -> CRLF (the stored messages mostly have LF line ends).
function F.crlf(s)
  return (s:gsub("\r\n", "\n"):gsub("\n", "\r\n"))
end

-- A Lua resolver over { ["owner"] = "TXT value" | { rcode = ... } }.
function F.resolver(records, log)
  return function(name, qtype)
    if log then log[#log + 1] = name end
    local v = records[name:lower()]
    if v == nil then return { rcode = "NXDOMAIN", records = {} } end
    if type(v) == "table" then return v end
    if qtype ~= "TXT" then return { rcode = "NOERROR", records = {} } end
    return { rcode = "NOERROR", records = { v } }
  end
end

-- "<owner> <value>" lines (stalwart, rfc8463/dns.txt, C-dns.txt).
function F.records(text, into)
  into = into or {}
  for line in text:gmatch("[^\r\n]+") do
    local owner, value = line:match("^(%S+)%s+(.*)$")
    if owner and not owner:match("^[#;]") then
      into[owner:lower():gsub("%.$", "")] = value
    end
  end
  return into
end

-- Mail::DKIM's FAKE_DNS.dat: NXDOMAIN / timeouts / SERVFAIL / "" markers.
function F.fake_dns(text)
  local r = {}
  for line in text:gmatch("[^\r\n]+") do
    local owner, value = line:match("^(%S+)%s+(.-)%s*$")
    if owner and not owner:match("^[#;]") then
      owner = owner:lower()
      if value == "NXDOMAIN" then r[owner] = { rcode = "NXDOMAIN", records = {} }
      elseif value == "~~Query timed out~~" then r[owner] = { rcode = "TIMEOUT", records = {} }
      elseif value == "~~SERVFAIL~~" then r[owner] = { rcode = "SERVFAIL", records = {} }
      elseif value == '""' then r[owner] = { rcode = "NOERROR", records = { "" } }
      else r[owner] = value end
    end
  end
  return r
end

-- stalwart's format: records, an empty line, then the message.
function F.stalwart(name)
  local text = F.read("stalwart/" .. name)
  local head, message = text:match("^(.-)\n\n(.*)$")
  return F.records(head), F.crlf(message)
end

-- Tab-separated expectation files, "#" comments skipped.
function F.tsv(path)
  local rows = {}
  for line in F.read(path):gmatch("[^\n]+") do
    if not line:match("^#") then
      local row = {}
      for cell in (line .. "\t"):gmatch("([^\t]*)\t") do row[#row + 1] = cell end
      rows[#rows + 1] = row
    end
  end
  return rows
end

return F
