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
end)
