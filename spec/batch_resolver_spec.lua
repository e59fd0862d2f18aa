-- Batches for Lua resolvers (lua/mailauth/internal.lua): a resolver object
-- with :query_many(questions, timeout) gets every open question of a round
-- at once, each asked once, and the results are those of mailauth's own C
-- loop on the same zones.  Real data: the dkimpy-signed interop messages
-- and their zones (spec/fixtures/), and the demo messages (examples/).
local mailauth = require "mailauth"
local helpers = require "spec.support.helpers"
local manifest = dofile("spec/fixtures/interop/manifest.lua")

local DIR = "spec/fixtures/interop/"

local fixture_resolver = helpers.fixture_resolver

-- A batch resolver over a mailauth zone resolver, recording each batch.
local function recording(inner)
  local log = { batches = {}, questions = 0 }
  local r = {}
  function r:query_many(questions, timeout)
    assert(type(timeout) == "number" and timeout > 0, "a timeout hint")
    local batch, answers = {}, {}
    for i, q in ipairs(questions) do
      batch[i] = q.type .. " " .. q.name
      answers[i] = inner:query(q.name, q.type)
    end
    log.batches[#log.batches + 1] = batch
    log.questions = log.questions + #questions
    return answers
  end
  return r, log
end

local function check_opts(m, resolver)
  return { ip = m.ip, helo = m.helo, sender = m.sender, resolver = resolver,
           authserv_id = "mx.interop.example", now = manifest.now, pct_roll = 0 }
end

describe("batch resolvers (query_many)", function()
  local zones = fixture_resolver()

  it("give mailauth.check the C loop's results on every interop message", function()
    local n = 0
    for _, m in ipairs(manifest.messages) do
      local text = helpers.read(DIR .. m.id .. ".eml")
      local want = mailauth.check(text, check_opts(m, zones))
      local r = recording(zones)
      local got = mailauth.check(text, check_opts(m, r))
      assert.are.equal(want.authentication_results, got.authentication_results, m.id)
      assert.are.equal(want.dmarc.result, got.dmarc.result, m.id)
      n = n + 1
    end
    assert.is_true(n >= 30, "interop messages: " .. n)
  end)

  it("ask a round's questions together, none twice in a batch", function()
    local fewer = 0
    for _, m in ipairs(manifest.messages) do
      local text = helpers.read(DIR .. m.id .. ".eml")
      local r, log = recording(zones)
      mailauth.check(text, check_opts(m, r))
      local asked_one_by_one = 0
      local fn = function(name, qtype)
        asked_one_by_one = asked_one_by_one + 1
        return zones:query(name, qtype)
      end
      mailauth.check(text, check_opts(m, fn))
      for _, batch in ipairs(log.batches) do
        local seen = {}
        for _, q in ipairs(batch) do
          assert.is_nil(seen[q:lower()], m.id .. ": asked twice in one batch: " .. q)
          seen[q:lower()] = true
        end
      end
      -- the same questions, in fewer calls: iprev, SPF and DKIM start
      -- together, so the first batch holds several
      assert.are.equal(asked_one_by_one, log.questions, m.id)
      assert.is_true(#log.batches <= log.questions, m.id)
      if #log.batches < log.questions then fewer = fewer + 1 end
      assert.is_true(#log.batches[1] >= 2, m.id .. ": first batch " .. table.concat(log.batches[1], ", "))
    end
    assert.is_true(fewer >= 30, "messages with fewer batches than questions: " .. fewer)
  end)

  it("are used by the single checks too (one round, one call)", function()
    local r, log = recording(zones)
    local res = mailauth.iprev("198.51.100.10", { resolver = r })
    local want = mailauth.iprev("198.51.100.10", { resolver = zones })
    assert.are.equal(want.result, res.result)
    assert.are.equal(want.name, res.name)
    -- PTR, then the forward lookups of the names: as many rounds as steps
    assert.are.equal(2, #log.batches)
    local spf = mailauth.spf { ip = "198.51.100.10", sender = "a@spf-pass.interop.example",
                               helo = "mta.interop.example", resolver = r }
    assert.are.equal(mailauth.spf { ip = "198.51.100.10", sender = "a@spf-pass.interop.example",
                                    helo = "mta.interop.example", resolver = zones }.result, spf.result)
  end)

  it("may yield inside query_many (a host's cosocket or coroutine)", function()
    local m = manifest.messages[1]
    local text = helpers.read(DIR .. m.id .. ".eml")
    local yields = 0
    local r = {}
    function r:query_many(questions)
      coroutine.yield(#questions)
      local out = {}
      for i, q in ipairs(questions) do out[i] = zones:query(q.name, q.type) end
      return out
    end
    local co = coroutine.wrap(function() return mailauth.check(text, check_opts(m, r)) end)
    local got = co()
    while type(got) == "number" do yields = yields + 1; got = co() end
    assert.is_true(yields >= 2)
    assert.are.equal(mailauth.check(text, check_opts(m, zones)).authentication_results,
                     got.authentication_results)
  end)

  it("treat a short or broken reply as SERVFAIL (temperror), not a crash", function()
    local m = manifest.messages[1]
    local text = helpers.read(DIR .. m.id .. ".eml")
    for _, reply in ipairs { {}, "nonsense", { false, 7 } } do
      local r = { query_many = function() return reply end }
      local got = mailauth.check(text, check_opts(m, r))
      assert.are.equal("temperror", got.spf.result)
      assert.are.equal("temperror", got.iprev.result)
    end
  end)

  it("answer TIMEOUT without a call once the budget is spent", function()
    local calls = 0
    local r = { query_many = function(_, qs)
      calls = calls + 1
      local t0 = mailauth.core.monotonic()
      while mailauth.core.monotonic() - t0 < 0.06 do end -- a slow server
      local out = {}
      for i = 1, #qs do out[i] = { rcode = "TIMEOUT" } end
      return out
    end }
    local got = mailauth.spf { ip = "198.51.100.10", sender = "a@spf-pass.interop.example",
                               resolver = r, time_budget = 0.05 }
    assert.are.equal("temperror", got.result)
    assert.are.equal(1, calls)
  end)

  it("raise a clear error for a query_many that is not a function", function()
    local ok, err = pcall(mailauth.iprev, "198.51.100.10", { resolver = { query_many = 42 } })
    assert.is_false(ok)
    assert.matches("mailauth.iprev: option 'resolver' has a query_many that is not a function "
                   .. "(got number): it must be a function(self, questions, timeout)", err, 1, true)
  end)
end)

-- A resolver of no kind mailauth can ask is the caller's mistake: every
-- public function that takes one raises in the options' words, at the
-- caller's line, before any check is made.  Without the check in
-- internal.resolver_of the error came from the line inside mailauth where
-- the first question was asked (lua/mailauth/spf.lua, dmarc.lua,
-- check.lua), in words that named no function, and a check that asked
-- nothing took any value; these cases then fail on the file name.
describe("a resolver that cannot be asked", function()
  local MSG = "From: a@spf-pass.interop.example\r\nSubject: x\r\n\r\nbody\r\n"
  local CALLS = {
    spf = function(r) return mailauth.spf { ip = "192.0.2.1", sender = "a@example.com", resolver = r } end,
    iprev = function(r) return mailauth.iprev("192.0.2.1", { resolver = r }) end,
    ptr = function(r) return mailauth.ptr("192.0.2.1", { resolver = r }) end,
    dmarc = function(r) return mailauth.dmarc { from = "example.com", resolver = r } end,
    dkim_verify = function(r) return mailauth.dkim_verify(MSG, { resolver = r }) end,
    arc_verify = function(r) return mailauth.arc_verify(MSG, { resolver = r }) end,
    check = function(r) return mailauth.check(MSG, { ip = "192.0.2.1", resolver = r }) end,
  }
  for _, fname in ipairs { "spf", "iprev", "ptr", "dmarc", "dkim_verify", "arc_verify", "check" } do
    it("is refused by mailauth." .. fname .. " at the caller's line", function()
      for _, bad in ipairs { {}, 42, "ns1", { query_many = true } } do
        local ok, err = pcall(function()
          local r = CALLS[fname](bad)
          return r
        end)
        assert.is_false(ok)
        assert.matches("^spec/batch_resolver_spec%.lua:%d+: mailauth%." .. fname
                       .. ": option 'resolver' ", tostring(err))
      end
    end)
  end

  it("takes every kind it can ask: a function, :query, :query_many, a mailauth.resolver", function()
    local nx = { rcode = "NXDOMAIN", ttl = 60, records = {} }
    local kinds = {
      function() return nx end,
      { query = function() return nx end },
      { query_many = function(_, qs) local out = {} for i = 1, #qs do out[i] = nx end return out end },
    }
    for _, r in ipairs(kinds) do
      -- RFC 8601 §2.7.3: a PTR that does not exist is permerror
      local got = mailauth.iprev("192.0.2.1", { resolver = r })
      assert.are.equal("permerror", got.result)
    end
    local got = mailauth.iprev("198.51.100.10", { resolver = fixture_resolver() })
    assert.are.equal("pass", got.result)
  end)
end)
