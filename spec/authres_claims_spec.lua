-- mailauth.authres.claims (RFC 8601 §5): which Authentication-Results
-- fields of a message claim to be from a given authserv-id, so that a
-- border MTA can remove them before adding its own.  Real data: the five
-- messages of ../shared/testdata/m365/, relayed by smtp.subspace.kernel.org
-- (four fields each) and mx.google.com, one of them with Exchange's
-- lower-case "authentication-results: dkim=none ..." and all with
-- Authentication-Results-Original fields, which are not the same field.
-- The strict parser (authres.parse) is the cross-check: every field it
-- reads as ours is claimed.
--
-- Without claims a forged field naming our authserv-id would pass to the
-- mailbox beside ours; the forged cases below then find none.
local mailauth = require "mailauth"
local helpers = require "spec.support.helpers"

local DIR = helpers.skip_without_testdata("m365/")
if not DIR then return end
local authres = mailauth.authres

-- The message's Authentication-Results fields as the strict parser reads
-- them (unfolded, in order): each authserv-id, or false when it does not
-- parse.
local function parsed_ids(text)
  local ids, header = {}, text:match("^(.-)\r?\n\r?\n") or text
  header = header:gsub("\r?\n([ \t])", "%1")
  for line in (header .. "\n"):gmatch("([^\n]*)\n") do
    local value = line:gsub("\r$", ""):match("^[Aa][Uu][Tt][Hh][Ee][Nn][Tt][Ii][Cc][Aa][Tt][Ii][Oo][Nn]%-"
                                               .. "[Rr][Ee][Ss][Uu][Ll][Tt][Ss]:(.*)$")
    if value then
      local r = authres.parse(value)
      ids[#ids + 1] = r and r.authserv_id or false
    end
  end
  return ids
end

describe("mailauth.authres.claims", function()
  local RELAYS = { ["001"] = "smtp.subspace.kernel.org", ["002"] = "smtp.subspace.kernel.org",
                   ["003"] = "smtp.subspace.kernel.org", ["004"] = "mx.google.com",
                   ["005"] = "smtp.subspace.kernel.org" }

  it("finds the relays' own fields in the real messages, as the strict parser reads them", function()
    for id, relay in pairs(RELAYS) do
      local text = helpers.read(DIR .. id .. ".mail")
      local want = {}
      for i, got in ipairs(parsed_ids(text)) do
        if got and got:lower() == relay then want[#want + 1] = i end
      end
      assert.is_true(#want >= 1, id)
      local claims, odd = authres.claims(text, relay)
      assert.are.same(want, claims, id)
      assert.is_false(odd, id)
      -- upper case and a final dot name the same server
      assert.are.same(want, (authres.claims(text, relay:upper() .. ".")), id)
      -- a server that wrote none of them finds no claim
      assert.are.same({}, (authres.claims(text, "mx.example.org")), id)
    end
  end)

  it("counts the lower-case field Exchange writes, which claims no authserv-id", function()
    local text = helpers.read(DIR .. "005.mail")
    assert.are.same({ 1, 2, 3, 4 }, (authres.claims(text, "smtp.subspace.kernel.org")))
    assert.are.equal(5, #parsed_ids(text)) -- the fifth: "authentication-results: dkim=none ..."
  end)

  it("finds a forged field put above a real message, in every form a reader may take", function()
    local text = helpers.read(DIR .. "001.mail")
    local FORMS = {
      { "Authentication-Results: mx.example.org; dkim=pass header.d=arm.com\r\n", false },
      { "Authentication-Results: (ours) \"mx.example.org\" 1; dmarc=pass header.from=arm.com\r\n", false },
      { "authentication-results:\r\n\tMX.Example.Org.;\r\n\tdkim=pass header.d=arm.com\r\n", false },
      { "Authentication-Results : mx.example.org; dkim=pass header.d=arm.com\r\n", true },
      { "Authentication-Results\r\n : mx.example.org; dkim=pass header.d=arm.com\r\n", true },
      -- not valid for the strict parser, still ours to a lenient reader
      { "Authentication-Results: mx.example.org dkim=pass\r\n", false },
    }
    for _, f in ipairs(FORMS) do
      local claims, odd = authres.claims(f[1] .. text, "mx.example.org")
      assert.are.same({ 1 }, claims, f[1])
      assert.are.equal(f[2], odd, f[1])
      -- the relay's own fields move down by one
      assert.are.same({ 2, 3, 4, 5 }, (authres.claims(f[1] .. text, "smtp.subspace.kernel.org")), f[1])
    end
    -- a look-alike name is another server
    for _, other in ipairs { "mx.example.org.evil.example", "xmx.example.org", "mx-example.org" } do
      local forged = "Authentication-Results: " .. other .. "; dkim=pass header.d=arm.com\r\n"
      assert.are.same({}, (authres.claims(forged .. text, "mx.example.org")), other)
    end
  end)

  it("reads the header section only, with LF line ends too", function()
    local text = helpers.read(DIR .. "001.mail")
    local forged = "Authentication-Results: mx.example.org; dkim=pass header.d=arm.com\r\n"
    assert.are.same({}, (authres.claims(text .. forged, "mx.example.org")))
    local lf = (forged .. text):gsub("\r\n", "\n")
    assert.are.same({ 1 }, (authres.claims(lf, "mx.example.org")))
  end)

  it("raises clear errors on wrong arguments", function()
    helpers.assert_errors {
      { function() authres.claims(nil, "mx.example.org") end,
        "bad argument #1 to 'mailauth.authres.claims' %(string expected, got nil%)" },
      { function() authres.claims("x", "") end, "bad argument #2 to 'mailauth.authres.claims'" },
      { function() authres.claims("x", 5) end, "bad argument #2 to 'mailauth.authres.claims'" },
    }
  end)
end)
