#!/usr/bin/python3
"""Writes the committed seeds of the text-driven targets (dmarc, authres)
that the project wrote itself: DMARC records from RFC 7489 appendix B,
DMARC checks in the layout fuzz/fuzz_dmarc.c documents, and hand-made
authres inputs.  Deterministic; run with Debian's /usr/bin/python3 from
anywhere.  The seeds from other projects' cases (authres/*.yml, the
authheaders records) are made at fuzz time into build/fuzz-seeds/ by
fuzz/seeds-from-testdata.py and never committed.
"""
import functools

import seedfiles

put = functools.partial(seedfiles.put, encoding="utf-8")

# ---- authres ----
# the 0xff prefix: the text repeated to k * 512 bytes (near the 64 KiB limit)
put("authres", "regress-quoted-alloc", b"\xff\x7f" + b" \"\"")
put("authres", "repeat-results", b"\xff\x7f" + b"x; spf=pass smtp.mailfrom=a@example.com ")

# ---- dmarc: records for the parser ----
RFC7489 = [
    "v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com",
    "v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com; "
    "ruf=mailto:auth-reports@example.com",
    "v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com; "
    "ruf=mailto:auth-reports@thirdparty.example.net",
    "v=DMARC1; p=quarantine; rua=mailto:dmarc-feedback@example.com,"
    "mailto:tld-test@thirdparty.example.net!10m; pct=25",
    "v=DMARC1; p=reject; adkim=s; aspf=s; sp=quarantine; np=none; psd=n; t=y; "
    "fo=1; rf=afrf; ri=86400",
]
recs = list(RFC7489)
for i, r in enumerate(recs):
    put("dmarc", "record-%02d" % i, r)

# ---- dmarc: checks ----
# domains[] / words[] / records[] indexes of fuzz_dmarc.c
EXAMPLE_COM, MAIL_EXAMPLE_COM, ABMAIL, EXAMPLE_ORG = 0, 1, 2, 3
EXAMPLE_BIZ, XYZ_BIZ, AGENCY_GOV, LONG = 13, 14, 12, 15
PASS, FAIL = 0, 1
NX = bytes([3, 1, 0])
SERVFAIL = bytes([4, 1, 0])


def txt(*recs):
    """NOERROR with known records (kind 0, index)."""
    out = bytes([0, 1, len(recs)])
    for r in recs:
        out += bytes([0, r, 0])
    return out


def head(flags, frm, spf_domain, spf_result, dkim=(), roll=None):
    out = bytes([flags])
    if roll is not None:
        out += bytes([roll])
    out += bytes([frm, spf_domain, spf_result, len(dkim)])
    for word, dom in dkim:
        out += bytes([word, dom])
    return out


put("dmarc", "psl-pass-relaxed", head(0, MAIL_EXAMPLE_COM, EXAMPLE_COM, PASS) + NX + txt(2))
put("dmarc", "psl-fail-pct", head(2, MAIL_EXAMPLE_COM, EXAMPLE_ORG, PASS, roll=30) + NX + txt(2))
put("dmarc", "psl-np", head(0, ABMAIL, EXAMPLE_ORG, FAIL) + NX + txt(5) + NX * 3)
put("dmarc", "psl-np-exists", head(0, ABMAIL, EXAMPLE_ORG, FAIL) + NX + txt(5) +
    bytes([0, 1, 1, 5, 1, 0]) + NX * 2)
put("dmarc", "psl-temp", head(0, EXAMPLE_COM, EXAMPLE_COM, PASS) + SERVFAIL)
put("dmarc", "psl-multi", head(0, EXAMPLE_COM, EXAMPLE_COM, PASS) + txt(4, 9))
put("dmarc", "psl-strict-dkim", head(0, MAIL_EXAMPLE_COM, EXAMPLE_ORG, FAIL,
                                     [(PASS, EXAMPLE_COM)]) + txt(9) + NX)
put("dmarc", "psl-huge", head(0, EXAMPLE_COM, EXAMPLE_COM, PASS) + bytes([0, 1, 1, 3, 6, 0]))
put("dmarc", "psl-huge-far", head(0, EXAMPLE_COM, EXAMPLE_COM, PASS) + bytes([0, 1, 1, 3, 0x90, 0]))
put("dmarc", "psl-nul", head(0, EXAMPLE_COM, EXAMPLE_COM, PASS) + bytes([0, 1, 1, 4, 3, 5, 0]))
put("dmarc", "psl-raw", head(0, EXAMPLE_COM, EXAMPLE_COM, PASS) + bytes([0, 1, 1, 1, 20]) +
    b" p=reject; pct=200; " + bytes([0]))
put("dmarc", "psl-no-p", head(0, EXAMPLE_COM, EXAMPLE_COM, PASS) + txt(6))
put("dmarc", "psl-long-from", head(0, LONG, EXAMPLE_COM, PASS) + NX + NX)
put("dmarc", "from-list-distinct", bytes([4, 2, EXAMPLE_COM, EXAMPLE_ORG, 0, 0, 0]))
put("dmarc", "from-list-same", bytes([4, 2, EXAMPLE_COM, EXAMPLE_COM, 0, 0, 0]) + txt(0))
put("dmarc", "tree-biz", head(1, XYZ_BIZ, EXAMPLE_BIZ, FAIL, [(PASS, EXAMPLE_BIZ)]) +
    NX * 3 + txt(5) + NX)
put("dmarc", "tree-gov-psd", head(1, AGENCY_GOV, AGENCY_GOV, PASS) + NX + txt(8))
put("dmarc", "tree-psd-n", head(1, ABMAIL, EXAMPLE_COM, PASS) + NX * 2 + txt(10) + NX * 2)
