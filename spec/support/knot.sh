#!/bin/sh
# knot.sh start DIR | stop DIR: Knot DNS on 127.0.0.1, serving every
# spec/fixtures/zones/NAME.zone as zone NAME, in the foreground process
# group of the caller's shell.  Port: $MAILAUTH_TEST_DNS_PORT or 5353;
# zones: $MAILAUTH_TEST_ZONES (a folder of NAME.zone) or spec/fixtures/zones.
set -u
# Knot and kdig are not ours: a sanitizer runtime preloaded for the specs
# (make asan's SPEC_PRELOAD) is not theirs to run under.  kdig under
# LD_PRELOAD=libasan.so hung the readiness probe for good (cli_spec's
# keygen Knot, in make asan).
unset LD_PRELOAD
cmd=$1 dir=$2
zones="$(cd "${MAILAUTH_TEST_ZONES:-$(dirname "$0")/../fixtures/zones}" && pwd)"
port=${MAILAUTH_TEST_DNS_PORT:-5353}
case $cmd in
start)
  mkdir -p "$dir/db"
  {
    printf 'server:\n    rundir: "%s"\n    listen: [ 127.0.0.1@%s ]\n    udp-max-payload: 4096\n' "$dir" "$port"
    printf 'log:\n  - target: stderr\n    any: warning\n'
    printf 'database:\n    storage: "%s/db"\n' "$dir"
    printf 'template:\n  - id: default\n    storage: "%s"\n    file: "%%s.zone"\n    zonefile-sync: -1\n    journal-content: none\n' "$zones"
    printf 'zone:\n'
    for z in "$zones"/*.zone; do
      printf '  - domain: %s\n' "$(basename "$z" .zone)"
    done
  } > "$dir/knot.conf"
  echo "$port" > "$dir/port"
  knotd -c "$dir/knot.conf" > "$dir/knot.log" 2>&1 &
  echo $! > "$dir/knot.pid"
  # Ready when it answers for the first zone (about 30 ms; give it 10 s).
  first=$(basename "$(ls "$zones"/*.zone | head -n 1)" .zone)
  deadline=$(($(date +%s) + 10))
  while [ "$(date +%s)" -lt $deadline ]; do
    # Only an SOA record counts as an answer: kdig prints its usage (or an
    # error) on stdout for anything it does not take, so "some output" is
    # no proof that Knot serves the zone.  +retry is kdig 3.x's option.
    if kdig +short +time=1 +retry=0 -p "$port" @127.0.0.1 SOA "$first" 2>/dev/null |
        grep -Eq '^[^;[:space:]]+ [^[:space:]]+( [0-9]+){5}$'; then
      exit 0
    fi
    if ! kill -0 "$(cat "$dir/knot.pid")" 2>/dev/null; then
      echo "knot.sh: knotd exited before answering (see $dir/knot.log)" >&2
      exit 1
    fi
    sleep 0.02
  done
  echo "knot.sh: knotd did not answer SOA $first on 127.0.0.1@$port within 10 s" >&2
  exit 1 ;;
stop)
  [ -f "$dir/knot.pid" ] && kill "$(cat "$dir/knot.pid")" 2>/dev/null
  rm -f "$dir/knot.pid"
  exit 0 ;;
esac
