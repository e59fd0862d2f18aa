-- The HAProxy action of examples/haproxy/haproxy.cfg: iprev of the client
-- and SPF for its HELO name (RFC 7208 §2.3), into variables for ACLs:
--   txn.mailauth_iprev       pass | fail | temperror | permerror
--   txn.mailauth_iprev_name  the confirmed name, or -
--   txn.mailauth_helo        the EHLO/HELO name the client sent, or -
--   txn.mailauth_spf_helo    SPF result for it (none without a HELO)
-- SMTP servers speak first, so a client that waits for the banner has sent
-- no EHLO when the inspect-delay ends: the HELO check then says none and
-- only iprev decides.  DNS: mailauth.haproxy's resolver, over TCP to
-- MAILAUTH_NS, one connection per check and round trip per batch, answers
-- kept for their TTL by this process.
local mailauth = require "mailauth"
local adapter = require "mailauth.haproxy"

local resolve = adapter.resolver { nameservers = { os.getenv("MAILAUTH_NS") or "127.0.0.1@53" },
                                   timeout = 2 }

-- The name of a first line "EHLO name" or "HELO name" (RFC 5321 §4.1.1.1).
local function helo_of(txn)
  local data = txn.req:dup() or ""
  local verb, name = data:match("^(%a%a%a%a)[ \t]+([%w%.%-%[%]:]+)\r?\n")
  if verb and (verb:upper() == "EHLO" or verb:upper() == "HELO") then return name end
  return nil
end

core.register_action("mailauth_smtp", { "tcp-req" }, function(txn)
  local ip = txn.f:src()
  local helo = helo_of(txn)
  local iprev = mailauth.iprev(ip, { resolver = resolve, time_budget = 4 })
  txn:set_var("txn.mailauth_iprev", iprev.result)
  txn:set_var("txn.mailauth_iprev_name", iprev.name or "-")
  txn:set_var("txn.mailauth_helo", helo or "-")
  local spf = "none"
  if helo and helo:find("%.") and not helo:find("^%[") then
    spf = mailauth.spf { ip = ip, helo = helo, scope = "helo", resolver = resolve,
                         time_budget = 4 }.result
  end
  txn:set_var("txn.mailauth_spf_helo", spf)
end, 0)

-- { "connections": n, "queries": n, "batches": n, "cache_hits": n, ... }
core.register_service("mailauth_stats", "http", function(applet)
  local s = resolve.stats
  local body = ('{"connections":%d,"queries":%d,"batches":%d,"failures":%d,'
                .. '"cache_hits":%d,"cache_misses":%d,"cache_entries":%d}\n'):format(
    s.connections, s.queries, s.batches, s.failures, s.cache.hits, s.cache.misses, s.cache.entries)
  applet:set_status(200)
  applet:add_header("content-type", "application/json")
  applet:add_header("content-length", tostring(#body))
  applet:start_response()
  applet:send(body)
end)
