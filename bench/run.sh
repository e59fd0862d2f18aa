#!/bin/sh
# bench/run.sh - `make bench`: mailauth side by side with libspf2, pyspf,
# OpenDKIM, dkimpy and a raw-OpenSSL floor, in one run, on the same inputs,
# every DNS answer from memory.  Prints the tables and writes them to
# bench/results.txt.  BENCH_SECONDS (default 1.2) is the CPU time of each
# of the 3 timed rounds per measurement (best round kept); with the shared
# 2-core machine the whole run then takes about 2-3 minutes of wall time.
# Expects build/lua5.4 to be built (make bench does it first).
set -eu
cd "$(dirname "$0")/.."
OUT=build/bench
SECS=${BENCH_SECONDS:-1.2}
PY=/usr/bin/python3          # the Debian oracles live only there
LUA=lua5.4
export LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='build/lua5.4/?.so;;'
sh bench/deps.sh >&2
mkdir -p $OUT
RAW=$OUT/results.raw
: > $RAW
START=$(date +%s)

note() { printf '%s\n' "$*" >&2; }

# ---- build the C drivers -------------------------------------------------
CFLAGS="-std=c99 -O2 -Wall -Wextra -Werror -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L"
# The objects of the sources the Makefile lists (never a stale one).
CORE_OBJS=$(make -s --no-print-directory print-srcs | tr ' ' '\n' | sed 's|^src/|build/lua5.4/obj/|; s|\.c$|.o|')
# The libraries the core links with, as the Makefile says (new protocols may add some).
LIBS=$(make -s --no-print-directory --eval 'bench-print-libs: ; @echo $(LIBS)' bench-print-libs)
build() { # name, extra args...
  name=$1; shift
  if gcc $CFLAGS -o $OUT/$name bench/$name.c "$@" 2>$OUT/$name.build.log; then
    echo yes
  else
    note "bench: cannot build $name (see $OUT/$name.build.log)"; echo no
  fi
}
HAVE_SPF_CAPI=$(build spf_capi -Isrc $CORE_OBJS $LIBS)
HAVE_DKIM_CAPI=$(build dkim_capi -Isrc $CORE_OBJS $LIBS)
HAVE_LIBSPF2=no; HAVE_OPENDKIM=no
[ -f /usr/include/spf2/spf.h ] && HAVE_LIBSPF2=$(build spf_libspf2 -lspf2)
[ -f /usr/include/opendkim/dkim.h ] && HAVE_OPENDKIM=$(build dkim_opendkim -I/usr/include/opendkim -lopendkim)
HAVE_FLOOR=$(build dkim_floor -lcrypto)
HAVE_PYSPF=no; HAVE_DKIMPY=no
$PY -c 'import spf' 2>/dev/null && HAVE_PYSPF=yes
$PY -c 'import dkim' 2>/dev/null && HAVE_DKIMPY=yes

# ---- inputs --------------------------------------------------------------
$LUA bench/gen_zone.lua $OUT
openssl genrsa -out $OUT/dkim.key 2048 2>/dev/null
$PY bench/dkim_prep.py $OUT

# ---- one implementation: check, then time --------------------------------
# run ID PROTO AVAILABLE command...   (the command takes check|bench SECONDS as its first args)
run() {
  id=$1; proto=$2; avail=$3; shift 3
  if [ "$avail" != yes ]; then
    echo "$proto $id missing not-installed" >> $RAW; return
  fi
  note "bench: $proto $id"
  prog=$1; shift
  set +e
  $INTERP $prog check "$@" > $OUT/$proto.$id.check 2>$OUT/$proto.$id.err
  rc=$?
  set -e
  if [ $rc -ne 0 ]; then
    echo "$proto $id failed rc=$rc" >> $RAW; return
  fi
  if grep -q '^UNAVAILABLE' $OUT/$proto.$id.check; then
    echo "$proto $id unavailable" >> $RAW; return
  fi
  set +e
  /usr/bin/time -f '%M' -o $OUT/$proto.$id.rss $INTERP $prog bench $SECS "$@" > $OUT/$proto.$id.bench 2>>$OUT/$proto.$id.err
  rc=$?
  set -e
  if [ $rc -ne 0 ] || ! grep -q '^BENCH' $OUT/$proto.$id.bench; then
    echo "$proto $id failed rc=$rc" >> $RAW; return
  fi
  echo "$proto $id ok $(tail -n 1 $OUT/$proto.$id.rss) $(sed -n 's/^BENCH //p' $OUT/$proto.$id.bench)" >> $RAW
}

Z=$OUT/spf.zone; RR=$OUT/spf.rr; C=$OUT/spf.cases
INTERP=$LUA; run mailauth-lua spf yes bench/spf_mailauth.lua $Z $C
INTERP=;     run mailauth-c   spf "$HAVE_SPF_CAPI" $OUT/spf_capi $Z $C
INTERP=;     run libspf2      spf "$HAVE_LIBSPF2" $OUT/spf_libspf2 $RR $C
INTERP=$PY;  run pyspf        spf "$HAVE_PYSPF" bench/spf_pyspf.py $RR $C

for m in 4k 1m; do
  M=$OUT/dkim-$m.eml
  INTERP=$LUA; run mailauth-lua dkim-$m yes bench/dkim_mailauth.lua $M $OUT/dkim.zone
  INTERP=;     run mailauth-c   dkim-$m "$HAVE_DKIM_CAPI" $OUT/dkim_capi $M $OUT/dkim.zone
  INTERP=;     run opendkim     dkim-$m "$HAVE_OPENDKIM" $OUT/dkim_opendkim $M $OUT/dkim.keyfile
  INTERP=$PY;  run dkimpy       dkim-$m "$HAVE_DKIMPY" bench/dkim_dkimpy.py $M $OUT/dkim.txt
  INTERP=;     run floor        dkim-$m "$HAVE_FLOOR" $OUT/dkim_floor $M $OUT/dkim.txt
  INTERP=;     run floor-key    dkim-$m "$HAVE_FLOOR" $OUT/dkim_floor $M $OUT/dkim.txt parse-key
  INTERP=;     run floor-pkcs1  dkim-$m "$HAVE_FLOOR" $OUT/dkim_floor $M $OUT/dkim.txt parse-pkcs1
  INTERP=;     run floor-ctx    dkim-$m "$HAVE_FLOOR" $OUT/dkim_floor $M $OUT/dkim.txt reuse-ctx
done

$LUA bench/report.lua $OUT $(( $(date +%s) - START )) "$SECS" > bench/results.txt
cat bench/results.txt
