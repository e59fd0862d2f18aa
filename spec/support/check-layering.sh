#!/bin/sh
# check-layering.sh [SRCDIR] - fails when the C tree breaks its layers.
#
# The folders of src/ are the architecture (README, "Layout"):
#   core/   shared by every protocol; pure: no network, no Lua
#   dns/    the only code doing I/O: ldns and sockets live here and nowhere else
#   spf/ dkim/ arc/ dmarc/ authres/ iprev.c   one protocol each
#   lua/    the binding: the only code that sees lua.h (it includes core/ and its own headers)
#   kinds.c the registry, the one file allowed to name every protocol
# and a few libraries each have one home: OpenSSL core/crypto.c, libpsl
# core/psl.c, libidn2 core/idn.c.  A protocol may include core/ headers,
# its own folder's headers and another protocol's interface header
# (<name>/<name>.h, e.g. dkim/dkim.h, which ARC builds on: RFC 8617 §5
# reuses DKIM's signing); any other header of a protocol folder is its
# internals.  Project headers are named with their folder ("core/tags.h"),
# so that an include says which layer it reaches into.
# Prints every violation as file:line: rule, exits 1 if any.
src=${1:-src}
cd "$src" || exit 2
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# confined PATTERN RULE HOME: PATTERN may appear only in files under HOME.
confined() {
  grep -rnE --include='*.[ch]' "$1" . | sed 's|^\./||' |
    awk -F: -v home="$3" -v rule="$2" -v src="$src" \
      'index($1, home) != 1 { print "layering: " src "/" $1 ":" $2 ": " rule }' >> "$out"
}
confined '#[[:space:]]*include[[:space:]]*[<"]ldns/|\<ldns_[a-z]' \
  "ldns outside src/dns" dns/
confined '#[[:space:]]*include[[:space:]]*<(sys/socket|netdb|poll|sys/select|sys/epoll)\.h>|\<(socket|connect|sendto|recvfrom|recv|send)[[:space:]]*\(' \
  "sockets outside src/dns" dns/
confined '#[[:space:]]*include[[:space:]]*[<"](lua|lauxlib|lualib|luajit)\.h[>"]|compat-5\.3\.h' \
  "lua.h outside src/lua" lua/
confined '#[[:space:]]*include[[:space:]]*<openssl/' \
  "OpenSSL outside src/core/crypto.c" core/crypto.c
confined '#[[:space:]]*include[[:space:]]*<libpsl\.h>' \
  "libpsl outside src/core/psl.c" core/psl.c
confined '#[[:space:]]*include[[:space:]]*<idn2\.h>' \
  "libidn2 outside src/core/idn.c" core/idn.c

# Which project headers each layer may include.
grep -rnE --include='*.[ch]' '#[[:space:]]*include[[:space:]]*"' . | sed 's|^\./||' |
  awk -v src="$src" '
  {
    split($0, part, ":"); file = part[1]; line = part[2]
    inc = $0; sub(/^[^"]*"/, "", inc); sub(/".*$/, "", inc)
    if (inc == "mailauth.h" || inc ~ /^(lua|lauxlib|lualib)\.h$/) next
    dir = file; if (sub(/\/[^\/]*$/, "", dir) == 0) dir = "."
    if (index(inc, "/") == 0) {
      why = "include \"" inc "\" names no folder (write \"<folder>/" inc "\")"
    } else {
      folder = inc; sub(/\/.*$/, "", folder)
      base = inc; sub(/^[^\/]*\//, "", base)
      why = ""
      if (dir == "core") {
        if (folder != "core") why = "core includes " inc
      } else if (dir == "dns") {
        if (folder != "core" && folder != "dns") why = "dns includes " inc
      } else if (dir == "lua") {
        if (folder != "core" && folder != "lua") why = "the binding includes " inc
      } else if (dir == ".") {
        # iprev.c is a protocol: core and protocol interface headers
        if (file != "kinds.c" && folder != "core" &&
            (folder == "dns" || folder == "lua" || base != folder ".h"))
          why = file " includes " inc
      } else if (folder != "core" && folder != dir) {
        if (folder == "dns" || folder == "lua")
          why = dir " includes " inc ": protocols ask, drivers answer"
        else if (base != folder ".h")
          why = dir " includes " inc ", internals of " folder
      }
    }
    if (why != "") print "layering: " src "/" file ":" line ": " why
  }' >> "$out"

if [ -s "$out" ]; then
  cat "$out" >&2
  exit 1
fi
echo "check-layering: $src keeps its layers"
