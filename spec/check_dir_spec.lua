-- examples/scripts/check-dir.lua run as a user would, on a folder of stored
-- messages: the demo messages (examples/messages, dkimpy-signed) with the
-- Return-Path and Received fields their MTA would have written, checked
-- offline against the demo zones.  Each line must say what mailauth.check
-- says with the envelope of examples/demo.lua, and the summary must add up.
local mailauth = require "mailauth"
local helpers = require "spec.support.helpers"
local daemon = require "spec.support.daemon"

local LUA = jit and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
local BUILD = jit and "luajit" or LUA

describe("examples/scripts/check-dir.lua", function()
  local demo = dofile("examples/demo.lua")
  local dir

  setup(function()
    dir = daemon.tmpdir("mailauth-check-dir")
    for i, c in ipairs(demo.connections) do
      local stored = ("Return-Path: <%s>\r\nReceived: from %s (client [%s])\r\n\tby %s with ESMTP;"
                      .. " Tue, 25 Nov 2025 10:00:00 +0000\r\n"):format(c.sender or "", c.helo, c.ip, demo.authserv_id)
                     .. helpers.read("examples/" .. c.message)
      helpers.write(("%s/%02d.eml"):format(dir, i), stored)
    end
    -- one whose trusted hop says no address: reported, not guessed
    helpers.write(dir .. "/99.eml", "Received: from somewhere by mx; x\r\nFrom: a@example.net\r\n\r\nx\r\n")
  end)

  teardown(function() if dir then os.execute("rm -rf " .. dir) end end)

  it("prints what mailauth.check says for each message, and the sums", function()
    local zones = {}
    local p = io.popen("ls examples/zones/*.zone")
    for f in p:lines() do zones[#zones + 1] = "--zonefile " .. f end
    p:close()
    local out = daemon.capture(("LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/%s/?.so;;' %s"
      .. " examples/scripts/check-dir.lua %s %s --now %d --authserv-id %s --parallel 4 2>/dev/null")
      :format(BUILD, LUA, dir, table.concat(zones, " "), demo.now, demo.authserv_id))
    local resolver = helpers.demo_resolver()
    local dmarc_pass = 0
    for i, c in ipairs(demo.connections) do
      local want = mailauth.check(helpers.read("examples/" .. c.message), {
        ip = c.ip, helo = c.helo, sender = c.sender or "", resolver = resolver,
        authserv_id = demo.authserv_id, now = demo.now })
      local line = out:match(("[^\n]*/%02d%%.eml\t[^\n]*"):format(i))
      assert(line, "no line for message " .. i .. " in:\n" .. out)
      assert.matches("\t" .. c.ip:gsub("%.", "%%.") .. "\t", line)
      for _, proto in ipairs { "iprev", "spf", "dmarc", "arc" } do
        assert(line:find(proto .. "=" .. want[proto].result, 1, true), line .. " / " .. proto .. "=" .. want[proto].result)
      end
      if c.expect and c.expect.dmarc then assert.are.equal(c.expect.dmarc, want.dmarc.result) end
      if want.dmarc.result == "pass" then dmarc_pass = dmarc_pass + 1 end
    end
    assert.matches("99%.eml\tunreadable\tthe FROM clause gives no client address", out)
    local row = out:match("\ndmarc +(%d+)")
    assert.are.equal(dmarc_pass, tonumber(row))
    assert.matches(("%d messages, 1 unreadable envelopes"):format(#demo.connections + 1), out)
    -- the six messages ran together: fewer rounds than one message alone asks
    local rounds = tonumber(out:match("(%d+) DNS rounds"))
    assert.is_true(rounds >= 1 and rounds <= 8, "rounds: " .. tostring(rounds))
  end)
end)
