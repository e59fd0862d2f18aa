#!/bin/sh
# make demo on a minimal Debian: a debootstrap --variant=minbase bookworm
# with nothing else, the checkout's committed tree (git archive HEAD)
# copied in, `deps.sh demo` run there (it needs the Debian mirror and
# nothing else: no npm), then `make demo` with no network at all (a network
# namespace of its own, unshare -n).  It checks what the demo printed for
# each message of examples/demo.lua: an Authentication-Results header and
# the verdict its expectation names, in order; and that no test-only
# package, node or npm got into the machine.
#   demo-minimal.sh [DIR]     (root; DIR default build/demo-minimal)
# The minbase is kept in DIR/base and copied fresh for each run; delete
# DIR to start from debootstrap again.  MIRROR overrides the mirror found
# in the apt sources.  Needs debootstrap (deps.sh minimal), chroot and
# unshare (util-linux).
set -eu
cd "$(dirname "$0")/../.."
dir=${1:-build/demo-minimal}
say() { echo "demo-minimal: $*"; }
fail() { echo "demo-minimal: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (debootstrap, chroot, unshare -n)"
command -v debootstrap >/dev/null || fail "no debootstrap (sh spec/support/deps.sh minimal)"
unshare -n true 2>/dev/null || fail "unshare -n does not work here"

# The Debian archive of the apt sources (one-line or deb822 form), not the
# security one nor any third-party repository.
find_mirror() {
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
      2>/dev/null |
    sed -n -e 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\) .*/\2/p' -e 's/^URIs: *//p' |
    tr ' ' '\n' | grep -E '/debian/?$' | head -n 1
}
mirror=${MIRROR:-$(find_mirror)}
[ -n "$mirror" ] || fail "no Debian mirror in /etc/apt/sources.list*; give MIRROR=URL"

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
root=$dir/root
cleanup() {
  umount "$root/proc" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

if [ ! -f "$dir/base/.minbase-done" ]; then
  say "debootstrap --variant=minbase bookworm from $mirror"
  rm -rf "$dir/base"
  debootstrap --variant=minbase bookworm "$dir/base" "$mirror" >"$dir/debootstrap.log" 2>&1 ||
    { tail -n 20 "$dir/debootstrap.log" >&2; fail "debootstrap failed (log: $dir/debootstrap.log)"; }
  touch "$dir/base/.minbase-done"
fi
rm -rf "$root"
cp -a "$dir/base" "$root"
mkdir "$root/src"
git archive --format=tar HEAD | tar -x -C "$root/src"
# apt in the chroot reaches the mirror as apt here does
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"

say "deps.sh demo (the mirror only)"
chroot "$root" /bin/sh -c 'cd /src && sh spec/support/deps.sh demo' >"$dir/deps.log" 2>&1 ||
  { tail -n 20 "$dir/deps.log" >&2; fail "deps.sh demo failed (log: $dir/deps.log)"; }

# Only the demo's packages: none of the test set, no node, no npm.
demo_set=" $(sh spec/support/deps.sh --list demo | tr '\n' ' ') "
for p in $(sh spec/support/deps.sh --list); do
  case $demo_set in *" $p "*) continue ;; esac
  # shellcheck disable=SC2016
  if chroot "$root" dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    fail "the test-only package $p got installed"
  fi
done
for c in node npm; do
  chroot "$root" /bin/sh -c "command -v $c" >/dev/null 2>&1 && fail "$c is in the machine"
done

say "make demo with no network (unshare -n)"
status=0
unshare -n chroot "$root" /bin/sh -c 'cd /src && make demo' >"$dir/demo.out" 2>"$dir/demo.err" ||
  status=$?
[ "$status" = 0 ] || { cat "$dir/demo.err" >&2; fail "make demo exited $status"; }

# What the demo printed, message by message: the title, an
# Authentication-Results header, and the verdict examples/demo.lua expects.
grep -o 'title = "[^"]*"' examples/demo.lua | sed 's/^title = "\(.*\)"$/== \1/' >"$dir/want.titles"
grep -o 'verdict = "[a-z]*"' examples/demo.lua | sed 's/^verdict = "\(.*\)"$/\1/' |
  tr '[:lower:]' '[:upper:]' >"$dir/want.verdicts"
n=$(wc -l <"$dir/want.titles")
if [ "$n" = 0 ] || [ "$(wc -l <"$dir/want.verdicts")" != "$n" ]; then
  fail "examples/demo.lua: $n titles, $(wc -l <"$dir/want.verdicts") verdicts"
fi
grep '^== ' "$dir/demo.out" >"$dir/got.titles" || true
sed -n 's/^   verdict  \([A-Z]*\): .*/\1/p' "$dir/demo.out" >"$dir/got.verdicts"
awk '/^== /{ t = $0 } /^   Authentication-Results: mx\.example\.net;$/{ if (t) print t; t = "" }' \
  "$dir/demo.out" >"$dir/got.headers"
cmp -s "$dir/want.titles" "$dir/got.titles" ||
  { diff "$dir/want.titles" "$dir/got.titles" >&2; fail "the messages checked differ"; }
cmp -s "$dir/want.titles" "$dir/got.headers" ||
  { diff "$dir/want.titles" "$dir/got.headers" >&2; fail "a message has no Authentication-Results"; }
cmp -s "$dir/want.verdicts" "$dir/got.verdicts" ||
  { diff "$dir/want.verdicts" "$dir/got.verdicts" >&2; fail "the verdicts differ"; }
say "ok: $n messages, each with Authentication-Results and its verdict ($(tr '\n' ' ' <"$dir/got.verdicts")), offline"
