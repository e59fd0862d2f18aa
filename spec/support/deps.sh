#!/bin/sh
# Installs the Debian packages mailauth needs to build and test, when they
# are missing: with apt-get as root, otherwise it prints the command and stops.
set -e
PKGS="build-essential pkg-config libldns-dev libssl-dev libpsl-dev publicsuffix
lua5.4 liblua5.4-dev lua5.3 liblua5.3-dev luajit libluajit-5.1-dev
lua-compat53-dev lua-busted lua-cjson lua-yaml luarocks knot knot-dnsutils
python3-spf python3-dnspython python3-dkim python3-nacl python3-authres
rspamd haproxy curl libmail-dkim-perl"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
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
