#!/usr/bin/python3
# Differential oracle for spec/dkim_interop_spec.lua: dkimpy (Debian's
# python3-dkim, python3-nacl) signs and verifies, fully offline.
#   dkimpy_oracle.py DIR
# DIR/dns.txt: "<name> <TXT value>" lines served to dkim.verify's dnsfunc.
# DIR/jobs.txt: one job per line, tab-separated:
#   sign   IN OUT KEYFILE SELECTOR DOMAIN ALG CANON LENGTH(0|1)
#   verify IN OUT
# sign writes the signed message; verify writes "pass" or "fail: reason".
import sys

import dkim

import oracle_jobs


def handle(f, msg, read, dnsfunc):
    if f[0] == "sign":
        key = read(f[3]).strip()
        hc, bc = f[7].split("/")
        try:
            sig = dkim.sign(msg, f[4].encode(), f[5].encode(), key,
                            canonicalize=(hc.encode(), bc.encode()),
                            signature_algorithm=f[6].encode(),
                            length=f[8] == "1")
            return sig + msg
        except Exception as e:  # reported, the spec fails on it
            return ("error: %s" % e).encode()
    try:
        ok = dkim.verify(msg, dnsfunc=dnsfunc)
        return b"pass" if ok else b"fail: verify returned False"
    except Exception as e:  # body hash mismatch raises
        return ("fail: %s" % e).encode()


oracle_jobs.run(sys.argv[1], handle)
