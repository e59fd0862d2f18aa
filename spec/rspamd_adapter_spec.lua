-- mailauth.rspamd outside Rspamd: the argument and coroutine checks of
-- adapter.check and adapter.add_header, which must raise clear Lua errors
-- (in Rspamd a missing flags = "coro" would otherwise end the worker),
-- with a stand-in task.  The checks themselves run in a real Rspamd:
-- spec/rspamd_check_spec.lua.
local adapter = require "mailauth.rspamd"
local helpers = require "spec.support.helpers"

local function fake_task(content)
  local replies = {}
  return {
    replies = replies,
    get_content = function() return content end,
    set_milter_reply = function(_, r) replies[#replies + 1] = r end,
  }
end

describe("mailauth.rspamd", function()
  it("raises clear errors on wrong arguments", function()
    helpers.assert_errors {
      { function() adapter.check(nil) end, "bad argument #1 to 'mailauth.rspamd.check' %(task expected, got nil%)" },
      { function() adapter.check(fake_task("x"), 5) end, "bad argument #2 to 'mailauth.rspamd.check'" },
      { function() adapter.check(fake_task("x"), {}, "later") end,
        "bad argument #3 to 'mailauth.rspamd.check' %(function or nil expected, got string%)" },
      { function() adapter.add_header(fake_task(), nil) end, "bad argument #2 to 'mailauth.rspamd.add_header'" },
      { function() adapter.add_header(fake_task(), "no colon here") end, "not a header field" },
      { function() adapter.resolver(nil) end, "bad argument #1 to 'mailauth.rspamd.resolver'" },
      { function() adapter.resolver(fake_task(), "keys") end, "bad argument #2 to 'mailauth.rspamd.resolver'" },
    }
  end)

  it("names flags = \"coro\" when called outside a coroutine", function()
    local ok, err = pcall(adapter.check, fake_task("From: a@b.example\r\n\r\nx\r\n"))
    assert.is_false(ok)
    assert.matches('register the symbol with flags = "coro"', err, 1, true)
  end)

  it("gives nil and a reason for a task without a raw message", function()
    local co = coroutine.wrap(function() return adapter.check(fake_task(nil)) end)
    local report, err = co()
    assert.is_nil(report)
    assert.matches("no raw message", err)
  end)

  it("gives nil and a reason for it with a callback too, outside any coroutine", function()
    local called = false
    local started, err = adapter.check(fake_task(""), {}, function() called = true end)
    assert.is_nil(started)
    assert.matches("no raw message", err)
    assert.is_false(called)
  end)

  it("adds Authentication-Results through the milter reply, name and value apart", function()
    local t = fake_task()
    adapter.add_header(t, "Authentication-Results: mx.example.org;\r\n\tspf=pass smtp.mailfrom=a@b.example")
    assert.are.same({ add_headers = { ["Authentication-Results"] = {
      value = "mx.example.org;\r\n\tspf=pass smtp.mailfrom=a@b.example", order = 0 } } }, t.replies[1])
    -- a message with LF line ends: folded with LF, as Rspamd folds its own
    local lf = fake_task()
    lf.get_newlines_type = function() return "lf" end
    adapter.add_header(lf, "Authentication-Results: mx.example.org;\r\n\tarc=none")
    assert.are.equal("mx.example.org;\n\tarc=none", lf.replies[1].add_headers["Authentication-Results"].value)
  end)

  -- RFC 8601 §5.  Without remove_claims a forged field that names our
  -- authserv-id reaches the mailbox beside ours: these cases then see no
  -- remove_headers in the reply.
  it("removes the Authentication-Results fields that claim our authserv-id", function()
    local body = "From: a@b.example\r\nSubject: x\r\n\r\nbody\r\n"
    local forged = "Authentication-Results: MX.example.org; dmarc=pass header.from=b.example\r\n"
    local theirs = "Authentication-Results: gw.other.example; spf=pass smtp.mailfrom=b.example\r\n"
    -- one claim, below another ADMD's field: by its position
    local t = fake_task()
    assert.are.equal(1, adapter.remove_claims(t, theirs .. forged .. body, "mx.example.org"))
    assert.are.same({ remove_headers = { ["Authentication-Results"] = 2 } }, t.replies[1])
    -- two claims: every field goes (one position per name in the reply)
    t = fake_task()
    assert.are.equal(2, adapter.remove_claims(t, forged .. theirs .. forged .. body, "mx.example.org"))
    assert.are.same({ remove_headers = { ["Authentication-Results"] = 0 } }, t.replies[1])
    -- a name folded before its colon: others may not count it, so all go
    t = fake_task()
    local folded = "Authentication-Results\r\n : mx.example.org; dkim=pass header.d=b.example\r\n"
    assert.are.equal(1, adapter.remove_claims(t, theirs .. folded .. body, "mx.example.org"))
    assert.are.same({ remove_headers = { ["Authentication-Results"] = 0 } }, t.replies[1])
    -- none claimed, and a field in the body is not a field: nothing asked
    t = fake_task()
    assert.are.equal(0, adapter.remove_claims(t, theirs .. body .. forged, "mx.example.org"))
    assert.are.equal(0, #t.replies)
    helpers.assert_errors {
      { function() adapter.remove_claims(fake_task(), nil, "mx.example.org") end,
        "bad argument #2 to 'mailauth.rspamd.remove_claims'" },
      { function() adapter.remove_claims(fake_task(), body, "") end,
        "bad argument #3 to 'mailauth.rspamd.remove_claims'" },
    }
  end)
end)
