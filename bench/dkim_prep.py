"""Builds the DKIM bench inputs, signed by dkimpy (not by mailauth).

usage: /usr/bin/python3 dkim_prep.py OUTDIR   (OUTDIR/dkim.key: openssl genrsa 2048)
writes OUTDIR/dkim-4k.eml and dkim-1m.eml (CRLF, one rsa-sha256
relaxed/relaxed signature each, d=example.com s=bench), and the key record
three ways: dkim.zone (master file, mailauth), dkim.keyfile (OpenDKIM's
DKIM_QUERY_FILE format), dkim.txt (the TXT value, for dkimpy's dnsfunc).
The text is pseudo-random from a fixed seed, with the whitespace quirks that
relaxed canonicalisation exists for (runs of spaces, tabs, trailing blanks,
empty lines at the end), so canonicalisation does real work.
"""
import base64
import random
import subprocess
import sys

import dkim

SELECTOR = b"bench"
DOMAIN = b"example.com"
SIGNED = [b"from", b"to", b"subject", b"date", b"message-id", b"mime-version",
          b"content-type", b"reply-to", b"list-id"]
WORDS = ("the quick brown fox jumps over lazy dog mail message sender domain "
         "signature header body relaxed simple canonical hash verify key "
         "record selector policy report forward list archive").split()


def body(size, rng):
    lines = []
    total = 0
    while total < size:
        words = [rng.choice(WORDS) for _ in range(rng.randint(6, 13))]
        sep = rng.choice([" ", " ", " ", "  ", "\t", " \t "])
        line = sep.join(words)
        if rng.random() < 0.2:
            line += rng.choice([" ", "  ", "\t"])  # trailing blanks
        if rng.random() < 0.05:
            line = ""
        lines.append(line)
        total += len(line) + 2
    return ("\r\n".join(lines) + "\r\n\r\n\r\n").encode("ascii")


def message(size, rng, tag):
    headers = [
        "Received: from mail.example.com (mail.example.com [192.0.2.25])\r\n"
        "\tby mx.example.org with ESMTPS id %s; Wed, 26 Nov 2025 12:00:01 +0000" % tag,
        "From: Bench Sender <sender@example.com>",
        "To: \"Receiver, Some\" <rcpt@example.org>",
        "Subject: bench message %s with a subject line that is long enough\r\n"
        " to be folded  onto a second   line" % tag,
        "Date: Wed, 26 Nov 2025 12:00:00 +0000",
        "Message-ID: <%s.bench@example.com>" % tag,
        "MIME-Version: 1.0",
        "Content-Type: text/plain;  charset=utf-8",
        "Reply-To: sender@example.com",
        "List-Id: Bench list <bench.example.com>",
    ]
    head = ("\r\n".join(headers) + "\r\n\r\n").encode("ascii")
    # the signed message (about 700 bytes of DKIM-Signature on top) is ~size
    return head + body(size - 700 - len(head), rng)


def main():
    out = sys.argv[1]
    with open(out + "/dkim.key", "rb") as f:
        private = f.read()
    der = subprocess.run(["openssl", "pkey", "-in", out + "/dkim.key", "-pubout",
                          "-outform", "DER"], check=True, capture_output=True).stdout
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)
    rng = random.Random(20261126)
    for name, size in (("4k", 4096), ("1m", 1 << 20)):
        msg = message(size, rng, name)
        sig = dkim.sign(msg, SELECTOR, DOMAIN, private,
                        canonicalize=(b"relaxed", b"relaxed"),
                        signature_algorithm=b"rsa-sha256", include_headers=SIGNED)
        signed = sig + msg
        ok = dkim.verify(signed, dnsfunc=lambda n, timeout=5: record)
        if not ok:
            sys.exit("dkim_prep: dkimpy cannot verify its own %s message" % name)
        with open("%s/dkim-%s.eml" % (out, name), "wb") as f:
            f.write(signed)
    qname = SELECTOR + b"._domainkey." + DOMAIN
    chunks = [record[i:i + 255] for i in range(0, len(record), 255)]
    with open(out + "/dkim.zone", "wb") as f:
        f.write(qname + b". 300 IN TXT " + b" ".join(b'"' + c + b'"' for c in chunks) + b"\n")
    with open(out + "/dkim.keyfile", "wb") as f:
        f.write(qname + b" " + record.replace(b" ", b"") + b"\n")
    with open(out + "/dkim.txt", "wb") as f:
        f.write(record)


if __name__ == "__main__":
    main()
