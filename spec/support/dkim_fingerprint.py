#!/usr/bin/python3
# The fingerprint doc/api/mailauth.luadoc documents for a DKIM result,
# computed apart from mailauth (dkimpy's tag parser, hashlib), one line
# per DKIM-Signature in header order, for spec/dkim_evidence_spec.lua:
#   hex(SHA-256(lower(d=) NUL lower(s=) NUL base64-decoded b=)[:16])
#   dkim_fingerprint.py MSG
import base64
import hashlib
import re
import sys

from dkim.util import parse_tag_value


def fields(msg):
    head = msg.split(b"\r\n\r\n", 1)[0]
    return re.split(b"\r\n(?![ \t])", head)


def main(argv):
    with open(argv[1], "rb") as f:
        msg = f.read()
    for field in fields(msg):
        name, _, value = field.partition(b":")
        if name.strip().lower() != b"dkim-signature":
            continue
        tags = parse_tag_value(value)
        b = base64.b64decode(re.sub(rb"\s+", b"", tags[b"b"]))
        h = hashlib.sha256(tags[b"d"].lower() + b"\0" + tags[b"s"].lower() + b"\0" + b)
        print(h.digest()[:16].hex())


if __name__ == "__main__":
    main(sys.argv)
