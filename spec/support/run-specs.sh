#!/bin/sh
# Runs every spec under each Lua given ("lua5.4 lua5.3 luajit"), with Knot
# DNS serving spec/fixtures/zones on 127.0.0.1 for the integration specs
# (MAILAUTH_TEST_NS) and the misbehaving server spec/support/faultdns.py
# next to it (MAILAUTH_FAULT_NS), and ends with one line "N passed, N
# failed" summed over all of them.  Both are stopped on every exit path
# (and faultdns.py stops by itself after an hour).  Pending cases (busted's
# "ok N - # SKIP ...", e.g. a spec whose ../shared/testdata/ folder is
# absent) are shown, counted apart and not as passed.  SPEC_PATHS (default
# "spec") names the spec files or folders to run, e.g. to re-run one file
# under SPEC_VALGRIND=1.
set -u
cd "$(dirname "$0")/../.." || exit 2
LUAS=${*:-lua5.4}
tmp=$(mktemp -d /tmp/mailauth-specs.XXXXXX)
stop_fault() {
  [ -f "$tmp/fault.pid" ] && kill "$(cat "$tmp/fault.pid")" 2>/dev/null
  rm -f "$tmp/fault.pid"
}
trap 'sh spec/support/knot.sh stop "$tmp/knot" >/dev/null 2>&1; stop_fault; rm -rf "$tmp"' EXIT INT TERM

if ! sh spec/support/knot.sh start "$tmp/knot"; then
  echo "run-specs: Knot DNS did not start; see $tmp/knot/knot.log" >&2
  cat "$tmp/knot/knot.log" >&2 2>/dev/null
  echo "0 passed, 1 failed"
  exit 1
fi
MAILAUTH_TEST_NS="127.0.0.1@$(cat "$tmp/knot/port")"
export MAILAUTH_TEST_NS

# The fault server: Debian's python3 (python3-dnspython), a free port.
# Its DKIM/ARC key is made for this run (the private half goes to the
# specs as MAILAUTH_FAULT_KEY).
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
  -out "$tmp/fault.key" 2>/dev/null || exit 2
printf 'v=DKIM1; k=rsa; p=%s\n' \
  "$(openssl pkey -in "$tmp/fault.key" -pubout -outform DER 2>/dev/null | base64 -w0)" \
  > "$tmp/fault.txt"
MAILAUTH_FAULT_KEY="$tmp/fault.key"
export MAILAUTH_FAULT_KEY
/usr/bin/python3 spec/support/faultdns.py --port-file "$tmp/fault.port" \
  --lifetime 3600 --dkim-key "$tmp/fault.txt" \
  > "$tmp/fault.log" 2>&1 &
echo $! > "$tmp/fault.pid"
i=0
while [ ! -s "$tmp/fault.port" ] && [ $i -lt 500 ]; do
  kill -0 "$(cat "$tmp/fault.pid")" 2>/dev/null || break
  sleep 0.02
  i=$((i + 1))
done
if [ ! -s "$tmp/fault.port" ]; then
  echo "run-specs: spec/support/faultdns.py did not start:" >&2
  cat "$tmp/fault.log" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
MAILAUTH_FAULT_NS="127.0.0.1@$(cat "$tmp/fault.port")"
export MAILAUTH_FAULT_NS

# CPU seconds (user + system) of the children reaped so far: busted and
# what it ran (oracles, C hosts); unlike the wall time it does not depend
# on the load of the machine.  (Called with its output to a file, so that
# times runs in this shell: a subshell has reaped nothing.)
child_cpu() {
  times > "$tmp/times"
  awk 'NR == 2 {
    n = 0
    for (i = 1; i <= 2; i++) { split($i, t, "m"); n += t[1] * 60 + t[2] }
    printf "%.0f\n", n
  }' "$tmp/times"
}

# Seconds one Lua's whole suite may take (about 90 s here, 270 s under
# valgrind).
SPEC_TIMEOUT=${SPEC_TIMEOUT:-1500}
passed=0 failed=0 skipped=0
for lua in $LUAS; do
  case $lua in
    luajit) dir=luajit ;;
    *) dir=$lua ;;
  esac
  cpath=${SPEC_CPATH:-build/$dir/?.so}
  out="$tmp/$lua.tap"
  echo "== specs under $lua"
  t0=$(date +%s)
  child_cpu > "$tmp/cpu0"
  if [ -n "${SPEC_VALGRIND:-}" ]; then
    runner="valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite $lua /usr/bin/busted"
  else
    runner="busted --lua=$lua"
  fi
  # A hang (a spec, the library, or the Lua VM itself) becomes a failure
  # that names the case it hung after, not a CI job killed at its limit.
  LD_PRELOAD=${SPEC_PRELOAD:-} timeout --kill-after=10 "$SPEC_TIMEOUT" $runner -o TAP \
    --cpath="$cpath" ${SPEC_PATHS:-spec} > "$out" 2>&1
  rc=$?
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    echo "not ok - specs under $lua stopped after ${SPEC_TIMEOUT} s; the last case that ended: $(grep '^\(not \)\?ok ' "$out" | tail -n 1)" >> "$out"
  fi
  s=$(grep -c '^ok [0-9]* - # SKIP ' "$out")
  p=$(($(grep -c '^ok ' "$out") - s))
  f=$(grep -c '^not ok ' "$out")
  # A crash or a load error counts as a failure even if no case said so.
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
  grep -v '^ok ' "$out" | grep -v '^# *$' | head -200
  grep '^ok [0-9]* - # SKIP ' "$out" | sed 's/^ok [0-9]* - # SKIP /   skip: /' | head -50
  child_cpu > "$tmp/cpu1"
  echo "   $lua: $p passed, $f failed, $s skipped ($(($(date +%s) - t0)) s," \
    "CPU $(($(cat "$tmp/cpu1") - $(cat "$tmp/cpu0"))) s)"
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
done
[ "$skipped" = 0 ] || echo "$skipped skipped (pending; not counted as passed)"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
