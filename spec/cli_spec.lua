-- The command line as a user runs it: bin/mailauth under the Lua running
-- the specs, from the checkout.  One table: each subcommand × outcome
-- (pass, fail, temperror, permerror, usage error) -> exit code and first
-- line of output, the same exit code with --json (which writes [] for an
-- empty list).  A cell that cannot happen says why instead (`absent`); one
-- that cannot happen because the command asks no DNS is shown by the
-- command passing with a nameserver that never answers (`no_dns`).  DNS:
-- zone files written here (offline), a loopback port where nothing
-- answers (temperror), and for keygen a Knot of its own serving the
-- record keygen printed (tagged integration).
local helpers = require "spec.support.helpers"

local LUA = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
local ABI = LUA
local function sh(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- Runs bin/mailauth with args (a string of shell words) from the
-- checkout; returns the exit code, stdout and stderr.  stdout goes to
-- the file to_file instead when it is given.
-- env: shell words put before the command (VAR=value ...); the
-- interpreter is then named by its path, as PATH may not lead to it.
local LUA_PATH_NAME
local function mailauth(args, to_file, env)
  local out, err = to_file or os.tmpname(), os.tmpname()
  local lua = LUA
  if env then
    if not LUA_PATH_NAME then
      local p = io.popen("command -v " .. LUA)
      LUA_PATH_NAME = p:read("*l")
      p:close()
    end
    lua = env .. " " .. sh(LUA_PATH_NAME)
  end
  local a, _, c = os.execute(("%s bin/mailauth %s >%s 2>%s </dev/null"):format(lua,
    args, sh(out), sh(err)))
  local code = c
  if type(a) == "number" then code = math.floor(a / 256) end -- 5.1: the wait status
  local o, e = helpers.read(out), helpers.read(err)
  if not to_file then os.remove(out) end
  os.remove(err)
  return code, o, e
end

local function first_line(s) return (s:match("^[^\n]*")) end

describe("the command line", function()
  if not exists("build/" .. ABI .. "/mailauth/core.so") then
    pending("no build/" .. ABI .. "/mailauth/core.so (make LUA=" .. ABI .. ")")
    return
  end
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. sh(dir)))
  local function path(name) return dir .. "/" .. name end
  teardown(function() os.execute("rm -rf " .. sh(dir)) end)

  -- The key and its record come from keygen itself.
  local code, record = mailauth("keygen --selector s1 --domain test.example --out " .. sh(path("s1.pem")))
  assert(code == 0, "keygen failed")
  helpers.write(path("test.example.zone"), table.concat({
    "$ORIGIN test.example.",
    "@ IN SOA ns hostmaster 1 3600 600 86400 300",
    "@ IN NS ns",
    "ns IN A 127.0.0.1",
    -- a key record whose p= is no key: a DKIM permerror (RFC 6376 §6.1.2)
    'nokey._domainkey IN TXT "v=DKIM1; k=rsa; p=bm90IGEga2V5"',
    '@ IN TXT "v=spf1 ip4:192.0.2.1 -all"',
    "@ IN A 192.0.2.1",
    'broken IN TXT "v=spf1 ip4:192.0.2.1 frobnicate -all"',
    '_dmarc IN TXT "v=DMARC1; p=reject"',
    '_dmarc.broken IN TXT "v=DMARC1; p=frobnicate"',
    record, "" }, "\n"))
  helpers.write(path("other.example.zone"), "$ORIGIN other.example.\n" ..
    "@ IN SOA ns hostmaster 1 3600 600 86400 300\n@ IN NS ns.test.example.\n")
  helpers.write(path("2.0.192.in-addr.arpa.zone"), "$ORIGIN 2.0.192.in-addr.arpa.\n" ..
    "@ IN SOA ns.test.example. hostmaster.test.example. 1 3600 600 86400 300\n" ..
    "@ IN NS ns.test.example.\n1 IN PTR test.example.\n2 IN PTR nowhere.test.example.\n")
  -- 192.0.2.3 has no PTR: iprev permerror (RFC 8601 §3), ptr and its NXDOMAIN a fail
  local crlf = function(s) return (s:gsub("\n", "\r\n")) end
  helpers.write(path("plain.eml"), crlf("From: a@test.example\nTo: b@example.net\nSubject: hi\n\nbody\n"))
  helpers.write(path("broken-dmarc.eml"),
    crlf("From: a@broken.test.example\nTo: b@example.net\nSubject: hi\n\nbody\n"))
  helpers.write(path("junk.eml"), "no header here, nor a body\0")
  local Z = ("--zone %s --zone %s --zone %s"):format(sh(path("test.example.zone")),
    sh(path("other.example.zone")), sh(path("2.0.192.in-addr.arpa.zone")))
  -- nothing listens on the discard port of loopback: every question times out
  local T = "--dns 127.0.0.1@9 --timeout 0.2"
  code = mailauth(("sign %s --key %s --domain test.example --selector s1"):format(
    sh(path("plain.eml")), sh(path("s1.pem"))), path("good.eml"))
  assert(code == 0, "sign failed")
  local good = helpers.read(path("good.eml"))
  helpers.write(path("bad.eml"), (good:gsub("\r\nbody\r\n$", "\r\nbodx\r\n")))
  local P = function(name) return sh(path(name)) end
  -- a signature whose key record holds no key
  helpers.write(path("nokey.msg"), (good:gsub("s=s1;", "s=nokey;", 1)))
  -- a chain of two ARC sets whose newest says cv=fail (RFC 8617 §5.1: no
  -- set is added to it)
  local S = " --key " .. P"s1.pem" .. " --domain test.example --selector s1"
  assert(mailauth("seal " .. P"good.eml" .. S .. " --authserv-id mx1.test.example" ..
    " --results 'dkim=pass header.d=test.example'", path("arc1.msg")) == 0)
  assert(mailauth("seal " .. P"arc1.msg" .. S .. " --authserv-id mx2.test.example --cv fail",
    path("arc-failed.msg")) == 0)
  -- a copy of the demo whose first message expects the wrong verdict
  assert(os.execute(("cp -r examples %s"):format(P"demo-wrong")))
  local demo = helpers.read(path("demo-wrong/demo.lua"))
  helpers.write(path("demo-wrong/demo.lua"), (demo:gsub('verdict = "accept"', 'verdict = "reject"', 1)))
  -- a PATH of one empty folder: no openssl for keygen to run
  assert(os.execute("mkdir " .. P"bin-empty"))
  local NO_OPENSSL = "PATH=" .. P"bin-empty"

  -- { args, exit code, first line (a Lua pattern; of stderr when stdout is
  -- empty), env = shell words before the command }; { absent = why } for a
  -- cell that cannot happen; { no_dns = args } for a temperror that cannot
  -- happen because the command asks no DNS: args (with a nameserver that
  -- never answers) must still exit 0.
  local NO_DNS = " " .. T
  local SIGN = function(msg) return msg .. " --key " .. P"s1.pem" .. " --domain test.example --selector s1" end
  local TABLE = {
    check = {
      pass = { "check " .. P"good.eml" .. " --ip 192.0.2.1 --sender a@test.example " .. Z, 0,
               "^Authentication%-Results: localhost;$" },
      fail = { "check " .. P"bad.eml" .. " --ip 192.0.2.9 --sender a@test.example " .. Z, 1,
               "^Authentication%-Results: localhost;$" },
      temperror = { "check " .. P"good.eml" .. " --ip 192.0.2.1 " .. T, 3,
                    "^Authentication%-Results: localhost;$" },
      permerror = { "check " .. P"junk.eml" .. " " .. Z, 4, "^Authentication%-Results: localhost;$" },
      usage = { "check " .. Z, 2, "^mailauth: check needs a message file" },
    },
    spf = {
      pass = { "spf --ip 192.0.2.1 --sender a@test.example " .. Z, 0, "^Received%-SPF: pass " },
      fail = { "spf --ip 192.0.2.9 --sender a@test.example " .. Z, 1, "^Received%-SPF: fail " },
      temperror = { "spf --ip 192.0.2.1 --sender a@test.example " .. T, 3, "^Received%-SPF: temperror " },
      permerror = { "spf --ip 192.0.2.1 --sender a@broken.test.example " .. Z, 4,
                    "^Received%-SPF: permerror " },
      usage = { "spf --sender a@test.example " .. Z, 2, "^mailauth: spf needs %-%-ip$" },
    },
    iprev = {
      pass = { "iprev 192.0.2.1 " .. Z, 0, "^iprev 192%.0%.2%.1 +pass +confirmed as test%.example$" },
      fail = { "iprev 192.0.2.2 " .. Z, 1, "^iprev 192%.0%.2%.2 +fail " },
      temperror = { "iprev 192.0.2.1 " .. T, 3, "^iprev 192%.0%.2%.1 +temperror " },
      permerror = { "iprev 192.0.2.3 " .. Z, 4, "^iprev 192%.0%.2%.3 +permerror +no PTR record %(NXDOMAIN%)$" },
      usage = { "iprev not-an-ip " .. Z, 2, "^mailauth: mailauth%.iprev: ip: not an IP address" },
    },
    ptr = {
      pass = { "ptr 192.0.2.1 " .. Z, 0, "^test%.example$" },
      fail = { "ptr 192.0.2.3 " .. Z, 1, "^no PTR: nxdomain$" },
      temperror = { "ptr 192.0.2.1 " .. T, 3, "^no PTR: temperror: " },
      permerror = { absent = "ptr lists the names of an address: none is its fail (exit 1), " ..
                             "DNS trouble its temperror; no record of it can be broken" },
      usage = { "ptr not-an-ip " .. Z, 2, "^mailauth: mailauth%.ptr: ip: not an IP address" },
    },
    dkim = {
      pass = { "dkim " .. P"good.eml" .. " " .. Z, 0, "^ +dkim +pass +d=test%.example s=s1 rsa%-sha256$" },
      fail = { "dkim " .. P"bad.eml" .. " " .. Z, 1, "^ +dkim +fail +d=test%.example s=s1 rsa%-sha256; " },
      temperror = { "dkim " .. P"good.eml" .. " " .. T, 3, "^ +dkim +temperror +d=test%.example s=s1 " },
      permerror = { "dkim " .. P"nokey.msg" .. " " .. Z, 4,
                    "^ +dkim +permerror +d=test%.example s=nokey rsa%-sha256; key: p= is not a valid public key$" },
      usage = { "dkim " .. sh(dir) .. " " .. Z, 2, "^mailauth: dkim: .* is a folder, not a file$" },
    },
    dmarc = {
      pass = { "dmarc test.example " .. Z, 0, "^record +v=DMARC1; p=reject$" },
      fail = { "dmarc other.example " .. Z, 1, "^record +%-$" },
      temperror = { "dmarc test.example " .. T, 3, "^record +%-$" },
      permerror = { "dmarc broken.test.example " .. Z, 4, "^record +v=DMARC1; p=frobnicate$" },
      usage = { "dmarc " .. Z, 2, "^mailauth: dmarc needs a From domain$" },
    },
    query = {
      pass = { "query test.example TXT " .. Z, 0, "^NOERROR %(ttl 300%)$" },
      fail = { "query nx.test.example A " .. Z, 1, "^NXDOMAIN " },
      temperror = { "query test.example TXT " .. T, 3, "^TIMEOUT " },
      permerror = { absent = "query reports one answer: NOERROR passes, NXDOMAIN fails, and every " ..
                             "other rcode is temporary, as for each check (RFC 7208 §4.4); a name " ..
                             "that cannot be asked is a usage error (see below)" },
      usage = { "query test.example BOGUS " .. Z, 2, "^mailauth: query: unknown record type 'BOGUS'" },
    },
    sign = {
      pass = { SIGN("sign " .. P"plain.eml"), 0, "^DKIM%-Signature: " },
      fail = { absent = "sign authenticates nothing: it signs (0), or cannot with what it was " ..
                        "given (2: an option or file; 4: a key it cannot use)" },
      temperror = { no_dns = SIGN("sign " .. P"plain.eml") .. NO_DNS },
      permerror = { "sign " .. P"plain.eml" .. " --key " .. P"plain.eml" ..
                    " --domain test.example --selector s1", 4, "^mailauth: sign: " },
      usage = { "sign " .. P"plain.eml" .. " --domain test.example --selector s1", 2,
                "^mailauth: sign needs %-%-key$" },
    },
    seal = {
      pass = { SIGN("seal " .. P"good.eml") .. " --authserv-id mx.test.example" ..
               " --results 'dkim=pass header.d=test.example'", 0, "^ARC%-Seal: " },
      fail = { SIGN("seal " .. P"arc-failed.msg") .. " --authserv-id mx3.test.example", 1,
               "^mailauth: seal: the newest ARC%-Seal says cv=fail: no set is added$" },
      temperror = { no_dns = SIGN("seal " .. P"good.eml") .. " --authserv-id mx.test.example" ..
                             " --results 'dkim=pass header.d=test.example'" .. NO_DNS },
      permerror = { "seal " .. P"good.eml" .. " --key " .. P"plain.eml" .. " --domain test.example" ..
                    " --selector s1 --authserv-id mx.test.example --results 'dkim=pass'", 4,
                    "^mailauth: seal: " },
      usage = { SIGN("seal " .. P"good.eml"), 2, "^mailauth: seal needs %-%-authserv%-id$" },
    },
    keygen = {
      pass = { "keygen --selector k2 --domain test.example --type ed25519 --out " .. P"k2.pem", 0,
               '^k2%._domainkey%.test%.example%. IN TXT %( "v=DKIM1; k=ed25519; p=[%w+/]+=*" %)$' },
      fail = { absent = "keygen checks nothing that could fail to authenticate: it makes a key " ..
                        "(0), or cannot (2: a bad option or an --out it cannot write; 4: openssl " ..
                        "cannot make the key)" },
      temperror = { no_dns = "keygen --selector k4 --type ed25519 --out " .. P"k4.pem" .. NO_DNS },
      permerror = { "keygen --selector k5 --type ed25519 --out " .. P"k5.pem", 4,
                    "^mailauth: keygen: openssl genpkey failed", env = NO_OPENSSL },
      usage = { "keygen --selector k3 --type dsa", 2, "^mailauth: %-%-type is rsa or ed25519" },
    },
    demo = {
      pass = { "demo examples", 0, "^mailauth demo: %d+ messages, DNS answered offline from examples/zones" },
      fail = { "demo " .. P"demo-wrong", 1, "^mailauth demo: %d+ messages, DNS answered offline" },
      temperror = { no_dns = "demo examples" .. NO_DNS },
      permerror = { absent = "demo's outcome is each message against its expectation: a broken " ..
                             "message is one more case (0 or 1), a demo folder it cannot read a usage error" },
      usage = { "demo " .. P"no-such-folder", 2, "^mailauth: no zone files in " },
    },
    report = {
      pass = { "report record " .. P"good.eml" .. " --ip 192.0.2.1 --sender a@test.example " .. Z ..
               " --report-store " .. P"report.db", 0, "^1 messages checked, 1 recorded" },
      fail = { absent = "report keeps and reads reports: a message that fails DMARC is one more " ..
                        "record (0), not a failure of the command" },
      temperror = { "report record " .. P"good.eml" .. " " .. Z .. " --report-store " ..
                    P"no-such-folder/report.db", 3, "^mailauth: report store: cannot open " },
      permerror = { "report summary " .. P"junk.eml", 4, "^0 reports, 0 messages" },
      usage = { "report frobnicate", 2, "^mailauth: report needs record, aggregate or summary" },
    },
  }
  local OUTCOMES = { "pass", "fail", "temperror", "permerror", "usage" }

  it("has a cell for each command of --help and each outcome", function()
    local _, help = mailauth("--help")
    local commands = help:match("\ncommands:\n(.-)\n\n")
    local n, seen = 0, {}
    for line in commands:gmatch("[^\n]+") do
      local cmd = line:match("^  (%l+)[ \n]") or line:match("^  (%l+)$")
      if cmd and not seen[cmd] then n, seen[cmd] = n + 1, true end -- report has three lines
      for _, outcome in ipairs(cmd and OUTCOMES or {}) do
        assert.is_table(TABLE[cmd], "no row for " .. cmd)
        local cell = TABLE[cmd][outcome]
        assert.is_table(cell, ("no cell for %s %s"):format(cmd, outcome))
        assert.is_truthy(cell[1] or (cell.absent and #cell.absent > 20) or cell.no_dns,
          ("%s %s: a case, or why it cannot happen"):format(cmd, outcome))
      end
    end
    local rows = 0
    for _ in pairs(TABLE) do rows = rows + 1 end
    assert.are.equal(n, rows)
  end)

  for cmd, cases in pairs(TABLE) do
    for outcome, case in pairs(cases) do
      if case.no_dns then
        it(("%s %s cannot happen: it asks no DNS (passes with a dead nameserver)"):format(cmd, outcome),
          function()
            local got, out, err = mailauth(case.no_dns .. " --trace")
            assert.are.equal(0, got, ("%s: stdout %q stderr %q"):format(case.no_dns, out, err))
            assert.is_nil(err:find("dns: "), err)
          end)
      elseif not case.absent then -- an absent cell's reason is checked above
        it(("%s %s exits %d"):format(cmd, outcome, case[2]), function()
          local got, out, err = mailauth(case[1], nil, case.env)
          local line = first_line(out ~= "" and out or err)
          assert.are.equal(case[2], got, ("%s: stdout %q stderr %q"):format(case[1], out, err))
          assert.matches(case[3], line)
          -- no place in the source in what the user reads
          assert.is_nil((out .. err):find("%.lua:%d+:"), err)
          if case[2] ~= 2 and cmd ~= "sign" and cmd ~= "seal" and cmd ~= "keygen" and cmd ~= "demo" then
            local jgot, jout = mailauth(case[1] .. " --json", nil, case.env)
            assert.are.equal(case[2], jgot, "--json: " .. jout)
            assert.matches("^[%[{]", jout)
          end
        end)
      end
    end
  end

  it("query: a name that cannot be asked in DNS is a usage error", function()
    local got, _, err = mailauth("query " .. ("a"):rep(64) .. ".test.example A " .. Z)
    assert.are.equal(2, got)
    assert.matches("^mailauth: query: 'a+%.test%.example' cannot be asked", err)
    got = mailauth("query a..test.example A " .. Z)
    assert.are.equal(2, got)
  end)

  it("takes the operator's Public Suffix List (--psl-file) and the tree walk (--org-domain)", function()
    -- a.shared.example has no record; shared.example has p=reject.  By the
    -- public list shared.example is the Organizational Domain and its
    -- policy applies; by a list that makes shared.example a suffix, a.
    -- shared.example is its own organisation and has no policy.  Before,
    -- the command line had no way to give either option.
    helpers.write(path("shared.zone"), '_dmarc.shared.example. 300 IN TXT "v=DMARC1; p=reject"\n')
    helpers.write(path("psl.dat"), "// the operator's list\nexample\nshared.example\n")
    local zone = " --zone " .. sh(path("shared.zone"))
    local got, out = mailauth("dmarc a.shared.example" .. zone)
    assert.are.equal(0, got)
    assert.matches("policy   reject %(from shared%.example", out)
    got, out = mailauth("dmarc a.shared.example --psl-file " .. sh(path("psl.dat")) .. zone)
    assert.are.equal(1, got)
    assert.matches("no DMARC record published", out)
    got, out = mailauth("dmarc a.shared.example --org-domain tree" .. zone)
    assert.are.equal(0, got)
    assert.matches("policy   reject %(from shared%.example", out)
    local err
    got, _, err = mailauth("dmarc a.shared.example --org-domain list" .. zone)
    assert.are.equal(2, got)
    assert.matches("option 'org_domain' must be one of: psl tree", err)
  end)

  it("keygen: an --out it cannot write is a usage error, naming the file", function()
    local got, _, err = mailauth("keygen --selector k6 --out " .. P"no-such-folder/k6.pem")
    assert.are.equal(2, got)
    assert.matches("^mailauth: keygen: cannot write the key to .*no%-such%-folder/k6%.pem %(No such file", err)
  end)

  it("writes empty lists as [] in JSON", function()
    local got, out = mailauth("dkim " .. P"plain.eml" .. " --json " .. Z)
    assert.are.equal(1, got)
    assert.are.equal("[]\n", out)
    got, out = mailauth("check " .. P"plain.eml" .. " --ip 192.0.2.9 --json " .. Z)
    assert.matches('"dkim":%[%]', out)
  end)

  it("prints its version, and the usage with the exit codes", function()
    local got, out = mailauth("--version")
    assert.are.equal(0, got)
    local version = helpers.read("src/mailauth.h"):match('#define MAUTH_VERSION "([^"]+)"')
    assert.are.equal(("mailauth %s (%s)\n"):format(version, _VERSION), out)
    got, out = mailauth("--help")
    assert.are.equal(0, got)
    for n = 0, 4 do assert.matches("\n  " .. n .. "  ", out) end
    local man = helpers.read("man/mailauth.1")
    for opt in out:gmatch("\n  (%-%-[%w-]+)") do
      assert.is_truthy(man:find(opt:gsub("%-", "\\-"), 1, true), "man page lacks " .. opt)
    end
    got = mailauth("")
    assert.are.equal(2, got)
    got, _, err = mailauth("--frobnicate")
    assert.are.equal(2, got)
    assert.matches("^mailauth: unknown option %-%-frobnicate", err)
  end)

  it("works from any folder and through a symlink, with the checkout's modules", function()
    local link = path("ma-link")
    assert(os.execute(("ln -s %s %s"):format(sh(os.getenv("PWD") .. "/bin/mailauth"), sh(link))))
    local out = os.tmpname()
    local ok = os.execute(("cd / && %s %s --version > %s 2>&1"):format(LUA, sh(link), sh(out)))
    assert.is_truthy(ok == true or ok == 0, helpers.read(out))
    assert.matches("^mailauth ", helpers.read(out))
    os.remove(out)
  end)

  it("checks every .eml of a folder, with a table and the worst exit code", function()
    local got, out = mailauth("check " .. sh(dir) .. " --ip 192.0.2.9 --sender a@test.example " .. Z)
    assert.are.equal(4, got)  -- junk.eml
    assert.matches("^message +exit +dmarc", out)
    assert.matches("\ngood%.eml +0 +pass ", out)
    assert.matches("\nbad%.eml +1 +fail ", out)
    assert.matches("\njunk%.eml +4 ", out)
    assert.matches("\nplain%.eml +1 +fail ", out)
    assert.matches("\nbroken%-dmarc%.eml +4 +none ", out)
    assert.matches("\n5 messages: ", out)
  end)

  it("traces each DNS question on stderr with --trace", function()
    local got, _, err = mailauth("iprev 192.0.2.1 --trace " .. Z)
    assert.are.equal(0, got)
    assert.matches("dns: PTR 1%.2%.0%.192%.in%-addr%.arpa %-> NOERROR %(%d+ ms%) test%.example", err)
    assert.matches("dns: A test%.example %-> NOERROR %(%d+ ms%) 192%.0%.2%.1", err)
  end)

  it("takes its nameservers from --resolv-conf, and names a file it cannot read", function()
    local got, _, err = mailauth("query test.example --resolv-conf " .. P"nonexistent.conf")
    assert.are.equal(2, got)
    assert.matches("nonexistent%.conf", err)
  end)

  it("keygen splits the record into strings of at most 255 bytes, and keeps an existing key", function()
    local got, out = mailauth("keygen --selector big --bits 3072 --out " .. P"big.pem")
    assert.are.equal(0, got)
    local strings = {}
    for s in out:gmatch('"([^"]*)"') do strings[#strings + 1] = s end
    assert.is_true(#strings >= 2)
    for _, s in ipairs(strings) do assert.is_true(#s <= 255) end
    assert.matches("^v=DKIM1; k=rsa; p=MII", table.concat(strings))
    got = mailauth("keygen --selector big --out " .. P"big.pem")
    assert.are.equal(2, got)
  end)
end)

describe("keygen's record served by Knot #integration", function()
  if os.execute("command -v knotd >/dev/null 2>&1") ~= true and
     os.execute("command -v knotd >/dev/null 2>&1") ~= 0 then
    pending("knotd is not installed")
    return
  end
  if not exists("build/" .. ABI .. "/mailauth/core.so") then
    pending("no build/" .. ABI .. "/mailauth/core.so")
    return
  end
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. sh(dir .. "/zones")))
  local port
  setup(function()
    local _, record = mailauth("keygen --selector k1 --domain keygen.example --out " .. sh(dir .. "/k1.pem"))
    helpers.write(dir .. "/zones/keygen.example.zone", "$ORIGIN keygen.example.\n" ..
      "@ IN SOA ns hostmaster 1 3600 600 86400 300\n@ IN NS ns\nns IN A 127.0.0.1\n" ..
      '_dmarc IN TXT "v=DMARC1; p=reject"\n' .. record)
    helpers.write(dir .. "/m.eml", "From: a@keygen.example\r\nTo: b@example.net\r\n" ..
      "Subject: keygen\r\n\r\nsigned with a key keygen made\r\n")
    for _ = 1, 3 do
      port = 20000 + math.random(0, 20000)
      local ok = os.execute(("MAILAUTH_TEST_ZONES=%s MAILAUTH_TEST_DNS_PORT=%d sh spec/support/knot.sh start %s >%s 2>&1")
        :format(sh(dir .. "/zones"), port, sh(dir .. "/knot"), sh(dir .. "/knot.out")))
      if ok == true or ok == 0 then return end
      os.execute("sh spec/support/knot.sh stop " .. sh(dir .. "/knot"))
    end
    error("knotd did not start: " .. helpers.read(dir .. "/knot.out"))
  end)
  teardown(function()
    os.execute("sh spec/support/knot.sh stop " .. sh(dir .. "/knot") .. " >/dev/null 2>&1")
    os.execute("rm -rf " .. sh(dir))
  end)

  it("verifies a message signed with the key through the CLI", function()
    local got = mailauth(("sign %s --key %s --domain keygen.example --selector k1"):format(
      sh(dir .. "/m.eml"), sh(dir .. "/k1.pem")), dir .. "/signed.eml")
    assert.are.equal(0, got)
    local out
    got, out = mailauth(("dkim %s --dns 127.0.0.1@%d"):format(sh(dir .. "/signed.eml"), port))
    assert.are.equal(0, got, out)
    assert.matches("^ +dkim +pass +d=keygen%.example s=k1 rsa%-sha256\n$", out)
    got, out = mailauth(("check %s --dns 127.0.0.1@%d"):format(sh(dir .. "/signed.eml"), port))
    assert.are.equal(0, got, out)
    assert.matches("dmarc=pass", out)
  end)
end)
