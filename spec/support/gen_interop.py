#!/usr/bin/python3
# Generates the npm-interop fixtures: the zones interop.example,
# interop-other.example and 100.51.198.in-addr.arpa (spec/fixtures/zones/),
# DKIM-signed messages (spec/fixtures/interop/*.eml) and their manifest
# (spec/fixtures/interop/manifest.lua: ip/helo/sender per message).
#
#   /usr/bin/python3 spec/support/gen_interop.py      (needs python3-dkim,
#   python3-nacl and python3-cryptography, which dkimpy pulls in)
#
# Reproducible: every key and every byte comes from random.Random(SEED) and
# the fixed clock NOW, so running it again rewrites identical files.  The
# signatures carry t=NOW-60 and no x=, so they never expire.
# Signing is dkimpy's (an independent implementation), not mailauth's.
import base64
import os
import random
import sys

import dkim
import nacl.signing
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

SEED = 20261126
NOW = 1764000000          # 2025-11-24T16:00:00Z; the spec passes the same `now`
rng = random.Random(SEED)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
ZONES = os.path.join(ROOT, "spec", "fixtures", "zones")
OUT = os.path.join(ROOT, "spec", "fixtures", "interop")

# dkimpy stamps t= from time.time(): pin it.
dkim.time.time = lambda: NOW - 60


# ---- deterministic keys -------------------------------------------------
def is_probable_prime(n, rounds=40):
    if n < 2:
        return False
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for _ in range(rounds):
        a = rng.randrange(2, n - 2)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def prime(bits):
    while True:
        c = rng.getrandbits(bits) | (3 << (bits - 2)) | 1
        if c % 65537 != 1 and is_probable_prime(c):
            return c


