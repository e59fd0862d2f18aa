#!/usr/bin/python3
# Differential ARC oracle for spec/arc_interop_spec.lua: dkimpy (Debian's
# python3-dkim with python3-authres) seals and validates, fully offline.
#   arcpy_oracle.py DIR
# DIR/dns.txt: "<name> <TXT value>" lines served to dkimpy's dnsfunc.
# DIR/jobs.txt: one job per line, tab-separated:
#   seal   IN OUT KEYFILE SELECTOR DOMAIN SRV_ID TIMESTAMP
#   verify IN OUT
# seal writes the new ARC set followed by the message ("error: ..." when
# dkimpy raises, "none" when it adds no set); verify writes the chain
# validation status dkimpy gives (pass / fail / none) and its reason.
import sys

import dkim

import oracle_jobs


def handle(f, msg, read, dnsfunc):
    if f[0] == "seal":
        key = read(f[3]).strip()
        try:
            hdrs = dkim.arc_sign(msg, f[4].encode(), f[5].encode(), key,
                                 f[6].encode(), timestamp=int(f[7]))
            return b"".join(hdrs) + msg if hdrs else b"none"
        except Exception as e:  # reported, the spec fails on it
            return ("error: %s" % e).encode()
    try:
        cv, _results, reason = dkim.arc_verify(msg, dnsfunc=dnsfunc)
        return cv + b" " + str(reason).encode()
    except Exception as e:
        return ("fail: %s" % e).encode()


oracle_jobs.run(sys.argv[1], handle)
