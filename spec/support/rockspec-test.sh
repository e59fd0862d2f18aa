#!/bin/sh
# The rock as a user gets it, for each Lua (5.4, 5.3, 5.1 with LuaJIT):
#   1. make rock: the release tarball (make dist) and luarocks pack of it;
#   2. luarocks install of that .src.rock into a temporary tree, with no
#      rock server and, as root, no network at all (unshare -n): lua-cjson
#      is declared, and given as provided by the system (Debian's
#      lua-cjson), as a distribution's luarocks would;
#   3. require "mailauth" and `mailauth --version` from that tree only;
#   4. luarocks make in the checkout (Lua 5.4) leaves nothing behind: the
#      same untracked and ignored files before and after.
set -eu
cd "$(dirname "$0")/../.."
command -v luarocks >/dev/null || { echo "rockspec-test: needs luarocks (apt-get install luarocks)"; exit 1; }
command -v zip >/dev/null || { echo "rockspec-test: needs zip (apt-get install zip)"; exit 1; }
tree=$(mktemp -d /tmp/mailauth-rocks.XXXXXX)
trap 'rm -rf "$tree"' EXIT
version=$(sed -n 's/^#define MAUTH_VERSION "\([^"]*\)".*/\1/p' src/mailauth.h)
rock="$PWD/build/dist/mailauth-$version-1.src.rock"
make --no-print-directory rock >"$tree/rock.log" 2>&1 || { cat "$tree/rock.log"; exit 1; }

# No rock server; lua-cjson comes with the system.
printf 'rocks_servers = {}\nrocks_provided = { ["lua-cjson"] = "2.1.0-1" }\n' > "$tree/config.lua"
LUAROCKS_CONFIG="$tree/config.lua"
MAKEFLAGS="-j$(nproc 2>/dev/null || echo 2)"
export LUAROCKS_CONFIG MAKEFLAGS
offline=""
if [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then offline="unshare -n"; fi

for v in 5.4 5.3 5.1; do
  # 5.1 is LuaJIT's ABI: its headers, even where PUC Lua 5.1's are
  # installed too (dh-lua pulls liblua5.1-dev in) and luarocks would take those.
  # and LuaJIT as the interpreter of the command luarocks writes (it would
  # take PUC lua5.1 where that is installed, which lacks 5.2's calls).
  incdir=""
  LUAROCKS_CONFIG="$tree/config.lua"
  case $v in
    5.1) lua=luajit
         incdir="LUA_INCDIR=$(pkg-config --cflags-only-I luajit | sed 's/^-I//; s/ .*//')"
         LUAROCKS_CONFIG="$tree/config-5.1.lua"
         { cat "$tree/config.lua"; echo 'lua_interpreter = "luajit"'; } > "$LUAROCKS_CONFIG" ;;
    *) lua=lua$v ;;
  esac
  export LUAROCKS_CONFIG
  # shellcheck disable=SC2086
  $offline luarocks --lua-version=$v --tree="$tree/$v" install "$rock" $incdir >"$tree/$v.log" 2>&1 ||
    { cat "$tree/$v.log"; exit 1; }
  # The tree first; mailauth.core must come from it (searchpath).
  LUA_PATH="$tree/$v/share/lua/$v/?.lua;$tree/$v/share/lua/$v/?/init.lua" \
  LUA_CPATH="$tree/$v/lib/lua/$v/?.so;;" MA_VERSION="$version" MA_TREE="$tree" \
    $lua -e 'local m = require "mailauth"
             assert(m._LUA_VERSION == _VERSION, "built for " .. m._LUA_VERSION)
             assert(m._VERSION == "mailauth " .. os.getenv("MA_VERSION"), m._VERSION)
             assert(package.searchpath == nil or package.searchpath("mailauth.core", package.cpath):find(os.getenv("MA_TREE"), 1, true))
             local r = assert(m.resolver{ zones = { "$ORIGIN example.\n@ IN SOA a b 1 2 3 4 5\nx IN A 192.0.2.1\n" } })
             assert(r:query("x.example", "A").records[1] == "192.0.2.1")'
  # The command luarocks wrote: run from anywhere, it uses the tree.
  out=$(cd / && "$tree/$v/bin/mailauth" --version)
  case $out in
    "mailauth $version "*) ;;
    *) echo "rockspec-test: $v: mailauth --version said '$out'"; exit 1 ;;
  esac
  echo "rockspec-test: Lua $v ($lua): installed from mailauth-$version-1.src.rock${offline:+ offline}: $out"
done

# luarocks make from the checkout, then the tree as it was.
listing() { git status --porcelain --ignored --untracked-files=all | grep -v '^!! build/' || true; }
listing > "$tree/before"
LUAROCKS_CONFIG="$tree/config.lua" luarocks --lua-version=5.4 --tree="$tree/make" make "$(ls rockspec/mailauth-"$version"-1.rockspec)" \
  >"$tree/make.log" 2>&1 || { cat "$tree/make.log"; exit 1; }
listing > "$tree/after"
if ! cmp -s "$tree/before" "$tree/after" || [ -e build/luarocks ]; then
  echo "rockspec-test: luarocks make left files in the checkout:"
  diff "$tree/before" "$tree/after" || true
  ls -d build/luarocks 2>/dev/null || true
  exit 1
fi
echo "rockspec-test: luarocks make leaves the checkout as it was"
