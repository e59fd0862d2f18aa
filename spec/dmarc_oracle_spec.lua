-- Differential spec: mailauth.dmarc against Mail::DMARC 1.20211209 (Debian
-- libmail-dmarc-perl), PSL mode, on generated cases.  Both read the same
-- zone (mailauth through a Lua resolver, Mail::DMARC through a stand-in for
-- Net::DNS::Resolver in spec/support/mail-dmarc-oracle.pl) and the same
-- public suffix list; rand() in Mail::DMARC is fixed to the case's pct_roll.
-- Every disagreement must be one of the explained kinds below, each decided
-- by an RFC 7489 section.

local mailauth = require "mailauth"
local fakedns = require "fakedns"

local N = 300
local PSL = "/usr/share/publicsuffix/public_suffix_list.dat"
local ORACLE = "spec/support/mail-dmarc-oracle.pl"

local function have_oracle()
  local ok = os.execute("perl -MMail::DMARC::PurePerl -MJSON::PP -e 1 >/dev/null 2>&1")
  return (ok == true or ok == 0) and pcall(require, "cjson")
end

-- Park-Miller generator: the same cases on every Lua.
local seed = 20261126
local function rnd(n)
  seed = (seed * 16807) % 2147483647
  return seed % n
end
local function pick(list) return list[rnd(#list) + 1] end

local ORGS = { "example.com", "example.co.uk", "example.org", "example.kyoto.jp", "shop.blogspot.com", "example.net" }

local function record(org)
  local special = rnd(20)
  if special == 0 then return "v=dmarc1; p=reject" end          -- lower-case version
  if special == 1 then return "v=DMARC1 p=reject" end           -- missing ";"
  local parts = { "v=DMARC1" }
  local function add(tag, values)
    local v = pick(values)
    if v then parts[#parts + 1] = tag .. "=" .. v end
  end
  add("p", { "none", "quarantine", "reject", "reject", "bogus", false })
  add("sp", { false, false, false, "none", "quarantine", "reject" })
  add("adkim", { false, false, "r", "s" })
  add("aspf", { false, false, "r", "s" })
  add("pct", { false, false, false, "0", "30", "50", "100" })
  add("rua", { false, "mailto:dmarc@" .. org })
  return table.concat(parts, "; ")
end

local function generate(i)
  local org = pick(ORGS)
  local from = pick{ org, "mail." .. org, "a.b." .. org }
  local zone = {}
  if rnd(10) > 0 then zone[org] = { A = { "192.0.2.1" } } end
  local function txt(name)
    local k = rnd(10)
    if k < 6 then return { record(org) } end
    if k == 6 then return { "v=spf1 -all", record(org) } end
    if k == 7 then return { record(org), record(org) } end      -- two records
    return {}
  end
  if from ~= org and rnd(2) == 0 then zone["_dmarc." .. from] = { TXT = txt() } end
  if rnd(10) < 8 then zone["_dmarc." .. org] = { TXT = txt() } end
  local ids = { from, org, "bounce." .. org, "unrelated.example", pick(ORGS) }
  local case = { id = i, zone = zone, from = from, roll = rnd(100), dkim = {} }
  if rnd(4) > 0 then case.spf = { result = pick{ "pass", "pass", "fail", "softfail" }, domain = pick(ids) } end
  for k = 1, rnd(3) do case.dkim[k] = { result = pick{ "pass", "fail" }, domain = pick(ids) } end
  return case
end

local function ours(case)
  local data = case.zone
  return mailauth.dmarc{
    from = case.from, spf = case.spf, dkim = case.dkim, pct_roll = case.roll, psl_file = PSL,
    resolver = fakedns.new(data).resolve,
  }
end

-- Explained disagreements: function(case, ours, theirs) -> reason or nil.
local function published(case, o)
  local node = o.policy_domain and case.zone["_dmarc." .. o.policy_domain]
  for _, r in ipairs(node and node.TXT or {}) do
    if r:find("^v=DMARC1") then return r end
  end
  return ""
end

local EXPLAINED = {
  function(case, o, t)
    -- An invalid p= with a valid rua=: RFC 7489 §6.6.3 step 6 A says act as
    -- p=none and go on; Mail::DMARC's parser croaks ("invalid policy
    -- action") and it leaves result "fail", disposition "none".
    if t.result == "fail" and t.disposition == "none" and o.policy == "none"
       and published(case, o):find("p=bogus") then
      return "invalid p= with valid rua= is p=none (RFC 7489 §6.6.3 step 6)"
    end
  end,
  function(case, o, t)
    -- Mail::DMARC answers "none" when neither the From domain nor its org
    -- domain has MX, NS, A or AAAA (its "9.6", from a DMARC draft).  RFC 7489
    -- §6.6.3 has no such step (§10.? leaves non-existent domains to local
    -- policy), so mailauth evaluates the published policy.
    local function exists(d) return case.zone[d] and (case.zone[d].A or case.zone[d].MX) end
    if t.result == "none" and not exists(case.from) and not exists(o.org_domain) then
      return "Mail::DMARC's existence check of the From/org domain (not in RFC 7489 §6.6.3)"
    end
  end,
  function(_, o, t)
    -- Mail::DMARC leaves result "fail" (its default) when discovery ends
    -- without a usable policy; RFC 7489 §6.6.3 steps 5-6 apply no DMARC
    -- processing then: "none".  Dispositions agree (none).
    local problem = o.problem or ""
    if o.result == "none" and t.result == "fail" and t.disposition == "none"
       and (problem:find("several") or problem:find("no p= tag")
            or problem:find("invalid p= or sp=")) then
      return "no usable policy: none (RFC 7489 §6.6.3 steps 5-6), Mail::DMARC says fail"
    end
  end,
  function(case, o, t)
    -- RFC 7489 §6.4 ABNF: dmarc-version = "v" *WSP "=" *WSP %x44 %x4d %x41
    -- %x52 %x43 %x31: "DMARC1" is case-sensitive, and §6.6.3 step 2 discards
    -- records that do not start with it.  Mail::DMARC lower-cases.
    for _, node in pairs(case.zone) do
      for _, r in ipairs(node.TXT or {}) do
        if r:find("^v=dmarc1") then return "v=dmarc1 is not a DMARC record (RFC 7489 §6.4, §6.6.3 step 2)" end
      end
    end
  end,
  function(case, o, t)
    -- "v=DMARC1 p=reject": §6.4 requires ";" after the version; the record
    -- is not a DMARC record.  Mail::DMARC takes it as one.
    for _, node in pairs(case.zone) do
      for _, r in ipairs(node.TXT or {}) do
        if r == "v=DMARC1 p=reject" then return "no ';' after v=DMARC1 (RFC 7489 §6.4)" end
      end
    end
  end,
}

describe("dmarc vs Mail::DMARC (differential, PSL mode)", function()
  local run_it = have_oracle() and it or pending
  run_it(("agrees on %d generated cases, or the disagreement is explained"):format(N), function()
    local cjson = require "cjson"
    local cases = {}
    for i = 1, N do cases[i] = generate(i) end
    local tmp = os.tmpname()
    local f = assert(io.open(tmp, "wb"))
    f:write(cjson.encode(cases))
    f:close()
    local p = assert(io.popen("perl " .. ORACLE .. " " .. tmp .. " 2>/dev/null"))
    local theirs = cjson.decode(p:read("*a"))
    p:close()
    os.remove(tmp)
    assert.equal(N, #theirs)
    local agree, explained, kinds = 0, 0, {}
    for i, case in ipairs(cases) do
      local o, t = ours(case), theirs[i]
      assert.is_nil(t.error)
      local same = o.result == t.result and o.disposition == t.disposition
      if same and (o.result == "pass" or o.result == "fail") then
        same = o.spf_aligned == (t.spf == "pass") and o.dkim_aligned == (t.dkim == "pass")
      end
      if same then
        agree = agree + 1
        local k = "agree: " .. o.result .. "/" .. tostring(o.disposition)
        kinds[k] = (kinds[k] or 0) + 1
      else
        local why
        for _, explain in ipairs(EXPLAINED) do
          why = explain(case, o, t)
          if why then break end
        end
        assert.is_string(why, ("case %d unexplained: ours %s/%s, Mail::DMARC %s/%s, from %s, zone %s, spf %s, dkim %s")
          :format(i, o.result, tostring(o.disposition), t.result, t.disposition, case.from,
                  cjson.encode(case.zone), cjson.encode(case.spf or {}), cjson.encode(case.dkim)))
        explained = explained + 1
        kinds[why] = (kinds[why] or 0) + 1
      end
    end
    if os.getenv("MAILAUTH_DIFF_REPORT") then
      io.stderr:write(("dmarc vs Mail::DMARC: %d cases, %d agree, %d explained\n"):format(N, agree, explained))
      for why, n in pairs(kinds) do io.stderr:write(("  %3d  %s\n"):format(n, why)) end
    end
    -- Most cases must agree outright; the explained kinds stay a minority.
    assert.is_true(agree >= N * 0.7, ("only %d of %d agree"):format(agree, N))
    assert.equal(N, agree + explained)
  end)
end)
