#!/bin/sh
# Runs every spec under each Lua given ("lua5.4 lua5.3 luajit"), with Knot
# DNS serving spec/fixtures/zones on 127.0.0.1 for the integration specs,
# and ends with one line "N passed, N failed" summed over all of them.
# Pending cases (busted's "ok N - # SKIP ...", e.g. a spec whose
# ../shared/testdata/ folder is absent) are shown, counted apart and not
# as passed.
# Knot is stopped on every exit path.
set -u
cd "$(dirname "$0")/../.." || exit 2
LUAS=${*:-lua5.4}
tmp=$(mktemp -d /tmp/mailauth-specs.XXXXXX)
trap 'sh spec/support/knot.sh stop "$tmp/knot" >/dev/null 2>&1; rm -rf "$tmp"' EXIT INT TERM

if ! sh spec/support/knot.sh start "$tmp/knot"; then
  echo "run-specs: Knot DNS did not start; see $tmp/knot/knot.log" >&2
  cat "$tmp/knot/knot.log" >&2 2>/dev/null
  echo "0 passed, 1 failed"
  exit 1
fi
MAILAUTH_TEST_NS="127.0.0.1@$(cat "$tmp/knot/port")"
export MAILAUTH_TEST_NS

passed=0 failed=0 skipped=0
for lua in $LUAS; do
  case $lua in
    luajit) dir=luajit ;;
    *) dir=$lua ;;
  esac
  cpath=${SPEC_CPATH:-build/$dir/?.so}
  out="$tmp/$lua.tap"
  echo "== specs under $lua"
  if [ -n "${SPEC_VALGRIND:-}" ]; then
    runner="valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite $lua /usr/bin/busted"
  else
    runner="busted --lua=$lua"
  fi
  LD_PRELOAD=${SPEC_PRELOAD:-} $runner -o TAP \
    --cpath="$cpath" spec > "$out" 2>&1
  rc=$?
  s=$(grep -c '^ok [0-9]* - # SKIP ' "$out")
  p=$(($(grep -c '^ok ' "$out") - s))
  f=$(grep -c '^not ok ' "$out")
  # A crash or a load error counts as a failure even if no case said so.
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
  grep -v '^ok ' "$out" | grep -v '^# *$' | head -200
  grep '^ok [0-9]* - # SKIP ' "$out" | sed 's/^ok [0-9]* - # SKIP /   skip: /' | head -50
  echo "   $lua: $p passed, $f failed, $s skipped"
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
done
[ "$skipped" = 0 ] || echo "$skipped skipped (pending; not counted as passed)"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
