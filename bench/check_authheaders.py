"""check_authheaders.py: Python authheaders (python3-authheaders, which runs
dkimpy, pyspf and its own DMARC) end to end on the interop messages: SPF,
DKIM, ARC and DMARC, every DNS answer from check_json.py's map of the same
zones mailauth reads (dnsfunc for DKIM, ARC and DMARC; pyspf's DNSLookup
for SPF).  authheaders has no iprev.

usage: /usr/bin/python3 check_authheaders.py check|bench SECONDS JSON MESSAGES
check: "id spf dkim dmarc" a line (read back from the header it writes).
bench: "BENCH best r1 r2 r3" in messages per CPU second.
"""
import json
import re
import sys
from pyrounds import best_of_three

try:
    import authheaders
    import spf
except ImportError:
    print("UNAVAILABLE python3-authheaders is not installed (sh bench/deps.sh)")
    sys.exit(0)

ZONE = {}


def node(name):
    if isinstance(name, bytes):
        name = name.decode("ascii", "replace")
    return ZONE.get(name.lower().rstrip("."), {})


def dnsfunc(name, timeout=5):
    """dkimpy asks with bytes and wants bytes; authheaders' DMARC asks with
    text and wants text: the first TXT record, its strings joined."""
    txt = node(name).get("TXT")
    if not txt:
        return None
    joined = "".join(txt[0])
    return joined.encode("latin-1") if isinstance(name, bytes) else joined


def spf_lookup(name, qtype, strict=True, timeout=None):
    # the shape of spf.DNSLookup_dnspython's answer: [((name, qtype), value)]
    out = []
    for v in node(name).get(qtype, ()):
        if qtype == "TXT":
            v = [s.encode("latin-1") for s in v]
        elif qtype == "MX":
            v = (v["priority"], v["exchange"])
        out.append(((name, qtype), v))
    return out


RESULT = {k: re.compile(k + r"=([a-z]+)") for k in ("spf", "dkim", "dmarc")}


def one(m):
    return authheaders.authenticate_message(
        m["text"], "mx.interop.example", spf=True, dkim=True, arc=True,
        dmarc=True, ip=m["ip"], mail_from=m["sender"], helo=m["helo"],
        dnsfunc=dnsfunc)


def main():
    global ZONE
    mode = sys.argv[1]
    args = sys.argv[2:]
    seconds = float(args.pop(0)) if mode == "bench" else 0.0
    with open(args[0]) as f:
        ZONE = json.load(f)
    spf.DNSLookup = spf_lookup
    msgs = []
    with open(args[1]) as f:
        for line in f:
            if not line.strip():
                continue
            mid, path, ip, helo, sender = line.rstrip("\n").split("\t")
            with open(path, "rb") as g:
                msgs.append({"id": mid, "text": g.read(), "ip": ip,
                             "helo": helo, "sender": sender})
    if mode == "check":
        for m in msgs:
            header = one(m)
            found = [RESULT[k].search(header) for k in ("spf", "dkim", "dmarc")]
            print("\t".join([m["id"]] + [x.group(1) if x else "none" for x in found]))
        return

    def step():
        for m in msgs:
            one(m)
        return len(msgs)

    best_of_three(step, seconds)


if __name__ == "__main__":
    main()
