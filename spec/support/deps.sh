#!/bin/sh
# Installs the Debian packages mailauth needs to build and test, when they
# are missing: with apt-get as root, otherwise it prints the command and stops.
#   deps.sh [GROUP...]   GROUP adds an optional set, for the tools that
#   only some targets use (make test needs none of them):
#     fuzz      clang and its libFuzzer runtime      (make fuzz)
#     lint      cppcheck and clang-tidy              (make lint)
#     valgrind  valgrind                             (make valgrind)
# Then, always: node and npm if absent, and `npm ci` of the npm mailauth
# oracle into spec/support/npm/node_modules when it is missing.
set -e
PKGS="build-essential pkg-config libldns-dev libssl-dev libpsl-dev libidn2-dev publicsuffix
lua5.4 liblua5.4-dev lua5.3 liblua5.3-dev luajit libluajit-5.1-dev
lua-compat53-dev lua-busted lua-cjson lua-yaml lua-socket luarocks knot knot-dnsutils
python3-spf python3-dnspython python3-dkim python3-nacl python3-authres
rspamd haproxy curl libmail-dmarc-perl libmail-dkim-perl"
for group in "$@"; do
  case $group in
    # libclang-rt-14-dev is only Recommended by clang-14, yet it holds
    # libclang_rt.fuzzer: name it.
    fuzz) PKGS="$PKGS clang libclang-rt-14-dev" ;;
    lint) PKGS="$PKGS cppcheck clang-tidy" ;;
    valgrind) PKGS="$PKGS valgrind" ;;
    *) echo "deps: unknown group '$group' (fuzz, lint, valgrind)" >&2; exit 2 ;;
  esac
done
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# node and npm run the npm mailauth oracle (spec/npm_interop_spec.lua); a
# node installed outside Debian (e.g. NodeSource, npm bundled) is fine.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
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
# npm mailauth, pinned by spec/support/npm/package-lock.json.
npmdir="$(cd "$(dirname "$0")" && pwd)/npm"
if [ ! -d "$npmdir/node_modules/mailauth" ]; then
  echo "deps: npm ci --prefix $npmdir"
  npm ci --prefix "$npmdir" --no-audit --no-fund --loglevel=error >/dev/null
fi
exit 0
