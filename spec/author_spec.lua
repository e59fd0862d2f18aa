-- The strict From reader (src/core/author.c) through mailauth.message_info, on
-- the RFC 5322 Appendix A examples (A.1.1-A.1.3, A.5, A.6.1-A.6.3), and
-- mailauth.dmarc's author_problem option.
local mailauth = require "mailauth"
local fakedns = require "fakedns"

local function info(from)
  return mailauth.message_info("From: " .. from .. "\r\nSubject: x\r\n\r\nbody\r\n")
end

describe("message_info on RFC 5322 Appendix A addresses", function()
  local clean = {
    -- A.1.1
    { "John Doe <jdoe@machine.example>", { "jdoe@machine.example" } },
    -- A.1.2 (From, and the To and Cc lists read as mailbox-lists)
    { '"Joe Q. Public" <john.q.public@example.com>', { "john.q.public@example.com" } },
    { "Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
      { "mary@x.test", "jdoe@example.org", "one@y.test" } },
    { '<boss@nil.test>, "Giant; \\"Big\\" Box" <sysservices@example.net>',
      { "boss@nil.test", "sysservices@example.net" } },
    -- A.1.1's To, and the brief's list
    { "Mary Smith <mary@example.net>, jdoe@example.org", { "mary@example.net", "jdoe@example.org" } },
    -- A.5: comments, nested quoted-pair, inside the addr-spec too
    { "Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>", { "pete@silly.test" } },
    -- A.6.1: obs-phrase with an unquoted "."
    { "Joe Q. Public <john.q.public@example.com>", { "john.q.public@example.com" } },
    -- A.6.3: CFWS inside the obs-domain
    { "John Doe <jdoe@machine(comment).  example>", { "jdoe@machine.example" } },
    -- folding (§3.2.2) and case (the domain is lower-cased, the local part kept)
    { "Mary\r\n Smith\r\n <Mary@Example.NET>", { "Mary@example.net" } },
  }
  for _, c in ipairs(clean) do
    it(("reads %q"):format(c[1]), function()
      local i = info(c[1])
      assert.is_nil(i.author_problem)
      assert.is_nil(i.problem)
      assert.equal(1, i.from_fields)
      assert.equal(#c[2], i.from_count)
      assert.same(c[2], i.from_addresses)
      local seen, doms = {}, {}
      for _, a in ipairs(c[2]) do
        local d = a:match("@(.*)$"):lower()
        if not seen[d] then seen[d] = true; doms[#doms + 1] = d end
      end
      assert.same(doms, i.from_domains)
    end)
  end

  -- A.1.3's group (a To there) and A.6.2's route are valid RFC 5322, but
  -- not in a From an author is taken from: §3.6.2 mailbox-list has no
  -- groups, and readers disagree on routes (§4.4).
  for _, c in ipairs {
    { "A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;", "group" },
    { "Undisclosed recipients:;", "group" },
    { "Mary Smith <@node.test:mary@example.net>", "route" },
  } do
    it(("refuses %q"):format(c[1]), function()
      assert.matches(c[2], info(c[1]).author_problem)
    end)
  end

  it("keeps a long folded display name, refuses a long folded address and <>", function()
    local long = '"' .. ("x"):rep(600) .. "\r\n " .. ("y"):rep(600) .. '" <a@b.example>'
    assert.is_nil(info(long).author_problem)
    assert.same({ "a@b.example" }, info(long).from_addresses)
    local addr = ("a."):rep(300) .. "\r\n " .. ("a."):rep(300) .. "a@b.example"
    assert.matches("address longer than 998", info(addr).author_problem)
    assert.matches("empty angle%-addr", info("<>").author_problem)
  end)

  it("counts fields and mailboxes separately", function()
    local i = mailauth.message_info("From: a@x.example\r\nFrom: b@y.example, c@y.example\r\n\r\n")
    assert.equal(2, i.from_fields)
    assert.equal(3, i.from_count)
    assert.same({ "x.example", "y.example" }, i.from_domains)
    assert.matches("2 From fields", i.author_problem)
  end)
end)

describe("mailauth.dmarc author_problem", function()
  local dns = fakedns.new({}, { fault = "SERVFAIL" })
  local resolver = dns.resolve

  it("is permerror with that problem, asking nothing, whatever domains are given", function()
    local r = mailauth.dmarc { from_domains = { "example.com" }, author_problem = "2 From fields",
                               resolver = resolver, dkim = { { result = "pass", domain = "example.com" } } }
    assert.equal("permerror", r.result)
    assert.equal("2 From fields", r.problem)
    assert.is_nil(r.policy)
    assert.is_nil(r.domain)
    assert.equal(0, dns:count())
  end)

  it("raises on a wrong type only", function()
    assert.has_error(function() mailauth.dmarc { from = "example.com", author_problem = 1 } end)
  end)
end)
