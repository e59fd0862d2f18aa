-- One run path (mailauth.internal) and one read of the message
-- (core.message, mauth_message_parse) in mailauth.check, over the demo
-- messages signed by dkimpy (examples/make-messages.py) and their zones.
local mailauth = require "mailauth"
local core = require "mailauth.core"
local internal = require "mailauth.internal"
local helpers = require "spec.support.helpers"

local demo_resolver = helpers.demo_resolver

local r = demo_resolver()
local demo = dofile("examples/demo.lua")

-- A Lua function over the same zones: the Lua loop, where the C resolver
-- takes the C loop.
local function lua_resolver(name, qtype) return r:query(name, qtype) end

local function opts_of(c, resolver)
  return { ip = c.ip, helo = c.helo, sender = c.sender, resolver = resolver,
           authserv_id = demo.authserv_id, now = demo.now, pct_roll = 0 }
end

describe("mailauth.check reads the message once", function()
  -- Without the shared handle each check given the text parses it again
  -- (before core.message the count was 3: DKIM, ARC and the From reader);
  -- mutation check: giving only the DKIM job the text (message = message)
  -- made this fail with 2.
  it("one parse for DKIM, ARC and the From reader", function()
    for i, c in ipairs(demo.connections) do
      local msg = helpers.read("examples/" .. c.message)
      local before = core._parse_count()
      mailauth.check(msg, opts_of(c, r))
      assert.are.equal(1, core._parse_count() - before, "connection " .. i)
    end
  end)

  it("gives the results each check gives alone, through the C and the Lua loop", function()
    for i, c in ipairs(demo.connections) do
      local msg = helpers.read("examples/" .. c.message)
      local alone = {
        dkim = mailauth.dkim_verify(msg, { resolver = r, now = demo.now }),
        arc = mailauth.arc_verify(msg, { resolver = r, now = demo.now }),
        info = mailauth.message_info(msg),
      }
      for _, resolver in ipairs { r, lua_resolver } do
        local rep = mailauth.check(msg, opts_of(c, resolver))
        assert.are.same(alone.dkim, rep.dkim, "dkim " .. i)
        assert.are.same(alone.arc, rep.arc, "arc " .. i)
        assert.are.same(alone.info.from_domains, rep.from_domains, "from " .. i)
        assert.are.same(alone.info.from_addresses, rep.from_addresses, "from " .. i)
        assert.are.equal(alone.info.author_problem, rep.author_problem, "author " .. i)
        assert.are.equal(c.expect.dmarc, rep.dmarc.result, "dmarc " .. i)
        -- both SPF results write received_spf on first read, with the
        -- authserv_id as receiver (mutation check: without core.run_check's
        -- reader metatable the C loop's are nil)
        for _, key in ipairs { "spf", "spf_helo" } do
          local spf = rep[key]
          if spf then
            assert.is_nil(rawget(spf, "received_spf"), key .. " " .. i)
            local want = mailauth.spf_received(spf, { receiver = demo.authserv_id })
            assert.truthy(want:find("receiver=" .. demo.authserv_id .. ";", 1, true))
            assert.are.equal(want, spf.received_spf, key .. " " .. i)
          end
        end
      end
    end
  end)

  -- mailauth.check writes Authentication-Results from the checks' C
  -- results (core.run_many keeps them open, core.header takes the check
  -- objects); it must be the field mailauth.authres.format writes from the
  -- report's tables.  Mutation check: listing "arc" before "dkim" in
  -- check.lua's ORDER made this fail on connection 1 (arc=... before dkim=...).
  it("writes the Authentication-Results that authres.format writes from the report", function()
    for i, c in ipairs(demo.connections) do
      local msg = helpers.read("examples/" .. c.message)
      for _, resolver in ipairs { r, lua_resolver } do
        local rep = mailauth.check(msg, opts_of(c, resolver))
        assert.are.equal(mailauth.authres.format(rep, demo.authserv_id),
                         rep.authentication_results, "connection " .. i)
      end
    end
  end)

  -- Over the C loop DMARC is fed the kept checks' C results
  -- (core.run_dmarc); over the Lua loop, the report's tables
  -- (mailauth.dmarc's options).  Both must give the same verdict, and the
  -- one mailauth.dmarc gives from the report.  Mutation check: leaving
  -- MAIL FROM's result out of core.run_dmarc's options made this fail
  -- on connection 1 (the two dmarc results differ).
  it("feeds DMARC the same evidence through the C and the Lua loop", function()
    for i, c in ipairs(demo.connections) do
      local msg = helpers.read("examples/" .. c.message)
      local viac = mailauth.check(msg, opts_of(c, r))
      local vialua = mailauth.check(msg, opts_of(c, lua_resolver))
      assert.are.same(vialua.dmarc, viac.dmarc, "connection " .. i)
      local alone = mailauth.dmarc { from_domains = viac.from_domains, resolver = r, pct_roll = 0,
                                     spf = viac.spf and { result = viac.spf.result, domain = viac.spf.domain },
                                     dkim = viac.dkim, author_problem = viac.author_problem,
                                     author_code = viac.author_code }
      assert.are.same(alone, viac.dmarc, "alone " .. i)
    end
  end)

  it("one handle serves several checks, and the text may go", function()
    local msg = helpers.read("examples/" .. demo.connections[1].message)
    local parsed = core.message(msg)
    local a = core.run("dkim_verify", { now = demo.now }, r, 0, parsed)
    local b = core.run("dkim_verify", { now = demo.now }, r, 0, parsed)
    assert.are.equal("pass", a.signatures[1].result)
    assert.are.same(a, b)
    assert.are.same(mailauth.message_info(msg), core.run("message_info", {}, nil, 0, parsed))
  end)

  it("refuses a handle where no message is read, and a message given twice", function()
    local parsed = core.message("From: a@example.com\r\n\r\nbody\r\n")
    local c, err = core.check("spf", { ip = "192.0.2.1", sender = "a@example.com" }, parsed)
    assert.is_nil(c)
    assert.matches("reads no message", err)
    c, err = core.check("message_info", { message = "From: b@example.org\r\n\r\n" }, parsed)
    assert.is_nil(c)
    assert.matches("given twice", err)
    assert.has_error(function() core.check("message_info", {}, "not a handle") end)
  end)
end)

describe("the dispatcher", function()
  -- Pure jobs ran through fake resolvers before; now with none at all, and
  -- a job that asks a question with no resolver is an error, never a guess.
  it("runs jobs that ask no DNS with no resolver", function()
    local msg = helpers.read("examples/" .. demo.connections[1].message)
    assert.are.equal("contoso.com", mailauth.message_info(msg).from_domains[1])
    assert.are.equal("example.co.uk", (mailauth.org_domain("mail.example.co.uk")))
    local r1 = internal.run("t", nil, nil, "message_info", { message = msg })
    assert.are.same(mailauth.message_info(msg), r1)
  end)

  it("says so when a job asks DNS and no resolver was given", function()
    assert.has_error(function() internal.run("t", nil, nil, "iprev", { ip = "192.0.2.25" }) end,
                     "mailauth: check 'iprev' asks DNS questions and no resolver was given")
  end)

  it("keeps the internals off the public table", function()
    for _, k in ipairs { "_run", "_run_all", "_prepare", "_deadline_of", "_budget_of",
                         "_dmarc_run", "_resolver_of" } do
      assert.is_nil(mailauth[k], k)
    end
    assert.is_true(internal.is_c_resolver(r))
    assert.is_false(internal.is_c_resolver(lua_resolver))
  end)

  it("gives both loops the same answers for a batch of jobs", function()
    local jobs = function()
      return { { "iprev", { ip = "192.0.2.25" } }, { "ptr", { ip = "40.107.22.50" } },
               { "spf", { ip = "192.0.2.25", sender = "bob@example.net", now = demo.now } } }
    end
    local c_loop = internal.run("t", r, nil, jobs())
    local lua_loop = internal.run("t", lua_resolver, nil, jobs())
    assert.are.same(c_loop, lua_loop)
    assert.are.equal("pass", c_loop[1].result)
    assert.are.equal("pass", c_loop[3].result)
  end)

  -- The single-check Lua loop reads an answer's fields in Lua and hands
  -- them to C (check:answer_next); the batch loop gives C the table
  -- (check:answer).  Both read them as Lua code would: an answer that is
  -- a proxy (fields behind __index) reads as the table behind it.  A
  -- reader that skipped __index would see empty NOERROR answers: SPF
  -- "none" where the C loop finds "pass".
  it("reads a Lua resolver's answers through __index in both Lua loops", function()
    local function proxy_resolver(name, qtype)
      return setmetatable({}, { __index = r:query(name, qtype) })
    end
    local spf = { ip = "192.0.2.25", sender = "bob@example.net", now = demo.now }
    local c_one = internal.run("t", r, nil, "spf", spf)
    assert.are.equal("pass", c_one.result)
    assert.are.same(c_one, internal.run("t", proxy_resolver, nil, "spf", spf))
    local jobs = { { "iprev", { ip = "192.0.2.25" } }, { "spf", spf } }
    assert.are.same(internal.run("t", r, nil, jobs),
                    internal.run("t", proxy_resolver, nil,
                                 { { "iprev", { ip = "192.0.2.25" } }, { "spf", spf } }))
  end)

  it("refuses a malformed answer in the single-check loop as check:answer does", function()
    local spf = { ip = "192.0.2.25", sender = "bob@example.net", now = demo.now }
    for answer, message in pairs {
      [{ rcode = "NOERROR", records = 5 }] = "answer: records must be a table",
      [{ rcode = "BOGUS" }] = "answer: unknown rcode 'BOGUS'",
      [{ rcode = "NOERROR", records = { true } }] = "answer: records[1] must be a string",
      [{ rcode = "NOERROR", records = {}, cnames = { 1 } }] = "answer: cnames[1] must be a string",
    } do
      local resolver = function() return answer end
      for _, run in ipairs {
        function() internal.run("t", resolver, nil, "spf", spf) end,
        function() internal.run("t", resolver, nil, { { "spf", spf } }) end,
      } do
        local ok, err = pcall(run)
        assert.is_false(ok)
        assert.truthy(tostring(err):find(message, 1, true), tostring(err))
      end
    end
  end)

  -- The deadline in both loops: once it has passed, the open questions are
  -- TIMEOUT and the C core names the first one cut (mauth_check_expire).
  it("ends a check whose deadline passed with the question named", function()
    local past = core.monotonic() - 1
    for _, resolver in ipairs { r, lua_resolver } do
      local res = internal.run("t", resolver, past, "iprev", { ip = "192.0.2.25" })
      assert.are.equal("temperror", res.result)
      assert.are.equal("time budget ran out waiting for PTR 25.2.0.192.in-addr.arpa", res.problem)
      local many = internal.run("t", resolver, past, { { "iprev", { ip = "192.0.2.25" } } })
      assert.are.same(res, many[1])
    end
  end)
end)

describe("lists in results", function()
  -- C emits every list field, empty when it is; Lua no longer puts them back.
  it("are there when empty", function()
    local ip = mailauth.iprev("198.51.100.66", { resolver = r })
    assert.are_not.equal("pass", ip.result)
    assert.are.same({}, ip.names)
    local d = mailauth.dmarc { from = "outlook.com", resolver = r, pct_roll = 0 } -- no _dmarc there
    assert.are.equal("none", d.result)
    assert.are.same({}, d.rua)
    assert.are.same({}, d.ruf)
  end)
end)
