#!/bin/sh
# The peers `make bench` compares mailauth with (not needed to build or test
# mailauth, so not in spec/support/deps.sh).  As root: installs what is
# missing; otherwise prints the apt-get line.
PKGS="libspf2-dev libopendkim-dev python3-spf python3-dkim python3-authheaders python3-dnspython openssl time knot knot-dnsutils"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "bench deps: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq $missing >/dev/null
else
  echo "bench deps: missing packages (the bench marks their rows 'not installed'); as root run:"
  echo "  apt-get install -y$missing"
fi
exit 0
