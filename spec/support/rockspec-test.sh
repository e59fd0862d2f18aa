#!/bin/sh
# Installs mailauth with luarocks into a temporary tree for each Lua, from
# this checkout, and loads it from there (not from the tree's build/).
set -eu
cd "$(dirname "$0")/../.."
command -v luarocks >/dev/null || { echo "rockspec-test: needs luarocks (apt-get install luarocks)"; exit 1; }
tree=$(mktemp -d /tmp/mailauth-rocks.XXXXXX)
trap 'rm -rf "$tree"' EXIT
for v in 5.4 5.3 5.1; do
  case $v in 5.1) lua=luajit ;; *) lua=lua$v ;; esac
  luarocks --lua-version=$v --tree="$tree/$v" make rockspec/mailauth-scm-1.rockspec >"$tree/$v.log" 2>&1 ||
    { cat "$tree/$v.log"; exit 1; }
  LUA_PATH="$tree/$v/share/lua/$v/?.lua;$tree/$v/share/lua/$v/?/init.lua" \
  LUA_CPATH="$tree/$v/lib/lua/$v/?.so" \
    $lua -e 'local m = require "mailauth"
             assert(m._LUA_VERSION == _VERSION, "built for " .. m._LUA_VERSION)
             assert(package.searchpath == nil or package.searchpath("mailauth.core", package.cpath):find("/tmp/", 1, true))
             local r = assert(m.resolver{ zones = { "$ORIGIN example.\n@ IN SOA a b 1 2 3 4 5\nx IN A 192.0.2.1\n" } })
             assert(r:query("x.example", "A").records[1] == "192.0.2.1")
             print("rockspec-test: " .. _VERSION .. " ok from the luarocks tree")'
done
