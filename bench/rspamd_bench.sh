#!/bin/sh
# bench/rspamd_bench.sh OUT NAMESERVER(host@port): messages per CPU second
# of a real Rspamd 3.4 worker (LuaJIT) scanning the interop messages
# (spec/fixtures/interop, with their envelopes) two ways, one after the
# other in one run: (a) examples/rspamd's rule alone (adapter.check: iprev,
# SPF, DKIM, DMARC, ARC), (b) Rspamd's own spf, dkim, dmarc and arc
# modules alone.  The worker's user + system time is read from
# /proc/PID/stat before and after ROUNDS passes (after one warm-up pass:
# both sides keep DNS/key caches).  Writes "BENCH rate_a rate_b msgs" to
# OUT/rspamd.bench.  Needs build/luajit (make LUA=luajit).
set -eu
OUT=$1; NS=$2
ROUNDS=${RSPAMD_BENCH_ROUNDS:-3}
ROOT=$(pwd)
PORT=${RSPAMD_BENCH_PORT:-11633}
host=${NS%@*}; port=${NS#*@}
D=$OUT/rspamd
rm -rf "$D"; mkdir -p "$D"
TCK=$(getconf CLK_TCK)

conf() { # name, extra config, extra options (spec/support/rspamd_conf.lua: the specs' config)
  mkdir -p "$D/$1"
  lua5.4 spec/support/rspamd_conf.lua "$D/$1" "$host:$port" "$PORT" error "$3" "$2" > "$D/$1/rspamd.conf"
}
conf mailauth "mailauth {
  .include \"$ROOT/examples/rspamd/mailauth.conf\"
  lua_path = \"$ROOT/lua/?.lua;$ROOT/lua/?/init.lua\";
  lua_cpath = \"$ROOT/build/luajit/?.so\";
}
lua = \"$ROOT/examples/rspamd/mailauth.lua\";" ""
conf modules 'modules { path = "/usr/share/rspamd/plugins"; }
spf { }
dkim { }
dmarc { }
arc { }' 'filters = "dkim";'

# the rspamc command lines, one per message
LIST=$D/scans
lua5.4 -e '
local m = dofile("spec/fixtures/interop/manifest.lua")
for _, x in ipairs(m.messages) do
  print(("-i %s --helo %s -F %s spec/fixtures/interop/%s.eml"):format(x.ip, x.helo, x.sender, x.id))
end' > "$LIST"
N=$(wc -l < "$LIST")

cpu() { # pid -> utime+stime ticks
  awk '{ print $14 + $15 }' "/proc/$1/stat"
}

measure() { # name -> messages per CPU second of the worker
  rspamd -f -i -u root -g root -c "$D/$1/rspamd.conf" > "$D/$1/log/stdout" 2>&1 &
  main=$!
  i=0
  until curl -s "http://127.0.0.1:$PORT/ping" | grep -q pong; do
    i=$((i + 1)); [ $i -gt 600 ] && { kill $main; echo 0; return; }
    sleep 0.1
  done
  worker=$(ps -o pid= -o args= --ppid $main | awk '/normal/ { print $1; exit }')
  pass() { while read -r line; do eval "rspamc -h 127.0.0.1:$PORT $line" > /dev/null; done < "$LIST"; }
  pass
  t0=$(cpu "$worker")
  r=0
  while [ $r -lt "$ROUNDS" ]; do pass; r=$((r + 1)); done
  t1=$(cpu "$worker")
  kill $main; wait $main 2>/dev/null || true
  awk -v n=$((N * ROUNDS)) -v t=$((t1 - t0)) -v hz="$TCK" 'BEGIN { if (t <= 0) t = 1; printf "%.0f\n", n / (t / hz) }'
}
A=$(measure mailauth)
B=$(measure modules)
echo "BENCH $A $B $N" > "$OUT/rspamd.bench"
echo "BENCH $A $B $N"
