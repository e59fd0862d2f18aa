#!/usr/bin/python3
# Regenerates examples/messages/*.eml and the demo keys' DNS records.
# The messages are signed by dkimpy (python3-dkim), an implementation
# independent of mailauth, so the demo also shows interoperation.
# Run with Debian's /usr/bin/python3 from the examples/ directory.
import base64, subprocess, time, dkim

# dkimpy writes t= from the clock: a fixed one keeps the messages (and the
# demo's `now` in demo.lua) stable, and regenerating reproduces them.
SIGNED_AT = 1795699458
time.time = lambda: SIGNED_AT

def pubkey_b64(pem):
    der = subprocess.run(["openssl", "rsa", "-in", pem, "-pubout", "-outform", "DER"],
                         capture_output=True, check=True).stdout
    return base64.b64encode(der).decode()

def txt(record):
    parts = [record[i:i + 250] for i in range(0, len(record), 250)]
    return " ".join('"%s"' % p for p in parts)

def sign(headers, body, domain, selector, key):
    msg = ("\r\n".join(headers) + "\r\n\r\n" + body).encode()
    with open(key, "rb") as f:
        priv = f.read()
    sig = dkim.sign(msg, selector.encode(), domain.encode(), priv,
                    canonicalize=(b"relaxed", b"relaxed"),
                    include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
    return sig + msg

BODY = "Hello,\r\n\r\nthe quarterly figures are attached.\r\n\r\nRegards\r\n"

msgs = {
    "m365-contoso": (["From: Alice <alice@contoso.com>", "To: bob@example.net",
                      "Subject: Quarterly figures", "Date: Thu, 26 Nov 2026 09:00:00 +0000",
                      "Message-ID: <a1@contoso.com>",
                      "X-MS-Exchange-CrossTenant-Id: 11111111-2222-3333-4444-555555555555"],
                     "contoso.com", "selector1", "keys/contoso-selector1.pem"),
    "m365-cross-tenant-spoof": (["From: Alice <alice@contoso.com>", "To: bob@example.net",
                                 "Subject: Urgent: new bank details",
                                 "Date: Thu, 26 Nov 2026 09:05:00 +0000",
                                 "Message-ID: <f1@fabrikam.com>",
                                 "X-MS-Exchange-CrossTenant-Id: 11111111-2222-3333-4444-555555555555"],
                                "fabrikam.onmicrosoft.com", "selector1-fabrikam-com",
                                "keys/fabrikam-selector1.pem"),
    # Another tenant's own signature (d=evil.onmicrosoft.com) under a From of
    # the partner tenant's initial domain: aligned only if onmicrosoft.com
    # were one organisation.
    "m365-onmicrosoft-spoof": (["From: CEO <ceo@contoso.onmicrosoft.com>", "To: bob@example.net",
                                "Subject: Wire transfer today",
                                "Date: Thu, 26 Nov 2026 09:07:00 +0000",
                                "Message-ID: <e1@evil.onmicrosoft.com>",
                                "X-MS-Exchange-CrossTenant-Id: 11111111-2222-3333-4444-555555555555"],
                               "evil.onmicrosoft.com", "selector1-evil-onmicrosoft-com",
                               "keys/evil-selector1.pem"),
    "own-server": (["From: Bob <bob@example.net>", "To: carol@example.org",
                    "Subject: Lunch", "Date: Thu, 26 Nov 2026 10:00:00 +0000",
                    "Message-ID: <b1@example.net>"],
                   "example.net", "mx2026", "keys/example-net-mx2026.pem"),
}
for name, (headers, domain, selector, key) in msgs.items():
    with open("messages/%s.eml" % name, "wb") as f:
        f.write(sign(headers, BODY, domain, selector, key))

with open("messages/spoof-no-signature.eml", "wb") as f:
    f.write(("\r\n".join(["From: CEO <ceo@example.net>", "To: bob@example.net",
                          "Subject: Gift cards", "Date: Thu, 26 Nov 2026 11:00:00 +0000",
                          "Message-ID: <s1@spoof.invalid>"]) + "\r\n\r\n" + BODY).encode())

print("; DKIM key records for the demo zones")
print("selector1-contoso-com._domainkey.contoso IN TXT " +
      txt("v=DKIM1; k=rsa; p=" + pubkey_b64("keys/contoso-selector1.pem")))
print("selector1-fabrikam-com._domainkey.fabrikam IN TXT " +
      txt("v=DKIM1; k=rsa; p=" + pubkey_b64("keys/fabrikam-selector1.pem")))
print("selector1-evil-onmicrosoft-com._domainkey.evil IN TXT " +
      txt("v=DKIM1; k=rsa; p=" + pubkey_b64("keys/evil-selector1.pem")))
print("mx2026._domainkey IN TXT " + txt("v=DKIM1; k=rsa; p=" + pubkey_b64("keys/example-net-mx2026.pem")))
