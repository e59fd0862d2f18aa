-- The rspamd.conf the Rspamd specs and bench/rspamd_bench.sh run with: a
-- worker in a temp dir, DNS to the test server, never the stock config
-- (it pulls https maps and RBL lookups).  As a module:
--   require("spec.support.rspamd_conf")(dir, "127.0.0.1:53", 11333, { options = "...", rest = "...", level = "info" })
-- As a script (for shell): lua5.4 spec/support/rspamd_conf.lua DIR NS PORT LEVEL [OPTIONS [REST]]
local function rspamd_conf(dir, nameserver, port, extra)
  extra = extra or {}
  for _, d in ipairs { "run", "db", "log", "local" } do os.execute("mkdir -p " .. dir .. "/" .. d) end
  return ([[
options {
  pidfile = "%s/run/rspamd.pid";
  dns { nameserver = ["%s"]; timeout = 1s; retransmits = 1; }
  control_socket = "%s/run/rspamd.sock mode=0600";
  history_file = "%s/db/rspamd.history";
  dynamic_conf = "%s/db/rspamd_dynamic";
  url_tld = "/usr/share/rspamd/effective_tld_names.dat";
%s
}
logging { type = "file"; filename = "%s/log/rspamd.log"; level = "%s"; }
worker "normal" { bind_socket = "127.0.0.1:%d"; count = 1; }
%s
]]):format(dir, nameserver, dir, dir, dir, extra.options or "", dir, extra.level or "info",
            port, extra.rest or "")
end

if arg and arg[0] and arg[0]:match("rspamd_conf%.lua$") and ... ~= "spec.support.rspamd_conf" then
  local dir, ns, port, level, options, rest = ...
  io.write(rspamd_conf(dir, ns, tonumber(port), { level = level, options = options, rest = rest }))
end

return rspamd_conf
