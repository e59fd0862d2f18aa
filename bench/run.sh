#!/bin/sh
# bench/run.sh - `make bench`: mailauth side by side with libspf2, pyspf,
# OpenDKIM, dkimpy, a raw-OpenSSL floor, npm mailauth and Python
# authheaders, in one run, on the same inputs, every DNS answer from memory;
# and one row over the network: mailauth.check against Knot on loopback
# (BENCH_DNS_PORT, default 5356), every answer asked cold.  Prints the
# tables and writes them to bench/results.txt.  BENCH_SECONDS (default 1.2) is the CPU time of each
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
HAVE_CHECK_CAPI=$(build check_capi -Isrc $CORE_OBJS $LIBS)
HAVE_LIBSPF2=no; HAVE_OPENDKIM=no
[ -f /usr/include/spf2/spf.h ] && HAVE_LIBSPF2=$(build spf_libspf2 -lspf2)
[ -f /usr/include/opendkim/dkim.h ] && HAVE_OPENDKIM=$(build dkim_opendkim -I/usr/include/opendkim -lopendkim)
HAVE_FLOOR=$(build dkim_floor -lcrypto)
HAVE_PYSPF=no; HAVE_DKIMPY=no
$PY -c 'import spf' 2>/dev/null && HAVE_PYSPF=yes
$PY -c 'import dkim' 2>/dev/null && HAVE_DKIMPY=yes
HAVE_AUTHHEADERS=no; HAVE_NPM=no; HAVE_KNOT=no
$PY -c 'import authheaders, dns.zone' 2>/dev/null && HAVE_AUTHHEADERS=yes
command -v node >/dev/null 2>&1 && [ -d spec/support/npm/node_modules/mailauth ] && HAVE_NPM=yes
command -v knotd >/dev/null 2>&1 && command -v kdig >/dev/null 2>&1 && HAVE_KNOT=yes
# the zone map of the npm and authheaders rows needs dnspython
$PY -c 'import dns.zone' 2>/dev/null || HAVE_NPM=no

# ---- inputs --------------------------------------------------------------
$LUA bench/gen_zone.lua $OUT
openssl genrsa -out $OUT/dkim.key 2048 2>/dev/null
$PY bench/dkim_prep.py $OUT
$LUA bench/check_prep.lua $OUT >&2
$PY -c 'import dns.zone' 2>/dev/null && $PY bench/check_json.py $OUT

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
INTERP=$LUA; run mailauth-lua spf yes bench/spf_mailauth.lua plain $Z $C $RR
INTERP=$LUA; run mailauth-lua-received spf yes bench/spf_mailauth.lua received $Z $C $RR
INTERP=$LUA; run mailauth-lua-fn spf yes bench/spf_mailauth.lua luafn $Z $C $RR
INTERP=;     run mailauth-c   spf "$HAVE_SPF_CAPI" $OUT/spf_capi $Z $C
INTERP=;     run libspf2      spf "$HAVE_LIBSPF2" $OUT/spf_libspf2 zone $RR $C
INTERP=;     run libspf2-cache spf "$HAVE_LIBSPF2" $OUT/spf_libspf2 cache $RR $C
INTERP=$PY;  run pyspf        spf "$HAVE_PYSPF" bench/spf_pyspf.py $RR $C

# mailauth.check and its peers end to end, on the interop messages
ZL=$OUT/check.zonelist; MS=$OUT/check.msgs; NOW=$(cat $OUT/check.now); J=$OUT/check.json
INTERP=$LUA; run mailauth-lua check yes bench/check_mailauth.lua $ZL $MS $NOW
INTERP=;     run mailauth-c   check "$HAVE_CHECK_CAPI" $OUT/check_capi $ZL $MS $NOW
INTERP=node; run npm          check "$HAVE_NPM" bench/check_npm.js $J $MS
INTERP=$PY;  run authheaders  check "$HAVE_AUTHHEADERS" bench/check_authheaders.py $J $MS

# the same mailauth.check over the network: Knot on loopback, cache off;
# side by side with the module built with the ldns driver of BENCH_DNS_BASE
# (default bf0c018, a UDP socket per query): the same objects but
# src/dns/resolver.c of that commit.
BASE=${BENCH_DNS_BASE:-bf0c018}
HAVE_BASE=no
mkdir -p $OUT/base/mailauth
if git show "$BASE:src/dns/resolver.c" > $OUT/base/resolver.c 2>/dev/null &&
   gcc -std=c99 -O2 -fPIC -fvisibility=hidden -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -Isrc \
     -c $OUT/base/resolver.c -o $OUT/base/resolver.o 2>$OUT/base.build.log &&
   gcc -shared -o $OUT/base/mailauth/core.so $(echo $CORE_OBJS | tr ' ' '\n' | grep -v '/dns/resolver\.o$') \
     build/lua5.4/obj/lua/lmailauth.o $OUT/base/resolver.o $LIBS 2>>$OUT/base.build.log; then
  HAVE_BASE=yes
else
  note "bench: cannot build the $BASE resolver (see $OUT/base.build.log)"
fi
if [ "$HAVE_KNOT" = yes ]; then
  if MAILAUTH_TEST_DNS_PORT=${BENCH_DNS_PORT:-5356} sh spec/support/knot.sh start $OUT/knot >&2; then
    KNOT="127.0.0.1@$(cat $OUT/knot/port)"
    INTERP=$LUA; run mailauth-lua colddns yes bench/check_cold_dns.lua "$KNOT" spec/fixtures/interop
    INTERP="env LUA_CPATH=$OUT/base/?.so;; $LUA"
    run base colddns "$HAVE_BASE" bench/check_cold_dns.lua "$KNOT" spec/fixtures/interop
    # Rspamd: examples/rspamd (adapter.check) against its own modules
    if command -v rspamd >/dev/null 2>&1 && [ -f build/luajit/mailauth/core.so ]; then
      sh bench/rspamd_bench.sh $OUT "$KNOT" >&2 || echo "BENCH failed" > $OUT/rspamd.bench
    else
      echo "BENCH missing" > $OUT/rspamd.bench
    fi
  else
    echo "colddns mailauth-lua failed knot-did-not-start" >> $RAW
    echo "colddns base failed knot-did-not-start" >> $RAW
  fi
  sh spec/support/knot.sh stop $OUT/knot >/dev/null 2>&1 || true
else
  echo "colddns mailauth-lua missing not-installed" >> $RAW
  echo "colddns base missing not-installed" >> $RAW
fi
echo "$BASE" > $OUT/colddns.base

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
