#!/usr/bin/python3
"""Writes the small committed seeds in fuzz/seeds/<name>/.

Run with Debian's /usr/bin/python3 (python3-dnspython).  The wire seeds are
DNS replies built by dnspython, an implementation independent of ldns.
"""
import functools
import os
import struct
import dns.flags
import dns.message
import dns.rcode
import dns.rrset

import seedfiles

HERE = os.path.dirname(os.path.abspath(__file__))
# the wire, zone and name seeds hold bytes above 127 one to one
put = functools.partial(seedfiles.put, encoding="latin-1")


def reply(qname, qtype, answers=(), rcode=dns.rcode.NOERROR, authority=(), tc=False):
    q = dns.message.make_query(qname, qtype, use_edns=0, payload=4096)
    r = dns.message.make_response(q)
    r.set_rcode(rcode)
    for a in answers:
        r.answer.append(dns.rrset.from_text(*a))
    for a in authority:
        r.authority.append(dns.rrset.from_text(*a))
    if tc:
        r.flags |= dns.flags.TC
    return r.to_wire()


SOA = ("example.com.", 300, "IN", "SOA",
       "ns1.example.com. hostmaster.example.com. 1 3600 600 86400 60")
put("parse_wire", "a", reply("mail.example.com.", "A",
    [("mail.example.com.", 300, "IN", "A", "192.0.2.25", "192.0.2.26")]))
put("parse_wire", "aaaa", reply("mail.example.com.", "AAAA",
    [("mail.example.com.", 300, "IN", "AAAA", "2001:db8::25")]))
put("parse_wire", "txt", reply("example.com.", "TXT",
    [("example.com.", 300, "IN", "TXT", '"v=spf1 " "mx -all"', '""')]))
put("parse_wire", "mx", reply("example.com.", "MX",
    [("example.com.", 300, "IN", "MX", "10 mail.example.com.", "20 mx\\.odd\\\\.example.com.")]))
put("parse_wire", "ptr", reply("25.2.0.192.in-addr.arpa.", "PTR",
    [("25.2.0.192.in-addr.arpa.", 300, "IN", "PTR", "mail.example.com.", "\\000x\\255.example.")]))
put("parse_wire", "cname", reply("alias.example.com.", "A",
    [("alias.example.com.", 300, "IN", "CNAME", "mail.example.com."),
     ("mail.example.com.", 60, "IN", "A", "192.0.2.25")]))
put("parse_wire", "nxdomain", reply("no.example.com.", "TXT", [],
    dns.rcode.NXDOMAIN, [SOA]))
put("parse_wire", "nodata-tc", reply("example.com.", "AAAA", [], authority=[SOA], tc=True))
put("parse_wire", "servfail", reply("example.com.", "TXT", [], dns.rcode.SERVFAIL))

for name, text in {
    "name": "mail.example.com",
    "name-dot": "Mail.Example.COM.",
    "escapes": "a\\.b\\065\\\\c.example.",
    "long": ".".join(["a" * 63] * 3) + "." + "b" * 61,
    "v4": "192.0.2.25",
    "v6": "2001:db8::25",
    "mapped": "::ffff:192.0.2.1",
    "raw6": "\x01" + "\x20\x01\x0d\xb8" + "\x00" * 11 + "\x25",
}.items():
    put("names", name, text)

ZONES = os.path.join(HERE, "..", "spec", "fixtures", "zones")
rev4 = open(os.path.join(ZONES, "2.0.192.in-addr.arpa.zone")).read()
put("zone", "reverse4", rev4 + "\0PTR 25.2.0.192.in-addr.arpa\nPTR 40.2.0.192.in-addr.arpa\nPTR 9.2.0.192.in-addr.arpa\n")
small = """$ORIGIN example.com.
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 86400 60
@ IN MX 10 mail
@ IN TXT "v=spf1 " "mx -all"
mail IN A 192.0.2.1
mail IN AAAA 2001:db8::1
alias IN CNAME mail
loop1 IN CNAME loop2
loop2 IN CNAME loop1
*.wild IN TXT "wildcard"
a.b.c IN TXT "deep"
"""
put("zone", "forward", small + "\0A alias.example.com\nTXT x.wild.example.com\nTXT b.c.example.com\n"
    "A loop1.example.com\nMX example.com\nTXT other.test\nAAAA mail.example.com.\n")
