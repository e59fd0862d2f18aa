#!/bin/sh
# The Debian packages as a user gets them: make deb, then (as root) dpkg -i
# of lua-mailauth, mailauth, libmailauth0 and libmailauth-dev; mailauth
# --version, require "mailauth" under every Lua the package was built for,
# and a C program built with pkg-config against libmailauth-dev; then the
# packages are purged again, so that the checkout's specs see no installed
# copy.  Not root: builds the packages and says what it could not do.
set -eu
cd "$(dirname "$0")/../.."
# DEB_TEST_NO_BUILD=1: test the packages build/deb/ already holds.
if [ -z "${DEB_TEST_NO_BUILD:-}" ]; then
  make --no-print-directory deb >/tmp/mailauth-deb.log 2>&1 || { tail -40 /tmp/mailauth-deb.log; exit 1; }
fi
version=$(sed -n 's/^#define MAUTH_VERSION "\([^"]*\)".*/\1/p' src/mailauth.h)
debs=$(ls build/deb/*.deb | grep -v -- -dbgsym_)
echo "deb-test: built $(echo "$debs" | xargs -n1 basename | tr '\n' ' ')"
if [ "$(id -u)" != 0 ]; then
  echo "deb-test: not root: the packages are built, not installed"
  exit 0
fi
pkgs="lua-mailauth lua-mailauth-dev mailauth libmailauth0 libmailauth-dev"
tmp=$(mktemp -d /tmp/mailauth-deb.XXXXXX)
trap 'dpkg --purge $pkgs >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
# shellcheck disable=SC2086
dpkg -i $debs >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log"; exit 1; }
out=$(cd / && mailauth --version)
case $out in
  "mailauth $version "*) echo "deb-test: $(command -v mailauth) --version: $out" ;;
  *) echo "deb-test: mailauth --version said '$out'"; exit 1 ;;
esac
for v in 5.3 5.4; do
  command -v "lua$v" >/dev/null || continue
  # the installed module only: no checkout path, from /
  (cd / && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_3 -u LUA_PATH_5_4 "lua$v" -e '
    local m = require "mailauth"
    assert(package.searchpath("mailauth", package.path):find("^/usr/share/lua/"))
    assert(package.searchpath("mailauth.core", package.cpath):find("^/usr/lib/"))
    assert(m._LUA_VERSION == _VERSION)
    print("deb-test: " .. _VERSION .. ": require \"mailauth\" -> " .. m._VERSION .. " from " ..
          package.searchpath("mailauth.core", package.cpath))') || exit 1
done
cc -o "$tmp/check" examples/c/check.c $(pkg-config --cflags --libs mailauth)
"$tmp/check" -z examples/zones/example.net.zone -t 1795700000 examples/messages/own-server.eml
echo "deb-test: examples/c/check.c built with pkg-config against libmailauth-dev verifies"
