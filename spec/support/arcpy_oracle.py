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
import os
import sys

import dkim

d = sys.argv[1]
dns = {}
with open(os.path.join(d, "dns.txt"), "rb") as f:
    for line in f:
        line = line.rstrip(b"\r\n")
        if line:
            name, value = line.split(b" ", 1)
            dns[name.lower().rstrip(b".")] = value


def dnsfunc(name, timeout=5):
    if isinstance(name, str):
        name = name.encode()
    return dns.get(name.lower().rstrip(b"."))


def path(p):
    return os.path.join(d, p)


with open(path("jobs.txt")) as jobs:
    for job in jobs:
        f = job.rstrip("\n").split("\t")
        if not f or not f[0]:
            continue
        with open(path(f[1]), "rb") as m:
            msg = m.read()
        if f[0] == "seal":
            with open(path(f[3]), "rb") as k:
                key = k.read().strip()
            try:
                hdrs = dkim.arc_sign(msg, f[4].encode(), f[5].encode(), key,
                                     f[6].encode(), timestamp=int(f[7]))
                out = b"".join(hdrs) + msg if hdrs else b"none"
            except Exception as e:  # reported, the spec fails on it
                out = ("error: %s" % e).encode()
        else:
            try:
                cv, _results, reason = dkim.arc_verify(msg, dnsfunc=dnsfunc)
                out = cv + b" " + str(reason).encode()
            except Exception as e:
                out = ("fail: %s" % e).encode()
        with open(path(f[2]), "wb") as o:
            o.write(out)
