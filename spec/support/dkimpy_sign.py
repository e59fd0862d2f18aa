#!/usr/bin/python3
# Signs one message with dkimpy (Debian's python3-dkim), an implementation
# independent of mailauth, for the attack specs (spec/support/tenant.lua).
#   dkimpy_sign.py IN OUT KEYFILE SELECTOR DOMAIN HEADERS LENGTH TIMESTAMP
# HEADERS: comma-separated names for h= (signed once each: Exchange Online
# does not oversign); LENGTH 1 adds l=; TIMESTAMP is the t= to write
# (dkimpy takes t= from time.time(), so the clock is set for the call).
import sys
import time

import dkim


def main(argv):
    src, out, keyfile, selector, domain, headers, length, stamp = argv[1:9]
    with open(src, "rb") as f:
        msg = f.read()
    with open(keyfile, "rb") as f:
        key = f.read()
    t = int(stamp)
    time.time = lambda: t
    sig = dkim.sign(msg, selector.encode(), domain.encode(), key,
                    canonicalize=(b"relaxed", b"relaxed"),
                    include_headers=[h.encode() for h in headers.split(",")],
                    length=length == "1")
    with open(out, "wb") as f:
        f.write(sig + msg)


if __name__ == "__main__":
    main(sys.argv)