def rsa_key(bits):
    e = 65537
    p, q = prime(bits // 2), prime(bits // 2)
    if p < q:
        p, q = q, p
    d = pow(e, -1, (p - 1) * (q - 1))
    pub = rsa.RSAPublicNumbers(e, p * q)
    priv = rsa.RSAPrivateNumbers(p, q, d, d % (p - 1), d % (q - 1),
                                 pow(q, -1, p), pub).private_key()
    pem = priv.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())
    der = priv.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    return {"alg": b"rsa-sha256", "priv": pem,
            "txt": "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()}


def ed_key():
    sk = nacl.signing.SigningKey(bytes(rng.getrandbits(8) for _ in range(32)))
    return {"alg": b"ed25519-sha256", "priv": base64.b64encode(bytes(sk)),
            "txt": "v=DKIM1; k=ed25519; p=" + base64.b64encode(bytes(sk.verify_key)).decode()}


KEYS = {
    "rsa2048": rsa_key(2048),
    "rsa1024": rsa_key(1024),
    "ed": ed_key(),
}


def txt(value):
    """A TXT rdata: strings of at most 255 bytes."""
    parts = [value[i:i + 255] for i in range(0, len(value), 255)] or [""]
    return " ".join('"%s"' % p for p in parts)


# ---- zones --------------------------------------------------------------
SOA = "@ IN SOA ns1.{z}. hostmaster.{z}. 2026112601 3600 600 86400 60\n@ IN NS ns1.interop.example.\n"

interop = [
    "ns1 IN A 127.0.0.1",
    # The organizational domain: SPF for the bare domain, DMARC with sp=.
    '@ IN TXT "v=spf1 ip4:198.51.100.10 -all"',
    "@ IN MX 10 mx1",
    '_dmarc IN TXT "v=DMARC1; p=none; sp=reject"',
    "mta IN A 198.51.100.10",
    '    IN TXT "v=spf1 a -all"',
    "mx1 IN A 198.51.100.11",
    "unknown IN TXT \"no address here\"",
    # SPF scenarios (RFC 7208); their From domains fall under sp=reject.
    'spf-pass IN TXT "v=spf1 ip4:198.51.100.10 -all"',
    'spf-soft IN TXT "v=spf1 ip4:198.51.100.10 ~all"',
    'spf-neutral IN TXT "v=spf1 ip4:198.51.100.10 ?all"',
    "spf-none IN A 198.51.100.99",
    'spf-syntax IN TXT "v=spf1 ip4:198.51.100.10 bogus:x -all"',
    'spf-badcidr IN TXT "v=spf1 ip4:198.51.100.10/33 -all"',
    'spf-loop IN TXT "v=spf1 ' + " ".join("a:l%d.spf-loop.interop.example" % i for i in range(1, 12))
    + ' ip4:198.51.100.10 -all"',
] + ["l%d.spf-loop IN A 198.51.100.%d" % (i, 200 + i) for i in range(1, 12)] + [
    'spf-include IN TXT "v=spf1 include:spf-pass.interop.example -all"',
    'spf-include-none IN TXT "v=spf1 include:spf-none.interop.example -all"',
    'spf-redirect IN TXT "v=spf1 redirect=spf-pass.interop.example"',
    'spf-mx IN TXT "v=spf1 mx -all"',
    "spf-mx IN MX 10 mx1.interop.example.",
    'spf-a IN TXT "v=spf1 a -all"',
    "spf-a IN A 198.51.100.12",
    'spf-ip6 IN TXT "v=spf1 ip6:2001:db8:100::10 -all"',
    'spf-twice IN TXT "v=spf1 ip4:198.51.100.10 -all"',
    'spf-twice IN TXT "v=spf1 -all"',
    'spf-void IN TXT "v=spf1 a:v1.spf-void.interop.example a:v2.spf-void.interop.example a:v3.spf-void.interop.example -all"',
    # DKIM scenarios (RFC 6376, RFC 8463): SPF fails for them (sent from .20),
    # so DMARC rests on DKIM alone.
    'dk IN TXT "v=spf1 ip4:198.51.100.10 -all"',
    '_dmarc.dk IN TXT "v=DMARC1; p=quarantine"',
    "rsa2048._domainkey.dk IN TXT " + txt(KEYS["rsa2048"]["txt"]),
    "rsa1024._domainkey.dk IN TXT " + txt(KEYS["rsa1024"]["txt"]),
    "ed._domainkey.dk IN TXT " + txt(KEYS["ed"]["txt"]),
    'revoked._domainkey.dk IN TXT "v=DKIM1; k=rsa; p="',
    "rsa2048._domainkey IN TXT " + txt(KEYS["rsa2048"]["txt"]),
    # DMARC scenarios (RFC 7489).
    'dm-spf IN TXT "v=spf1 ip4:198.51.100.10 -all"',
    '_dmarc.dm-spf IN TXT "v=DMARC1; p=reject"',
    'dm-dkim IN TXT "v=spf1 ip4:198.51.100.10 -all"',
    '_dmarc.dm-dkim IN TXT "v=DMARC1; p=reject"',
    "ed._domainkey.dm-dkim IN TXT " + txt(KEYS["ed"]["txt"]),
    'dm-none IN TXT "v=spf1 ip4:198.51.100.10 -all"',
    '_dmarc.dm-none IN TXT "v=DMARC1; p=none"',
    'dm-quar IN TXT "v=spf1 ip4:198.51.100.10 -all"',
    '_dmarc.dm-quar IN TXT "v=DMARC1; p=quarantine"',
    'dm-rej IN TXT "v=spf1 ip4:198.51.100.10 -all"',
    '_dmarc.dm-rej IN TXT "v=DMARC1; p=reject"',
    '_dmarc.relaxed IN TXT "v=DMARC1; p=reject"',
    '_dmarc.strict IN TXT "v=DMARC1; p=reject; adkim=s; aspf=s"',
    'strict IN TXT "v=spf1 ip4:198.51.100.10 -all"',
    "rsa2048._domainkey.strict IN TXT " + txt(KEYS["rsa2048"]["txt"]),
]

other = [
    # A second organizational domain with no DMARC record at all.
    '@ IN TXT "v=spf1 ip4:198.51.100.10 -all"',
    "rsa2048._domainkey IN TXT " + txt(KEYS["rsa2048"]["txt"]),
]

reverse = [
    # iprev material for mailauth.check (npm mailauth does not report iprev).
    "10 IN PTR mta.interop.example.",
    "11 IN PTR mx1.interop.example.",
    "20 IN PTR unknown.interop.example.",
]


def write_zone(name, records):
    with open(os.path.join(ZONES, name + ".zone"), "w") as f:
        f.write("; Generated by spec/support/gen_interop.py (seed %d): do not edit.\n" % SEED)
        f.write("$ORIGIN %s.\n$TTL 300\n" % name)
        f.write(SOA.format(z="interop.example" if "arpa" in name else name))
        for r in records:
            f.write(r + "\n")


# ---- messages -------------------------------------------------------------
WORDS = ("ledger quarterly invoice harbor meeting notes draft lunch budget "
         "review archive sprint release patch garden kettle").split()


def message(n, from_addr, subject=None):
    words = [rng.choice(WORDS) for _ in range(rng.randint(20, 60))]
    lines, line = [], []
    for w in words:
        line.append(w)
        if len(line) == rng.randint(5, 9):
            lines.append(" ".join(line))
            line = []
    lines.append(" ".join(line))
    if rng.random() < 0.3:
        lines.append("trailing  spaces\t ")   # exercises body canonicalization
    lines += ["", ""]                          # trailing empty lines, too
    subject = subject or " ".join(rng.choice(WORDS) for _ in range(3)).capitalize()
    head = [
        "From: Sender %d <%s>" % (n, from_addr),
        "To: rcpt@interop.example",
        "Subject: " + subject,
        "Date: Mon, 24 Nov 2025 16:00:%02d +0000" % (n % 60),
        "Message-ID: <%d.%08x@interop.example>" % (n, rng.getrandbits(32)),
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
    ]
    return ("\r\n".join(head) + "\r\n\r\n" + "\r\n".join(lines)).encode()


def sign(msg, domain, selector, key, canon):
    k = KEYS[key]
    c = tuple(x.encode() for x in canon.split("/"))
    h = dkim.sign(msg, selector.encode(), domain.encode(), k["priv"],
                  canonicalize=c, signature_algorithm=k["alg"],
                  include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
    return h + msg


GOOD, BAD, OTHER_IP, V6 = "198.51.100.10", "198.51.100.20", "198.51.100.30", "2001:db8:100::10"
I = "interop.example"

# id, ip, helo, sender, From address, signatures, tampering, what it covers
CASES = [
    ("spf-pass", GOOD, "mta." + I, "a@spf-pass." + I, "a@spf-pass." + I, [], None, "SPF ip4 pass, DMARC pass via SPF (sp)"),
    ("spf-fail", BAD, "mta." + I, "a@spf-pass." + I, "a@spf-pass." + I, [], None, "SPF -all fail, DMARC fail sp=reject"),
    ("spf-softfail", BAD, "mta." + I, "a@spf-soft." + I, "a@spf-soft." + I, [], None, "SPF ~all softfail"),
    ("spf-neutral", BAD, "mta." + I, "a@spf-neutral." + I, "a@spf-neutral." + I, [], None, "SPF ?all neutral"),
    ("spf-none", GOOD, "mta." + I, "a@spf-none." + I, "a@spf-none." + I, [], None, "SPF none (no record)"),
    ("spf-syntax", GOOD, "mta." + I, "a@spf-syntax." + I, "a@spf-syntax." + I, [], None, "SPF permerror, unknown mechanism"),
    ("spf-badcidr", GOOD, "mta." + I, "a@spf-badcidr." + I, "a@spf-badcidr." + I, [], None, "SPF permerror, ip4 prefix /33"),
    ("spf-loop", GOOD, "mta." + I, "a@spf-loop." + I, "a@spf-loop." + I, [], None, "SPF permerror, 11 DNS terms"),
    ("spf-include", GOOD, "mta." + I, "a@spf-include." + I, "a@spf-include." + I, [], None, "SPF include pass"),
    ("spf-include-fail", BAD, "mta." + I, "a@spf-include." + I, "a@spf-include." + I, [], None, "SPF include, then -all fail"),
    ("spf-include-none", GOOD, "mta." + I, "a@spf-include-none." + I, "a@spf-include-none." + I, [], None, "SPF include of a domain without SPF: permerror"),
    ("spf-redirect", GOOD, "mta." + I, "a@spf-redirect." + I, "a@spf-redirect." + I, [], None, "SPF redirect pass"),
    ("spf-redirect-fail", BAD, "mta." + I, "a@spf-redirect." + I, "a@spf-redirect." + I, [], None, "SPF redirect fail"),
    ("spf-mx", "198.51.100.11", "mx1." + I, "a@spf-mx." + I, "a@spf-mx." + I, [], None, "SPF mx pass"),
    ("spf-mx-fail", BAD, "mx1." + I, "a@spf-mx." + I, "a@spf-mx." + I, [], None, "SPF mx fail"),
    ("spf-a", "198.51.100.12", "mta." + I, "a@spf-a." + I, "a@spf-a." + I, [], None, "SPF a pass"),
    ("spf-ip6", V6, "mta." + I, "a@spf-ip6." + I, "a@spf-ip6." + I, [], None, "SPF ip6 pass over IPv6"),
    ("spf-twice", GOOD, "mta." + I, "a@spf-twice." + I, "a@spf-twice." + I, [], None, "SPF two records: permerror"),
    ("spf-void", GOOD, "mta." + I, "a@spf-void." + I, "a@spf-void." + I, [], None, "SPF permerror, 3 void lookups"),
    ("spf-helo", GOOD, "mta." + I, "", "postmaster@mta." + I, [], None, "null sender: SPF of the HELO name"),
    ("dkim-rsa-relaxed", BAD, "mta." + I, "a@dk." + I, "a@dk." + I, [("dk." + I, "rsa2048", "rsa2048", "relaxed/relaxed")], None, "rsa-sha256 relaxed/relaxed valid; DMARC pass via DKIM only"),
    ("dkim-rsa-simple", BAD, "mta." + I, "a@dk." + I, "a@dk." + I, [("dk." + I, "rsa2048", "rsa2048", "simple/simple")], None, "rsa-sha256 simple/simple valid"),
    ("dkim-rsa-relaxed-simple", BAD, "mta." + I, "a@dk." + I, "a@dk." + I, [("dk." + I, "rsa1024", "rsa1024", "relaxed/simple")], None, "rsa-sha256 1024-bit relaxed/simple valid"),
    ("dkim-ed25519", BAD, "mta." + I, "a@dk." + I, "a@dk." + I, [("dk." + I, "ed", "ed", "relaxed/relaxed")], None, "ed25519-sha256 valid"),
    ("dkim-body-tampered", BAD, "mta." + I, "a@dk." + I, "a@dk." + I, [("dk." + I, "rsa2048", "rsa2048", "relaxed/relaxed")], "body", "rsa body changed after signing: body hash fails"),
    ("dkim-simple-body-ws", BAD, "mta." + I, "a@dk." + I, "a@dk." + I, [("dk." + I, "rsa2048", "rsa2048", "simple/simple")], "body-ws", "simple body, whitespace added: fails"),
    ("dkim-relaxed-body-ws", BAD, "mta." + I, "a@dk." + I, "a@dk." + I, [("dk." + I, "rsa2048", "rsa2048", "relaxed/relaxed")], "body-ws", "relaxed body, whitespace added: still passes"),
    ("dkim-header-tampered", BAD, "mta." + I, "a@dk." + I, "a@dk." + I, [("dk." + I, "rsa2048", "rsa2048", "relaxed/relaxed")], "header", "signed Subject changed: signature fails"),
    ("dkim-ed25519-tampered", BAD, "mta." + I, "a@dk." + I, "a@dk." + I, [("dk." + I, "ed", "ed", "relaxed/relaxed")], "header", "ed25519 signature over a changed Subject"),
    ("dkim-missing-key", BAD, "mta." + I, "a@dk." + I, "a@dk." + I, [("dk." + I, "gone", "rsa2048", "relaxed/relaxed")], None, "selector without a key record"),
    ("dkim-revoked-key", BAD, "mta." + I, "a@dk." + I, "a@dk." + I, [("dk." + I, "revoked", "rsa2048", "relaxed/relaxed")], None, "key record with empty p= (revoked)"),
    ("dkim-two-sigs", BAD, "mta." + I, "a@dk." + I, "a@dk." + I, [("dk." + I, "rsa2048", "rsa2048", "relaxed/relaxed"), ("dk." + I, "ed", "ed", "relaxed/relaxed")], None, "rsa and ed25519 signatures on one message"),
    ("dmarc-spf-only", GOOD, "mta." + I, "a@dm-spf." + I, "a@dm-spf." + I, [], None, "DMARC pass via SPF only"),
    ("dmarc-dkim-only", BAD, "mta." + I, "a@dm-dkim." + I, "a@dm-dkim." + I, [("dm-dkim." + I, "ed", "ed", "relaxed/relaxed")], None, "DMARC pass via DKIM only"),
    ("dmarc-fail-none", BAD, "mta." + I, "a@dm-none." + I, "a@dm-none." + I, [], None, "DMARC fail, p=none"),
    ("dmarc-fail-quarantine", BAD, "mta." + I, "a@dm-quar." + I, "a@dm-quar." + I, [], None, "DMARC fail, p=quarantine"),
    ("dmarc-fail-reject", BAD, "mta." + I, "a@dm-rej." + I, "a@dm-rej." + I, [], None, "DMARC fail, p=reject"),
    ("dmarc-unaligned-dkim", BAD, "mta." + I, "a@dm-rej." + I, "a@dm-rej." + I, [("interop-other.example", "rsa2048", "rsa2048", "relaxed/relaxed")], None, "DKIM pass for another org: DMARC fail"),
    ("dmarc-sp", BAD, "mta." + I, "a@sub." + I, "a@sub." + I, [], None, "subdomain without a record: org record's sp=reject"),
    ("dmarc-org-p", BAD, "mta." + I, "a@" + I, "a@" + I, [], None, "org domain itself: p=none"),
    ("dmarc-no-record", GOOD, "mta." + I, "a@interop-other.example", "a@interop-other.example", [], None, "no DMARC record anywhere: none"),
    ("dmarc-relaxed-dkim", BAD, "mta." + I, "a@dk." + I, "a@relaxed." + I, [("interop.example", "rsa2048", "rsa2048", "relaxed/relaxed")], None, "relaxed alignment: d=org domain aligns with a subdomain From"),
    ("dmarc-relaxed-spf", GOOD, "mta." + I, "a@" + I, "a@relaxed." + I, [], None, "relaxed alignment: SPF for the org domain aligns"),
    ("dmarc-strict-dkim", BAD, "mta." + I, "a@dk." + I, "a@strict." + I, [("interop.example", "rsa2048", "rsa2048", "relaxed/relaxed")], None, "adkim=s: d=org domain does not align"),
    ("dmarc-strict-spf", GOOD, "mta." + I, "a@" + I, "a@strict." + I, [], None, "aspf=s: SPF for the org domain does not align"),
    ("dmarc-strict-pass", BAD, "mta." + I, "a@dk." + I, "a@strict." + I, [("strict." + I, "rsa2048", "rsa2048", "relaxed/relaxed")], None, "adkim=s: exact d= aligns"),
    ("iprev-fail", BAD, "unknown." + I, "a@dm-spf." + I, "a@dm-spf." + I, [], None, "PTR name without an address; SPF fail, DMARC reject"),
]


def tamper(msg, how):
    head, body = msg.split(b"\r\n\r\n", 1)
    if how == "body":
        return head + b"\r\n\r\n" + body.replace(b"e", b"E", 1)
    if how == "body-ws":
        first, rest = body.split(b"\r\n", 1)
        return head + b"\r\n\r\n" + first.replace(b" ", b"  ", 1) + b" \r\n" + rest
    if how == "header":
        return msg.replace(b"\r\nSubject: ", b"\r\nSubject: Re: ", 1)
    raise ValueError(how)


def lua_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main():
    os.makedirs(OUT, exist_ok=True)
    write_zone("interop.example", interop)
    write_zone("interop-other.example", other)
    write_zone("100.51.198.in-addr.arpa", reverse)
    manifest = ["-- Generated by spec/support/gen_interop.py (seed %d): do not edit." % SEED,
                "-- One entry per message in this folder: SMTP envelope and what it covers.",
                "return {", "  now = %d," % NOW, "  messages = {"]
    for n, (cid, ip, helo, sender, from_addr, sigs, how, what) in enumerate(CASES, 1):
        msg = message(n, from_addr)
        for domain, selector, key, canon in sigs:
            msg = sign(msg, domain, selector, key, canon)
        if how:
            msg = tamper(msg, how)
        with open(os.path.join(OUT, cid + ".eml"), "wb") as f:
            f.write(msg)
        manifest.append("    { id = %s, ip = %s, helo = %s, sender = %s,\n      about = %s },"
                        % (lua_str(cid), lua_str(ip), lua_str(helo), lua_str(sender), lua_str(what)))
    manifest += ["  },", "}", ""]
    with open(os.path.join(OUT, "manifest.lua"), "w") as f:
        f.write("\n".join(manifest))
    print("%d messages" % len(CASES), file=sys.stderr)


if __name__ == "__main__":
    main()
