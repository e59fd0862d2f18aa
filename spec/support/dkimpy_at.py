#!/usr/bin/python3
# dkimpy's (Debian's python3-dkim) view of one message at a given clock,
# for spec/dkim_evidence_spec.lua: does it verify, and why not (dkimpy
# judges x= against time.time(), so the clock is set for the call).
#   dkimpy_at.py MSG DNS NOW      DNS: "<name> <TXT value>" lines
# Prints "pass" or "fail: reason".
import logging
import sys
import time

import dkim


def main(argv):
    src, dnsfile, now = argv[1:4]
    with open(src, "rb") as f:
        msg = f.read()
    records = {}
    with open(dnsfile, "rb") as f:
        for line in f.read().splitlines():
            name, _, value = line.partition(b" ")
            records[name.rstrip(b".").lower() + b"."] = value
    t = int(now)
    time.time = lambda: t

    def dnsfunc(name, timeout=5):
        return records.get(name.lower())

    # dkim.verify logs why it returns False (x= past is a ValidationError
    # it catches): the log is the reason printed
    seen = []
    log = logging.getLogger("dkimpy_at")
    log.propagate = False
    log.addHandler(type("H", (logging.Handler,), {
        "emit": lambda self, r: seen.append(r.getMessage())})())
    log.setLevel(logging.DEBUG)
    try:
        ok = dkim.verify(msg, logger=log, dnsfunc=dnsfunc, minkey=1024)
        print("pass" if ok else "fail: " + " | ".join(seen))
    except Exception as e:  # dkimpy raises for x= in the past
        print("fail: %s" % e)


if __name__ == "__main__":
    main(sys.argv)
