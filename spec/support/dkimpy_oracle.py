#!/usr/bin/python3
# Differential oracle for spec/dkim_interop_spec.lua: dkimpy (Debian's
# python3-dkim, python3-nacl) signs and verifies, fully offline.
#   dkimpy_oracle.py DIR
# DIR/dns.txt: "<name> <TXT value>" lines served to dkim.verify's dnsfunc.
# DIR/jobs.txt: one job per line, tab-separated:
#   sign   IN OUT KEYFILE SELECTOR DOMAIN ALG CANON LENGTH(0|1)
#   verify IN OUT
# sign writes the signed message; verify writes "pass" or "fail: reason".
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
        if f[0] == "sign":
            with open(path(f[3]), "rb") as k:
                key = k.read().strip()
            hc, bc = f[7].split("/")
            try:
                sig = dkim.sign(msg, f[4].encode(), f[5].encode(), key,
                                canonicalize=(hc.encode(), bc.encode()),
                                signature_algorithm=f[6].encode(),
                                length=f[8] == "1")
                out = sig + msg
            except Exception as e:  # reported, the spec fails on it
                out = ("error: %s" % e).encode()
        else:
            try:
                ok = dkim.verify(msg, dnsfunc=dnsfunc)
                out = b"pass" if ok else b"fail: verify returned False"
            except Exception as e:  # body hash mismatch raises
                out = ("fail: %s" % e).encode()
        with open(path(f[2]), "wb") as o:
            o.write(out)
