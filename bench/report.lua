-- report.lua OUTDIR ELAPSED SECONDS: turns build/bench/results.raw and the
-- check outputs into the tables of bench/results.txt (printed to stdout).
local out, elapsed, secs = arg[1], tonumber(arg[2]) or 0, arg[3] or "2"

-- the file's bytes or nil (the specs' helper: bench runs from the checkout's root)
local read = dofile("spec/support/helpers.lua").read_if
local function sh(cmd)
  local p = io.popen(cmd .. " 2>/dev/null")
  local s = p and p:read("a") or ""
  if p then p:close() end
  return (s:gsub("%s+$", ""))
end
local function pkgver(pkg)
  local v = sh("dpkg-query -W -f='${Version}' " .. pkg)
  return v ~= "" and v:gsub("[-~+].*", "") or "?"
end

-- proto -> id -> { status, rss, best, rounds }
local res = {}
for line in (read(out .. "/results.raw") or ""):gmatch("[^\n]+") do
  local f = {}
  for w in line:gmatch("%S+") do f[#f + 1] = w end
  res[f[1]] = res[f[1]] or {}
  local r = { status = f[3] }
  if f[3] == "ok" then
    r.rss, r.best = tonumber(f[4]), tonumber(f[5])
    r.rounds = { tonumber(f[6]), tonumber(f[7]), tonumber(f[8]) }
  else
    r.detail = f[4]
  end
  res[f[1]][f[2]] = r
end

local L = {}
local function p(fmt, ...) L[#L + 1] = select("#", ...) > 0 and fmt:format(...) or fmt end

local cpu = sh("sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1")
p("mailauth benchmark, %s", os.date("!%Y-%m-%d %H:%M UTC"))
p("host: %s, %s CPUs (%s); SHARED with other work, so rates are per CPU second",
  sh("uname -m"), sh("nproc"), cpu ~= "" and cpu or "?")
p("method: each rate = operations / CPU time of the process, best of 3 rounds of >= %s s", secs)
p("        after a warm-up; one process per implementation; no network: every DNS")
p("        answer comes from memory (but the Cold DNS row's).  mailauth: %s, git %s;\n        OpenSSL %s; whole run %d s.",
  sh("lua5.4 -v"):match("Lua %S+") or "lua5.4", sh("git rev-parse --short HEAD"),
  (sh("openssl version"):match("OpenSSL (%S+)") or "?"), elapsed)
p("")

local function fmt_rate(r)
  if r >= 1000 then return ("%.0f"):format(r) end
  return ("%.1f"):format(r)
end
local function status_text(r)
  if r == nil then return "not run" end
  if r.status == "unavailable" then return "not available yet" end
  if r.status == "missing" then return "not installed (sh bench/deps.sh)" end
  if r.status == "failed" then return "FAILED (" .. (r.detail or "") .. ", see build/bench/*.err)" end
  return nil
end

-- rows: { id, label }; ref: the id the ratio column divides by.
local function table_(proto, rows, unit, ref)
  local rr = res[proto] or {}
  local refr = rr[ref] and rr[ref].best
  p("  %-34s %12s  %-14s  %s", "implementation", unit, "mailauth/it", "rounds")
  for _, row in ipairs(rows) do
    local r = rr[row[1]]
    local st = status_text(r)
    if st then
      p("  %-34s %12s  %-14s", row[2], "-", st)
    else
      local ratio = refr and ("%.2fx"):format(refr / r.best) or "-"
      p("  %-34s %12s  %-14s  %s", row[2], fmt_rate(r.best), ratio,
        table.concat({ fmt_rate(r.rounds[1]), fmt_rate(r.rounds[2]), fmt_rate(r.rounds[3]) }, " "))
    end
  end
end

-- mail: mailauth's row; other: the peer's row.  mode "speedup": mailauth
-- rate / peer rate must be >= want; mode "slowdown": peer rate / mailauth
-- rate (mailauth's time over the floor's) must be <= want.
local function target(label, mail, other, want, mode)
  local a = mail and mail.status == "ok" and mail.best
  local b = other and other.status == "ok" and other.best
  if not a or not b then
    p("  %-48s %s", label, "n/a (" .. (not a and "mailauth not available yet" or "peer not measured") .. ")")
    return
  end
  local v = mode == "speedup" and a / b or b / a
  local ok = mode == "speedup" and v >= want or mode == "slowdown" and v <= want
  p("  %-48s %6.2fx  %s", label, v, ok and "MET" or "MISSED")
end

-- ---- SPF ----
local spf = res.spf or {}
local cases = {}
for line in (read(out .. "/spf.cases") or ""):gmatch("[^\n]+") do cases[#cases + 1] = line end
local nrec = select(2, (read(out .. "/spf.rr") or ""):gsub("\n", ""))
p("SPF: %d evaluations (MAIL FROM) over 50 sender domains, %d records (gen_zone.lua, fixed seed)", #cases, nrec)
local spf_rows = {
  { "mailauth-lua", "mailauth.spf (Lua API)" },
  { "mailauth-lua-received", "mailauth.spf, received_spf read" },
  { "mailauth-lua-fn", "mailauth.spf, Lua function resolver" },
  { "mailauth-c", "mailauth C API (mauth_check_run)" },
  { "libspf2", "libspf2 " .. pkgver("libspf2-2") .. " (zone layer)" },
  { "libspf2-cache", "libspf2 (cache layer over the zone)" },
  { "pyspf", "pyspf " .. pkgver("python3-spf") .. " (dict DNS)" },
}
-- agreement, case by case
local answers, names = {}, {}
for _, row in ipairs(spf_rows) do
  local r = spf[row[1]]
  if r and r.status == "ok" then
    local list = {}
    for l in (read(out .. "/spf." .. row[1] .. ".check") or ""):gmatch("[^\n]+") do list[#list + 1] = l end
    answers[#answers + 1] = list
    names[#names + 1] = row[1]
  end
end
local disagree, dist = 0, {}
for i = 1, #cases do
  local first = answers[1] and answers[1][i]
  local same = true
  for k = 2, #answers do if answers[k][i] ~= first then same = false end end
  if first then dist[first] = (dist[first] or 0) + 1 end
  if not same then
    disagree = disagree + 1
    local who = {}
    for k = 1, #answers do who[#who + 1] = names[k] .. "=" .. tostring(answers[k][i]) end
    p("  DISAGREE case %d (%s): %s", i, (cases[i]:gsub("\t", " | ")), table.concat(who, " "))
  end
end
local dl = {}
for _, k in ipairs({ "pass", "fail", "softfail", "neutral", "none", "permerror", "temperror" }) do
  if dist[k] then dl[#dl + 1] = dist[k] .. " " .. k end
end
p("  results (%s): %s; %s", names[1] or "-", table.concat(dl, ", "),
  disagree == 0 and ("all " .. #answers .. " implementations agree on every case")
  or (disagree .. " cases disagree (listed above)"))
table_("spf", spf_rows, "evals/s", "mailauth-lua")
p("  targets:")
target("mailauth (Lua) >= 0.6x the C API", spf["mailauth-lua"], spf["mailauth-c"], 0.6, "speedup")
target("mailauth (Lua) >= 3x libspf2 (cache layer)", spf["mailauth-lua"], spf["libspf2-cache"], 3, "speedup")
target("mailauth (Lua) + received_spf >= 2x libspf2 (cache)", spf["mailauth-lua-received"], spf["libspf2-cache"], 2, "speedup")
target("Lua function resolver time <= 1.5x the C resolver's", spf["mailauth-lua-fn"], spf["mailauth-lua"], 1.5, "slowdown")
target("mailauth (Lua) >= 5x libspf2 (zone layer)", spf["mailauth-lua"], spf.libspf2, 5, "speedup")
target("mailauth (Lua) >= 20x pyspf", spf["mailauth-lua"], spf.pyspf, 20, "speedup")
target("mailauth (C API) >= 5x libspf2 (reference)", spf["mailauth-c"], spf.libspf2, 5, "speedup")
target("mailauth (C API) >= 20x pyspf (reference)", spf["mailauth-c"], spf.pyspf, 20, "speedup")
p("  note: libspf2's zone layer is a linear list scanned per lookup (its own words:")
p("  \"a proof-of-concept static zone\"); that scan is part of its rate there.  The cache")
p("  layer (SPF_dns_cache_new, 2^10 buckets) in front of it finds each answer by hash after")
p("  its first lookup: the fair DNS layer.  libspf2 always builds its Received-SPF header;")
p("  mailauth builds received_spf on first read, hence the 'received_spf read' row.")
p("")

-- ---- mailauth.check end to end ----
local chk = res.check or {}
local nmsgs = select(2, (read(out .. "/check.msgs") or ""):gsub("\n", ""))
p("mailauth.check: %d messages (spec/fixtures/interop, npm interop fixtures: SPF, DKIM rsa/ed25519,", nmsgs)
p("  DMARC cases) with their envelopes, every DNS answer from memory (spec/fixtures/zones)")
local check_rows = {
  { "mailauth-lua", "mailauth.check (Lua API)" },
  { "mailauth-c", "same checks through the C API" },
  { "npm", "npm mailauth " .. (sh("node -p \"require('./spec/support/npm/node_modules/mailauth/package.json').version\"") ~= "" and
    sh("node -p \"require('./spec/support/npm/node_modules/mailauth/package.json').version\"") or "?") .. " (node " .. sh("node --version") .. ")" },
  { "authheaders", "authheaders " .. pkgver("python3-authheaders") .. " (dkimpy, pyspf)" },
}
local function lines_of(id)
  local t = {}
  for l in (read(out .. "/check." .. id .. ".check") or ""):gmatch("[^\n]+") do
    local f = {}
    for w in l:gmatch("%S+") do f[#f + 1] = w end
    t[f[1]] = f
  end
  return t
end
local ref = lines_of("mailauth-lua")
local cl = lines_of("mailauth-c")
local same_c = 0
for id, f in pairs(ref) do
  local g = cl[id]
  if g and g[2] == f[2] and g[3] == f[3] and g[4] == f[4] then same_c = same_c + 1 end
end
p("  the C API composition gives mailauth.check's SPF, first DKIM and DMARC result on %d of %d", same_c, nmsgs)
for _, peer in ipairs({ "npm", "authheaders" }) do
  local pl = lines_of(peer)
  local agree = { 0, 0, 0 }
  for id, f in pairs(ref) do
    local g = pl[id]
    for k = 2, 4 do if g and g[k] == f[k] then agree[k - 1] = agree[k - 1] + 1 end end
  end
  if next(pl) then
    p("  %s agrees with mailauth on SPF %d, first DKIM %d, DMARC %d of %d messages", peer,
      agree[1], agree[2], agree[3], nmsgs)
  end
end
table_("check", check_rows, "msgs/s", "mailauth-lua")
p("  targets:")
target("mailauth.check (Lua) >= 0.75x the C API", chk["mailauth-lua"], chk["mailauth-c"], 0.75, "speedup")
target("mailauth.check (Lua) >= 15x npm mailauth", chk["mailauth-lua"], chk.npm, 15, "speedup")
target("mailauth.check (Lua) >= 20x authheaders (reference)", chk["mailauth-lua"], chk.authheaders, 20, "speedup")
p("  note: the C API row runs message_info, iprev, SPF (MAIL FROM, HELO), dkim_verify,")
p("  arc_verify and dmarc one after the other on the message read once, and writes the same")
p("  Authentication-Results field with the C writer; npm mailauth does no iprev and")
p("  authheaders no iprev, and both write their header.  npm's")
p("  resolver and authheaders' dnsfunc / pyspf DNSLookup read check_json.py's map of the zones.")
p("  Disagreements are dialect (npm: neutral for a broken signature; authheaders: dkim=fail")
p("  when unsigned), see build/bench/check.*.check.")
p("")

-- ---- cold DNS ----
local cd = res.colddns or {}
local warm = chk["mailauth-lua"]
local base_rev = (read(out .. "/colddns.base") or "?"):gsub("%s+$", "")
p("Cold DNS: mailauth.check on the same messages through the ldns driver, cache off, against")
p("  Knot on 127.0.0.1 (spec/fixtures/zones): client CPU (user + system) per message; the base")
p("  row is the same module with src/dns/resolver.c of %s (a UDP socket per query)", base_rev)
local q = read(out .. "/colddns.mailauth-lua.check") or ""
local nq, nm = q:match("QUERIES (%d+) (%d+)")
nq, nm = tonumber(nq), tonumber(nm)
p("  %-34s %10s  %-28s  %s", "driver", "us/msg", "DNS part (cold - in memory)", "rounds, msgs/s")
for _, row in ipairs({ { "mailauth-lua", "this tree (one socket per server)" },
                       { "base", "base " .. base_rev } }) do
  local r = cd[row[1]]
  local st = status_text(r)
  if st then
    p("  %-34s %10s  %s", row[2], "-", st)
  else
    local us = 1e6 / r.best
    local dns = "-"
    if warm and warm.status == "ok" and nq then
      local d = us - 1e6 / warm.best
      dns = ("%.0f us, %.0f us a query"):format(d, d / (nq / nm))
    end
    p("  %-34s %10.0f  %-28s  %s", row[2], us, dns,
      table.concat({ fmt_rate(r.rounds[1]), fmt_rate(r.rounds[2]), fmt_rate(r.rounds[3]) }, " "))
  end
end
if nq then p("  %.1f DNS queries a message (%d over %d messages)", nq / nm, nq, nm) end
p("  target:")
target("client CPU per cold check <= 0.5x the base's", cd["mailauth-lua"], cd.base, 0.5, "slowdown")
p("")

-- ---- Rspamd ----
do
  local line = (read(out .. "/rspamd.bench") or "BENCH missing"):gsub("%s+$", "")
  local a, b, n = line:match("^BENCH (%d+) (%d+) (%d+)")
  p("Rspamd 3.4 (LuaJIT), one worker scanning the %s interop messages with rspamc, worker CPU", n or "?")
  p("  (user + system) over 3 passes after a warm-up (bench/rspamd_bench.sh):")
  if a then
    p("  %-34s %10s msgs/s", "examples/rspamd (adapter.check)", a)
    p("  %-34s %10s msgs/s", "Rspamd's spf+dkim+dmarc+arc", b)
    p("  ratio mailauth / Rspamd modules: %.2f (one run)", tonumber(a) / math.max(1, tonumber(b)))
  else
    p("  %s", line:gsub("^BENCH ", ""))
  end
  p("")
end

-- ---- DKIM ----
local dkim_rows = {
  { "mailauth-lua", "mailauth.dkim_verify (Lua API)" },
  { "mailauth-c", "mailauth C API (mauth_check_run)" },
  { "opendkim", "OpenDKIM " .. pkgver("libopendkim-dev") .. " (DKIM_QUERY_FILE)" },
  { "dkimpy", "dkimpy " .. pkgver("python3-dkim") .. " (dnsfunc)" },
  { "floor", "OpenSSL floor (key decoded once)" },
  { "floor-key", "OpenSSL floor + d2i_PUBKEY per op" },
  { "floor-pkcs1", "floor + d2i_PublicKey(RSA) per op" },
  { "floor-ctx", "floor, verify context set up once" },
}
local sizes = {}
for _, m in ipairs({ "4k", "1m" }) do
  local f = io.open(out .. "/dkim-" .. m .. ".eml", "rb")
  sizes[m] = f and f:seek("end") or 0
  if f then f:close() end
end
for _, m in ipairs({ "4k", "1m" }) do
  local d = res["dkim-" .. m] or {}
  p("DKIM %s: one rsa-sha256 (2048-bit) relaxed/relaxed signature by dkimpy, message %d bytes",
    m == "4k" and "4 KB" or "1 MB", sizes[m])
  -- every implementation must say pass before its rate means anything
  local agree, bad = 0, {}
  for _, row in ipairs(dkim_rows) do
    local r = d[row[1]]
    if r and r.status == "ok" then
      local first = (read(out .. "/dkim-" .. m .. "." .. row[1] .. ".check") or ""):match("^(%S+)")
      if first == "pass" then agree = agree + 1 else bad[#bad + 1] = row[1] .. "=" .. tostring(first) end
    end
  end
  p("  check before timing: %d implementations verify it as pass%s", agree,
    #bad > 0 and ("; NOT pass: " .. table.concat(bad, " ")) or "")
  table_("dkim-" .. m, dkim_rows, "verifs/s", "mailauth-lua")
  p("  targets:")
  target("mailauth (Lua) >= 2x OpenDKIM", d["mailauth-lua"], d.opendkim, 2, "speedup")
  target("mailauth (Lua) time <= 1.25x the OpenSSL floor", d["mailauth-lua"], d.floor, 1.25, "slowdown")
  target("mailauth (C API) time <= 1.25x the floor", d["mailauth-c"], d.floor, 1.25, "slowdown")
  target("(mailauth (Lua) vs floor + d2i_PUBKEY)", d["mailauth-lua"], d["floor-key"], 1.25, "slowdown")
  target("(mailauth (Lua) vs floor + d2i_PublicKey)", d["mailauth-lua"], d["floor-pkcs1"], 1.25, "slowdown")
  target("(mailauth (Lua) vs floor, context set up once)", d["mailauth-lua"], d["floor-ctx"], 1.25, "slowdown")
  target("(mailauth (C API) vs floor, context set up once)", d["mailauth-c"], d["floor-ctx"], 1.25, "slowdown")
  p("")
end
p("DKIM peak RSS (KB, max resident set of the whole bench process, /usr/bin/time):")
p("  %-34s %10s %10s %10s", "implementation", "4 KB msg", "1 MB msg", "growth")
for _, row in ipairs(dkim_rows) do
  local a, b = (res["dkim-4k"] or {})[row[1]], (res["dkim-1m"] or {})[row[1]]
  if a and b and a.status == "ok" and b.status == "ok" then
    p("  %-34s %10d %10d %10d", row[2], a.rss, b.rss, b.rss - a.rss)
  else
    p("  %-34s %10s %10s %10s", row[2], "-", "-", "-")
  end
end
p("  the input grows by %d KB; growth near that (or a small multiple: the file", (sizes["1m"] - sizes["4k"]) // 1024)
p("  is read into memory, Lua passes a copy) means memory is flat beyond the input.")
p("notes: OpenDKIM's file query method opens and reads its key file on every verification.")
p("  The floor rows differ only in key handling: decoded once; d2i_PUBKEY (SubjectPublicKeyInfo,")
p("  through OpenSSL 3's decoder chain) per verification; or the RSAPublicKey found by a DER walk")
p("  and d2i_PublicKey(EVP_PKEY_RSA) per verification.  The issue's floor is the first: one")
p("  EVP_DigestVerify with the key decoded once.  'context set up once' is stricter: two EVP_Digest")
p("  calls and one EVP_PKEY_verify on a context prepared before timing (mailauth keeps such a")
p("  context per cached key, so its own OpenSSL time is below the first floor's).")
print(table.concat(L, "\n"))
