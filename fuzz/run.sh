#!/bin/sh
# fuzz/run.sh SECONDS [NAME...] - builds each libFuzzer target
# fuzz/fuzz_<name>.c into fuzz/bin/ and runs it SECONDS seconds, one after
# the other, with the corpus fuzz/corpus-<name>/ (not committed) seeded
# from fuzz/seeds/<name>/ (the project's own seeds) and build/fuzz-seeds/
# <name>/ (made here, each run, from other projects' test data in
# ../shared/testdata when it is there: fuzz/seeds-from-testdata.py), and
# the dictionary fuzz/dicts/<name>.dict when there is one.  Without NAMEs every target runs.  Exits non-zero when a
# target fails to build or finds a crash, leak or timeout; the input that
# did it is left in fuzz/artifacts/.
#
# FUZZ_CORPUS_ROOT=dir (make fuzz-long: build/fuzz-corpus) keeps each
# corpus in dir/<name>/ instead, and adds each run's executions to
# dir/<name>.execs, so that runs add up over time; the summary then shows
# the sum so far next to this run's count.
#
# A new target is one file: fuzz/fuzz_<name>.c (plus seeds).  It links
# with the core and driver sources and libraries the Makefile lists
# (make print-srcs / print-libs), so new protocol files are picked up.
set -u
cd "$(dirname "$0")/.." || exit 2
secs=${1:-60}
[ $# -gt 0 ] && shift
CC=${FUZZ_CC:-clang}
MAKE=${MAKE:-make}
srcs=$($MAKE -s --no-print-directory print-srcs) || exit 2
libs=$($MAKE -s --no-print-directory print-libs) || exit 2
FLAGS="-std=c99 -g -O1 -fno-omit-frame-pointer
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
  -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Isrc -Ifuzz
  -Wall -Wextra -Werror -Wno-unused-function"

if [ $# -gt 0 ]; then
  names=$*
else
  names=$(for f in fuzz/fuzz_*.c; do basename "$f" .c | sed 's/^fuzz_//'; done)
fi
mkdir -p fuzz/bin fuzz/artifacts
# The test data stays where it is; seeds made from it are never committed.
shared_seeds=build/fuzz-seeds
rm -rf "$shared_seeds"
if /usr/bin/python3 -c 'import yaml' 2>/dev/null; then
  /usr/bin/python3 fuzz/seeds-from-testdata.py "$shared_seeds" ||
    { echo "fuzz: fuzz/seeds-from-testdata.py failed" >&2; exit 2; }
else
  echo "fuzz: no /usr/bin/python3 with python3-yaml: the committed seeds only"
fi
status=0
summary=""
for name in $names; do
  src=fuzz/fuzz_$name.c bin=fuzz/bin/fuzz_$name log=fuzz/bin/fuzz_$name.log
  if [ ! -f "$src" ]; then
    echo "fuzz: no target $src" >&2; status=1; continue
  fi
  echo "== fuzz_$name: build"
  # shellcheck disable=SC2086
  if ! $CC $FLAGS "$src" $srcs -o "$bin" $libs; then
    summary="$summary
fuzz_$name: BUILD FAILED"
    status=1; continue
  fi
  corpus=fuzz/corpus-$name
  [ -n "${FUZZ_CORPUS_ROOT:-}" ] && corpus=$FUZZ_CORPUS_ROOT/$name
  mkdir -p "$corpus"
  set -- "$corpus"
  [ -d "fuzz/seeds/$name" ] && set -- "$@" "fuzz/seeds/$name"
  [ -d "$shared_seeds/$name" ] && set -- "$@" "$shared_seeds/$name"
  dict=""
  [ -f "fuzz/dicts/$name.dict" ] && dict="-dict=fuzz/dicts/$name.dict"
  echo "== fuzz_$name: $secs s (log $log)"
  # shellcheck disable=SC2086
  # FUZZ_SEED: a fixed libFuzzer seed (CI), so a run can be repeated
  seed=""
  [ -n "${FUZZ_SEED:-}" ] && seed="-seed=$FUZZ_SEED"
  # shellcheck disable=SC2086
  "$bin" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 $seed \
    -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$name-" \
    $dict "$@" > "$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  secs_run=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
  sofar=""
  if [ -n "${FUZZ_CORPUS_ROOT:-}" ] && [ -n "$execs" ]; then
    total=$(( $(cat "$FUZZ_CORPUS_ROOT/$name.execs" 2>/dev/null || echo 0) + execs ))
    echo "$total" > "$FUZZ_CORPUS_ROOT/$name.execs"
    sofar=", $total runs so far"
  fi
  if [ "$rc" = 0 ]; then
    line="fuzz_$name: ok, ${execs:-?} runs (${secs_run:-?}/s)$sofar, $cov, corpus $(ls "$corpus" | wc -l)"
  else
    line="fuzz_$name: FAILED (exit $rc); see $log and fuzz/artifacts/"
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*assertion failed|.*runtime error)' "$log" | head -n 5
    status=1
  fi
  echo "$line"
  summary="$summary
$line"
done
echo "== fuzz summary:$summary"
exit $status