put("zone", "two-zones", small + "\x01$ORIGIN 2.0.192.in-addr.arpa.\n"
    "@ IN SOA ns1.example.com. h.example.com. 1 2 3 4 5\n1 IN PTR mail.example.com.\n")
put("zone", "no-soa", "x.test. 60 IN TXT \"a\"\n*.test. 60 IN A 192.0.2.1\n")

# iprev: flags, address, then per question: rcode, ttl, count, records.
v4 = bytes([192, 0, 2, 1])
put("check_iprev", "pass4", bytes([0]) + v4 + bytes([0, 1, 1, 2, 7]) + bytes([0, 1, 1, 0]))
put("check_iprev", "fail4", bytes([0]) + v4 + bytes([0, 1, 2, 2, 7, 2, 8]) +
    bytes([0, 1, 1, 1, 9, 9, 9, 9]) + bytes([2, 1, 0]))
put("check_iprev", "temp6", bytes([2]) + bytes(range(16)) + bytes([0, 1, 1, 2, 7]) + bytes([3, 0, 0]))
put("check_iprev", "nx", bytes([0]) + v4 + bytes([2, 1, 0]))
put("check_iprev", "ptr-kind", bytes([1]) + v4 + bytes([0, 1, 3, 2, 1, 4, 20]) + b"x" * 20 + bytes([3]))
put("check_iprev", "max-names", bytes([4]) + v4 + bytes([1, 0, 1, 12]) +
    b"".join(bytes([2, i]) for i in range(12)) + bytes([0, 1, 1, 0]) * 2)

# dkim, arc, message: the project's own signed examples (examples/messages,
# signed by dkimpy with examples/keys by examples/make-messages.py), each
# with the key record examples/zones publishes for its signature.  Seeds
# from other projects' messages are made at fuzz time, not committed
# (fuzz/seeds-from-testdata.py).
EXAMPLES = os.path.join(os.path.dirname(HERE), "examples")
zone_txt = {}
for zf in sorted(os.listdir(os.path.join(EXAMPLES, "zones"))):
    with open(os.path.join(EXAMPLES, "zones", zf), encoding="ascii") as f:
        for line in f:
            parts = line.split(None, 3)
            if len(parts) == 4 and parts[1:3] == ["IN", "TXT"] and "_domainkey" in parts[0]:
                zone_txt[parts[0].split(".")[0]] = "".join(
                    s for s in parts[3].strip().split('"')[1::2])
# (contoso.com's selector1 is a CNAME to its onmicrosoft.com record)
for eml, sel in (("own-server.eml", "mx2026"), ("m365-contoso.eml", "selector1-contoso-com")):
    with open(os.path.join(EXAMPLES, "messages", eml), "rb") as f:
        msg = f.read()
    put("dkim", "example-" + eml[:-4], msg + b"\n=====\n" + zone_txt[sel].encode())
    put("arc", "example-" + eml[:-4], b"\0" + msg + b"\n=====\n" + zone_txt[sel].encode())

# regress (671e1e7, found by fuzz_arc): a t= tag at the very end of the
# input, no CRLF after it, was read by strtoll past the buffer.  Written
# here in place of the crashing input, which was the ValiMail suite's text.
put("arc", "regress-strtoll-unterminated", b"\0From: a@example.org\r\n"
    b"ARC-Authentication-Results: i=1; example.org; spf=pass smtp.mailfrom=example.org\r\n"
    b"ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org;\r\n"
    b" s=dummy; h=from; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA\r\n"
    b"ARC-Seal: a=rsa-sha256; b=AAAA; cv=none; d=example.org; i=1; s=dummy;\r\n"
    b" t=123")
