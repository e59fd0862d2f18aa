#!/bin/sh
# Installs the Debian packages mailauth needs, when they are missing: with
# apt-get as root, otherwise it prints the command and stops.
#   deps.sh [--list] [GROUP...]
#     (none)    build and test: every Lua, Knot, the oracles, Rspamd,
#               HAProxy, then node and npm if absent and `npm ci` of the npm
#               mailauth oracle into spec/support/npm/node_modules (make test)
#     demo      only what `make demo` needs: the build dependencies and
#               Lua 5.4; no test tools, no npm, no network beyond apt
#   and, on top of the test set, the optional groups of some targets:
#     fuzz      clang and its libFuzzer runtime, python3-yaml for the
#               seeds made from ../shared/testdata  (make fuzz)
#     lint      cppcheck and clang-tidy              (make lint)
#     valgrind  valgrind                             (make valgrind)
#     release   luarocks, zip, dh-lua, debhelper     (make rock, rockspec-test, make deb)
#     minimal   debootstrap: a bare Debian for make demo  (make demo-minimal)
#   --list prints the packages of the groups and installs nothing.
set -e
BUILD="build-essential pkg-config libldns-dev libssl-dev libpsl-dev libidn2-dev publicsuffix"
TEST="lua5.3 liblua5.3-dev luajit libluajit-5.1-dev
lua-busted lua-cjson lua-yaml lua-socket lua-ldoc luarocks zip knot knot-dnsutils openssl
python3-spf python3-dnspython python3-dkim python3-nacl python3-authres
rspamd haproxy curl libmail-dmarc-perl libmail-dkim-perl
lua-expat lua-zlib lua-sql-sqlite3 redis-server libxml2-utils"
list=no demo=no extra=""
for group in "$@"; do
  case $group in
    --list) list=yes ;;
    demo) demo=yes ;;
    # libclang-rt-14-dev is only Recommended by clang-14, yet it holds
    # libclang_rt.fuzzer: name it.
    fuzz) extra="$extra clang libclang-rt-14-dev python3-yaml" ;;
    lint) extra="$extra cppcheck clang-tidy" ;;
    valgrind) extra="$extra valgrind" ;;
    release) extra="$extra luarocks zip dh-lua debhelper dpkg-dev" ;;
    minimal) extra="$extra debootstrap" ;;
    *) echo "deps: unknown group '$group' (demo, fuzz, lint, valgrind, release, minimal)" >&2; exit 2 ;;
  esac
done
PKGS="$BUILD lua5.4 liblua5.4-dev"
if [ $demo = no ] || [ -n "$extra" ]; then PKGS="$PKGS $TEST"; fi
PKGS="$PKGS $extra"
if [ $list = yes ]; then
  # shellcheck disable=SC2086
  printf '%s\n' $PKGS
  exit 0
fi
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
needs_npm=no
if [ $demo = no ] || [ -n "$extra" ]; then needs_npm=yes; fi
# node and npm run the npm mailauth oracle (spec/npm_interop_spec.lua); a
# node installed outside Debian (e.g. NodeSource, npm bundled) is fine.
if [ $needs_npm = yes ]; then
  command -v node >/dev/null 2>&1 || missing="$missing nodejs"
  command -v npm >/dev/null 2>&1 || missing="$missing npm"
fi
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq $missing >/dev/null
  else
    echo "deps: missing packages; run as root:"
    echo "  apt-get install -y$missing"
    exit 1
  fi
fi
[ $needs_npm = yes ] || exit 0
# npm mailauth, pinned by spec/support/npm/package-lock.json.
npmdir="$(cd "$(dirname "$0")" && pwd)/npm"
if [ ! -d "$npmdir/node_modules/mailauth" ]; then
  echo "deps: npm ci --prefix $npmdir"
  npm ci --prefix "$npmdir" --no-audit --no-fund --loglevel=error >/dev/null
fi
exit 0
