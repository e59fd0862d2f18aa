-- A Public Suffix List file that cannot be read is a result, never an
-- exception (doc/codes.md: psl_unavailable): DMARC cannot find a policy
-- without it, so it is temperror with the problem naming the file, in
-- mailauth.dmarc, mailauth.check and mailauth.org_domain alike.
local mailauth = require "mailauth"

describe("a missing psl_file", function()
  local missing = os.tmpname()
  os.remove(missing)
  local zone = mailauth.resolver { zones = {
    "$ORIGIN example.org.\n@ IN SOA a b 1 2 3 4 5\n_dmarc IN TXT \"v=DMARC1; p=reject\"\n" } }

  it("is temperror psl_unavailable from mailauth.dmarc", function()
    local r = mailauth.dmarc { from = "example.org", psl_file = missing, resolver = zone }
    assert.are.equal("temperror", r.result)
    assert.are.equal("psl_unavailable", r.code)
    assert.matches(missing:gsub("%p", "%%%0"), r.problem)
    assert.are.equal("dmarc", r.method)
  end)

  it("is DMARC's temperror in mailauth.check and its header", function()
    local rep = mailauth.check("From: a@example.org\r\nSubject: x\r\n\r\nbody\r\n",
                               { psl_file = missing, resolver = zone, authserv_id = "mx.test" })
    assert.are.equal("temperror", rep.dmarc.result)
    assert.are.equal("psl_unavailable", rep.dmarc.code)
    assert.matches("dmarc=temperror", rep.authentication_results)
  end)

  it("gives nil, nil and the problem from mailauth.org_domain", function()
    local org, reg, problem = mailauth.org_domain("a.b.example.co.uk", { psl_file = missing })
    assert.is_nil(org)
    assert.is_nil(reg)
    assert.matches("cannot load the public suffix list", problem)
    -- the system list still works afterwards (a failed path is not cached as the list)
    assert.are.equal("example.co.uk", (mailauth.org_domain("a.b.example.co.uk")))
  end)

  it("is unaffected with org_domain = \"tree\", which reads no list", function()
    local r = mailauth.dmarc { from = "example.org", psl_file = missing, org_domain = "tree",
                               resolver = zone }
    assert.are_not.equal("psl_unavailable", r.code)
    assert.are.equal("v=DMARC1; p=reject", r.record)
  end)
end)
