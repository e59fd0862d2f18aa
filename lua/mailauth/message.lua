-- mailauth.message: what the functions that take a message share, and
-- mailauth.message_info (init.lua puts it on the public table).  DKIM and
-- ARC each have a verifier and a signer of the same make: verifier() and
-- signer() build their API functions from what differs (the parameters
-- the core takes, what the function returns), so the argument rules, the
-- options check and the run are written once.
local internal = require "mailauth.internal"
local options = require "mailauth.options"

local M = {}

local prepare, argerror, run = internal.prepare, internal.argerror, internal.run
local resolver_of, deadline_of = internal.resolver_of, internal.deadline_of

-- Argument rules shared by the functions that take a message, called by
-- the API function itself (the levels count from it).
local function message_args(fname, message, opts, required)
  if type(message) ~= "string" then argerror(fname, 1, "message string", message, 2) end
  if opts == nil and not required then return {} end
  if type(opts) ~= "table" then
    argerror(fname, 2, required and "table" or "table or nil", opts, 2)
  end
  return opts
end

--- verifier(fname, params, finish) -> mailauth.<fname>(message [, opts])
-- A message check that asks DNS (dkim_verify, arc_verify), taking the
-- options of its core kind and resolver, time_budget: params(message,
-- opts) -> its core parameters, finish(result) -> what the API function
-- returns.  Also its half for mailauth.check, prepare[fname](parsed, opts),
-- on the message read once (core.message) and shared by every check of
-- the call.  The check runs to its end in one C call when the resolver is
-- mailauth's own.
function M.verifier(fname, params, finish)
  local decl = internal.declare({ [fname] = { fname .. ":*", "-message", "resolver",
                                              "time_budget" } })[fname]
  prepare[fname] = function(parsed, opts)
    return { fname, params(nil, opts), parsed, fname }, finish
  end
  return function(message, opts)
    opts = message_args(fname, message, opts)
    options.check(fname, opts, decl, 2)
    local deadline, resolver = deadline_of(opts, fname, 2), resolver_of(opts, fname, 2)
    return finish(run(fname, resolver, deadline, fname, params(message, opts)))
  end
end

--- signer(fname, params, finish) -> mailauth.<fname>(message, opts)
-- A signer (dkim_sign, arc_seal): a message and a table whose names the
-- core checks (domain, selector and key required, headers a list of
-- names); it asks no DNS, so it runs with no resolver.  params and finish
-- as for verifier.
function M.signer(fname, params, finish)
  local decl = internal.declare({ [fname] = { fname .. ":*", "-message" } })[fname]
  return function(message, opts)
    message_args(fname, message, opts, true)
    options.check(fname, opts, decl, 2)
    return finish(run(fname, nil, nil, fname, params(message, opts)))
  end
end

--- mailauth.message_info(message) -> { from_fields, from_count, from_addresses,
--                                      from_domains, author_problem, author_code, fields,
--                                      problem, code }
-- The author, read without DNS by the strict From reader (src/core/author.c: RFC
-- 5322 §3.6.2 mailbox-list, §3.4, §3.2): from_fields From fields, from_count
-- mailboxes, their addresses ("local@domain", domain lower-cased) and distinct
-- domains.  author_problem (absent when clean) says why the author cannot be
-- read exactly (several or no From fields, groups, encoded-words holding
-- addresses, bare CR, limits, ...): then nothing may rest on it; author_code is
-- its stable word.  problem: the message reader's (limits, lines that are not
-- fields, line ends), code its word.  Every problem of every result comes with
-- such a code: doc/codes.md lists them.
function M.message_info(message)
  if type(message) ~= "string" then argerror("message_info", 1, "message string", message) end
  return run("message_info", nil, nil, "message_info", { message = message })
end

-- The From reader's job for mailauth.check, on the message read once.
function prepare.message_info(parsed)
  return { "message_info", {}, parsed, "message_info" }, function(r) return r end
end

return M
