-- dh-lua's test of the built module: it loads, names its Lua, and answers
-- a question offline.
local m = require "mailauth"
assert(m._LUA_VERSION == _VERSION, m._LUA_VERSION)
local r = assert(m.resolver { zones = { "$ORIGIN example.\n@ IN SOA a b 1 2 3 4 5\nx IN A 192.0.2.1\n" } })
assert(r:query("x.example", "A").records[1] == "192.0.2.1")
print(m._VERSION .. " under " .. _VERSION .. ": ok")
