-- mailauth.check asks DMARC's first questions (they depend on the From
-- domain alone) with the first round of the other checks, and the DMARC
-- job takes those answers with no round trip of its own (core.run_check
-- and core.run_dmarc over a C resolver; internal.lua's lua_loop_many and
-- ahead_resolver over Lua resolvers).  Against the same run with DMARC
-- asking late (check._ask_ahead = false), on the dkimpy-signed interop
-- messages and their zones (spec/fixtures/): one round fewer, the same
-- questions, the same report.  A resolver that takes one question at a
-- time (a function) has no round to save: nothing is asked ahead there.
local mailauth = require "mailauth"
local core = require "mailauth.core"
local check = require "mailauth.check"
local helpers = require "spec.support.helpers"
local manifest = dofile("spec/fixtures/interop/manifest.lua")

local DIR = "spec/fixtures/interop/"

local fixture_resolver = helpers.fixture_resolver
local zones = fixture_resolver()

-- Counting resolvers over the zones: log.rounds (calls), log.asked (each
-- question, "TYPE name").
local function batch_counting()
  local log = { rounds = 0, asked = {} }
  return { query_many = function(_, questions)
    log.rounds = log.rounds + 1
    local answers = {}
    for i, q in ipairs(questions) do
      log.asked[#log.asked + 1] = q.type .. " " .. q.name:lower()
      answers[i] = zones:query(q.name, q.type)
    end
    return answers
  end }, log
end

local function function_counting()
  local log = { rounds = 0, asked = {} }
  return function(name, qtype)
    log.rounds = log.rounds + 1
    log.asked[#log.asked + 1] = qtype .. " " .. name:lower()
    return zones:query(name, qtype)
  end, log
end

-- The C resolver: its rounds (core._round_count) and questions (stats).
local function c_counting()
  local log = { r0 = core._round_count(), q0 = zones:stats().queries }
  return zones, log
end

local function c_close(log)
  log.rounds = core._round_count() - log.r0
  log.queries = zones:stats().queries - log.q0
end

local KINDS = { c = c_counting, batch = batch_counting, ["function"] = function_counting }

local function run(kind, text, m, org_domain, ahead)
  local resolver, log = KINDS[kind]()
  check._ask_ahead = ahead
  local ok, rep = pcall(mailauth.check, text, {
    ip = m.ip, helo = m.helo, sender = m.sender, resolver = resolver,
    authserv_id = "mx.interop.example", now = manifest.now, pct_roll = 0,
    org_domain = org_domain })
  check._ask_ahead = true
  assert(ok, rep)
  if kind == "c" then c_close(log) end
  if log.asked then table.sort(log.asked) end
  return rep, log
end

local function messages()
  local list = {}
  for _, m in ipairs(manifest.messages) do
    list[#list + 1] = { m = m, text = helpers.read(DIR .. m.id .. ".eml") }
  end
  return list
end

describe("DMARC's first questions asked with the first round", function()
  local list = messages()

  it("have the interop messages to run on", function()
    assert.is_true(#list >= 45, "interop messages: " .. #list)
  end)

  for _, kind in ipairs { "c", "batch", "function" } do
    for _, mode in ipairs { "psl", "tree" } do
      it(("give the same report and questions, in one round fewer (%s resolver, %s)")
         :format(kind, mode), function()
        local fewer = 0
        for _, x in ipairs(list) do
          local late, llog = run(kind, x.text, x.m, mode, false)
          local early, elog = run(kind, x.text, x.m, mode, true)
          assert.are.same(late, early, x.m.id)
          if kind == "c" then
            assert.are.equal(llog.queries, elog.queries, x.m.id)
          else
            assert.are.same(llog.asked, elog.asked, x.m.id)
          end
          local drop = llog.rounds - elog.rounds
          if kind == "function" then
            -- one question a call: the calls are the questions
            assert.are.equal(0, drop, x.m.id)
          elseif mode == "psl" and late.from_domain then
            -- _dmarc.<from> and _dmarc.<org> were DMARC's only round
            assert.are.equal(1, drop, x.m.id)
          else
            -- tree: an identifier's own walk may still need a round
            assert.is_true(drop == 0 or drop == 1, x.m.id .. ": " .. drop)
          end
          fewer = fewer + drop
        end
        if kind ~= "function" then
          -- mutation check: without the ahead (check._ask_ahead ignored)
          -- no round is saved and this fails
          assert.is_true(fewer >= #list * (mode == "psl" and 1 or 0.5),
                         ("%d rounds fewer over %d messages"):format(fewer, #list))
        end
      end)
    end
  end

  -- No usable From domain: DMARC asks nothing, so nothing is asked ahead.
  -- The messages are interop ones with their From field taken away, or
  -- doubled with a second domain (RFC 7489 §6.6.1: each domain is then
  -- checked on its own, late).
  it("asks nothing extra when the message has no usable From domain", function()
    local x = list[1]
    local text = "\n" .. x.text
    local variants = {
      nofrom = text:gsub("\nFrom:[^\n]*\n", "\n", 1):sub(2),
      twofrom = text:gsub("\n(From:[^\n]*)\n", "\n%1\nFrom: other <b@other.example>\n", 1):sub(2),
    }
    for name, text in pairs(variants) do
      assert.are_not.equal(x.text, text, name)
      for _, kind in ipairs { "c", "batch" } do
        local late, llog = run(kind, text, x.m, "psl", false)
        local early, elog = run(kind, text, x.m, "psl", true)
        assert.is_nil(early.from_domain, name)
        assert.are.same(late, early, name)
        assert.are.equal(llog.rounds, elog.rounds, name .. " " .. kind)
        if kind == "batch" then assert.are.same(llog.asked, elog.asked, name) end
      end
    end
  end)

  -- A DMARC question that times out (the resolver's own TIMEOUT, within
  -- the budget) is kept as it came: the same temperror as asking late,
  -- and not waited for a second time.  Mutation check: keeping no
  -- TIMEOUT made _dmarc asked twice.
  it("keeps a resolver's TIMEOUT, asked once", function()
    local x = list[1]
    local function silent_dmarc()
      local log = { dmarc = 0 }
      return { query_many = function(_, questions)
        local answers = {}
        for i, q in ipairs(questions) do
          if q.name:find("^_dmarc%.") then
            log.dmarc = log.dmarc + 1
            answers[i] = { rcode = "TIMEOUT" }
          else
            answers[i] = zones:query(q.name, q.type)
          end
        end
        return answers
      end }, log
    end
    local reps, logs = {}, {}
    for _, ahead in ipairs { false, true } do
      local resolver, log = silent_dmarc()
      check._ask_ahead = ahead
      reps[ahead] = mailauth.check(x.text, { ip = x.m.ip, helo = x.m.helo, sender = x.m.sender,
                                             resolver = resolver, now = manifest.now,
                                             pct_roll = 0 })
      check._ask_ahead = true
      logs[ahead] = log.dmarc
    end
    assert.are.equal("temperror", reps[true].dmarc.result)
    assert.are.same(reps[false], reps[true])
    assert.are.equal(logs[false], logs[true])
  end)

  -- The kept answers are this message's only: a second message with the
  -- same From domain asks DMARC's questions again.
  it("keeps the answers for one message only", function()
    local x = list[1]
    local resolver, log = batch_counting()
    local opts = { ip = x.m.ip, helo = x.m.helo, sender = x.m.sender, resolver = resolver,
                   now = manifest.now, pct_roll = 0 }
    mailauth.check(x.text, opts)
    local once = #log.asked
    mailauth.check(x.text, opts)
    assert.are.equal(2 * once, #log.asked)
  end)
end)
