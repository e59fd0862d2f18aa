-- Class "outcomes are data" (issue 9 item 7; DESIGN.md: outcomes are data,
-- never exceptions).  Whatever arrives from SMTP or in the message (NUL
-- and control bytes, 100 KB strings in MAIL FROM, HELO and the message)
-- gives mailauth.check, spf, iprev and dmarc a result; only wrong Lua
-- types, and a non-IP where an IP is required (the MTA's own argument),
-- raise.
--
-- Mutation check: with the NUL handling in src/spf/spf.c spf_init restored to
-- `return MAUTH_EINVAL` ("sender: holds a NUL byte"), the MAIL FROM and
-- HELO cases failed (1 failure, 1 error: "mailauth.spf: sender: holds a
-- NUL byte" raised from mailauth.check).
local mailauth = require "mailauth"

local NX = require("fakedns").new({}).resolve -- every name NXDOMAIN
local BIG = ("x"):rep(100 * 1024)
local MSG = "From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n"

local HOSTILE = {
  "a\0b@example.com", "\0", "user@exa\0mple.com", "\1\2\3\r\n@example.com",
  "a@example.com\r\nRCPT TO:<x@y>", BIG, BIG .. "@" .. BIG, "@", "<>", "",
  "\255\254@\255.example",
}

describe("outcomes are data", function()
  it("mailauth.check returns a report for any MAIL FROM and HELO", function()
    for i, v in ipairs(HOSTILE) do
      for _, helo in ipairs { v, "mx.example.com", "a.b" .. v } do
        local ok, rep = pcall(mailauth.check, MSG, { ip = "192.0.2.1", sender = v, helo = helo,
                                                     resolver = NX, now = 1795700000 })
        assert.is_true(ok, ("case %d: %s"):format(i, tostring(rep)))
        assert.is_string(rep.spf.result)
        assert.is_string(rep.dmarc.result)
        assert.is_string(rep.authentication_results)
      end
    end
  end)

  it("gives a NUL in MAIL FROM or HELO spf=none with a problem", function()
    local rep = mailauth.check(MSG, { ip = "192.0.2.1", sender = "a\0b@example.com",
                                      helo = "mx.example.com", resolver = NX })
    assert.are.equal("none", rep.spf.result)
    assert.matches("NUL", rep.spf.problem)
    local h = mailauth.spf { ip = "192.0.2.1", helo = "mx.exa\0mple.com", scope = "helo", resolver = NX }
    assert.are.equal("none", h.result)
    assert.matches("NUL", h.problem)
    local e = mailauth.spf { ip = "192.0.2.1", sender = "", resolver = NX }
    assert.are.equal("none", e.result)
    assert.matches("HELO", e.problem)
  end)

  it("mailauth.check returns a report for hostile messages", function()
    for i, m in ipairs { "\0\0\0", BIG, "From: " .. BIG .. "@" .. BIG .. "\r\n\r\n",
                         "From: a\0@b.example\r\n\r\n", "From: a@b.example\r\r\n\n\n\r\n",
                         ("X: y\r\n"):rep(20000) .. "\r\n" } do
      local ok, rep = pcall(mailauth.check, m, { ip = "192.0.2.1", sender = "a@b.example",
                                                 helo = "mx.b.example", resolver = NX })
      assert.is_true(ok, ("message %d: %s"):format(i, tostring(rep)))
      assert.is_string(rep.dmarc.result)
    end
  end)

  it("mailauth.dmarc returns a result for hostile From domains", function()
    for _, d in ipairs { "a\0b.example", BIG, "\1.example", "", ".", "a..b" } do
      local ok, r = pcall(mailauth.dmarc, { from = d, resolver = NX, pct_roll = 0 })
      assert.is_true(ok, tostring(r))
      assert.is_string(r.result)
      local ok2, r2 = pcall(mailauth.dmarc, { from_domains = { d, "example.com" }, resolver = NX })
      assert.is_true(ok2, tostring(r2))
    end
  end)

  it("raises only on wrong types or a non-IP", function()
    assert.has_error(function() mailauth.check(MSG, { ip = "192.0.2.1", sender = 42, resolver = NX }) end)
    assert.has_error(function() mailauth.check(nil) end)
    assert.has_error(function() mailauth.spf { ip = "not an ip", sender = "a@b.example", resolver = NX } end)
    assert.has_error(function() mailauth.iprev("192.0.2.1\0", { resolver = NX }) end)
    assert.has_error(function() mailauth.iprev(BIG, { resolver = NX }) end)
    local ok, r = pcall(mailauth.iprev, "192.0.2.1", { resolver = NX })
    assert.is_true(ok)
    assert.are.equal("permerror", r.result)
  end)
end)
