-- mailauth.received: the envelope of stored mail from the Received field a
-- trusted hop wrote (RFC 5321 §4.4) and the Return-Path.  Real messages:
-- the Exchange Online mail relayed by subspace.kernel.org in
-- ../shared/testdata/m365/ (read in place); the RFC's own forms otherwise.
local mailauth = require "mailauth"
local exchange = require "mailauth.exchange"
local helpers = require "spec.support.helpers"

local function msg(fields)
  return table.concat(fields, "\r\n") .. "\r\n\r\nbody\r\n"
end

describe("mailauth.received", function()
  helpers.it_with_testdata("m365/", "reads the client of kernel.org's MX hop on real Exchange Online mail", function()
    local dir = helpers.testdata("m365/")
    local want = {
      ["001.mail"] = { "40.107.20.84", "EUR05-DB8-obe.outbound.protection.outlook.com", true },
      ["002.mail"] = { "40.107.22.80", "EUR05-AM6-obe.outbound.protection.outlook.com", true },
      ["003.mail"] = { "205.220.177.32", "mx0b-00069f02.pphosted.com", false },
      ["005.mail"] = { "210.61.82.184", "mailgw02.mediatek.com", false },
    }
    for file, w in pairs(want) do
      local r = mailauth.received(helpers.read(dir .. file))
      assert.are.same({ w[1], w[2], "smtp.subspace.kernel.org" }, { r.ip, r.helo, r.by }, file)
      assert.is_nil(r.problem, file)
      -- Exchange Online's outbound pool, by the published ranges
      assert.are.equal(w[3], exchange.is_eop_ip(r.ip), file)
    end
    -- one hop further in: Microsoft's own form "(ip)" without brackets
    local r2 = mailauth.received(helpers.read(dir .. "001.mail"), { trusted_hops = 2 })
    assert.are.same({ "2603:10a6:10:4b4::21", "DUZPR01CA0218.eurprd01.prod.exchangelabs.com" }, { r2.ip, r2.helo })
  end)

  helpers.it_with_testdata("m365/", "says why when the trusted hop's field cannot be read", function()
    local dir = helpers.testdata("m365/")
    -- 004's topmost field is "Received: by ..." (Gmail's, no FROM)
    local r = mailauth.received(helpers.read(dir .. "004.mail"))
    assert.is_nil(r.ip)
    assert.are.equal("received_unreadable", r.code)
    assert.matches("no FROM clause", r.problem)
    assert.are.equal("ocaml+verp-cdef9eaa098cd788943a4314c682b75a@discoursemail.com", r.sender)
    -- 005's second: "from mtkmbs14n1.mediatek.inc" names no address
    local r5 = mailauth.received(helpers.read(dir .. "005.mail"), { trusted_hops = 2 })
    assert.is_nil(r5.ip)
    assert.matches("no client address", r5.problem)
    assert.are.equal("mtkmbs14n1.mediatek.inc", r5.helo)
    -- more hops trusted than the message has
    local r9 = mailauth.received(helpers.read(dir .. "001.mail"), { trusted_hops = 40 })
    assert.are.equal("received_missing", r9.code)
  end)

  it("reads RFC 5321 §4.4's forms and Exim's, the sender from Return-Path", function()
    local r = mailauth.received(msg {
      "Return-Path: <alice@example.com>",
      "Received: from mail.example.com (mail.example.com [192.0.2.25])\r\n\tby mx.example.org (Postfix) with ESMTPS id 4F;\r\n\tTue, 25 Nov 2025 10:00:00 +0000",
      "Received: from evil (forged [203.0.113.66]) by mail.example.com; Tue, 25 Nov 2025 09:59:00 +0000",
      "From: alice@example.com" })
    assert.are.same({ "192.0.2.25", "mail.example.com", "alice@example.com", "mx.example.org" },
                    { r.ip, r.helo, r.sender, r.by })
    assert.are.equal("Tue, 25 Nov 2025 10:00:00 +0000", r.date)
    local lit = mailauth.received(msg { "Received: from [IPv6:2001:db8::25] ([IPv6:2001:db8::25]) by mx; x",
                                        "Return-Path: <>" })
    assert.are.same({ "2001:db8::25", "[IPv6:2001:db8::25]", "" }, { lit.ip, lit.helo, lit.sender })
    local exim = mailauth.received(msg { "Received: from mail.example.com ([192.0.2.25] helo=mx1.example.com) by mx" })
    assert.are.same({ "192.0.2.25", "mx1.example.com" }, { exim.ip, exim.helo })
    assert.matches("no Return%-Path", exim.sender_problem)
    -- a comment that names no address is no address
    local none = mailauth.received(msg { "Received: from mail.example.com (not-an-ip [999.1.2.3]) by mx" })
    assert.is_nil(none.ip)
    assert.are.equal("received_unreadable", none.code)
  end)

  it("feeds mailauth.check: stored mail checked as it arrived", function()
    local zones = helpers.demo_resolver()
    local text = helpers.read("examples/messages/own-server.eml")
    local stored = "Return-Path: <bob@example.net>\r\nReceived: from mx.example.net (mx.example.net [192.0.2.25])"
                   .. " by mx.example.org; Tue, 25 Nov 2025 10:00:00 +0000\r\n" .. text
    local env = mailauth.received(stored)
    local report = mailauth.check(stored, { ip = env.ip, helo = env.helo, sender = env.sender,
                                            resolver = zones, now = 1795700000 })
    assert.are.equal("pass", report.spf.result)
    assert.are.equal("pass", report.iprev.result)
    assert.are.equal("pass", report.dmarc.result)
  end)

  it("raises clear errors on wrong arguments", function()
    helpers.assert_errors {
      { function() mailauth.received(42) end, "bad argument #1 to 'mailauth.received' %(message string" },
      { function() mailauth.received("x", "y") end, "bad argument #2 to 'mailauth.received' %(table or nil" },
      { function() mailauth.received("x", { trusted_hops = 0 }) end,
        "mailauth.received: option 'trusted_hops' must be an integer from 1 to 100", plain = true },
      { function() mailauth.received("x", { trusted_hops = 1.5 }) end,
        "mailauth.received: option 'trusted_hops' must be an integer from 1 to 100", plain = true },
      { function() mailauth.received("x", { trusted_hops = 101 }) end,
        "mailauth.received: option 'trusted_hops' must be an integer from 1 to 100", plain = true },
      { function() mailauth.received("x", { trusted = 1 }) end,
        "mailauth.received: option 'trusted' is unknown (did you mean 'trusted_hops'?)", plain = true },
      { function() mailauth.received("x", { trusted_hop = 1 }) end,
        "mailauth.received: option 'trusted_hop' is unknown (did you mean 'trusted_hops'?)", plain = true },
    }
  end)
end)
