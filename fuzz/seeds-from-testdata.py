#!/usr/bin/python3
"""seeds-from-testdata.py OUT - writes the fuzz seeds that come from other
projects' test data into OUT/<target>/ (fuzz/run.sh: build/fuzz-seeds/),
at fuzz time and never committed: the data stays in ../shared/testdata/
beside the checkout ($MAILAUTH_TESTDATA overrides), read in place.  When
it is absent this prints one line and writes nothing; the committed seeds
in fuzz/seeds/ are the project's own (fuzz/make-seeds.py,
fuzz/make-seeds-text.py, regress-* inputs).  Deterministic; Debian's
/usr/bin/python3 with python3-yaml.

  authres          every `input` of authres/*.yml (MimeKit,
                   Mail::AuthenticationResults, go-msgauth, authres cases)
  authres_dialect  every *Authentication-Results* field of m365/*.mail
  dmarc            the v=DMARC1 records of dmarc/authheaders/cases.yml
  dkim             each dkim/stalwart/*.txt message with its first key
                   record; dkim/rfc8463/signed.eml with each key of
                   dns.txt; each dkim/mail-dkim/corpus message with the key
                   FAKE_DNS.dat has for its first signature (or none)
  arc              each message of arc/arc-draft-validation-tests.yml with
                   its _domainkey record (mode byte 0: validate only)
  message          dkim/rfc8463/signed.eml, the dkim/stalwart messages
"""
import glob
import hashlib
import os
import re
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
TESTDATA = os.environ.get("MAILAUTH_TESTDATA") or os.path.join(TOP, "..", "shared", "testdata")
SEP = b"\n=====\n"

if len(sys.argv) != 2:
    sys.stderr.write("usage: seeds-from-testdata.py OUT\n")
    sys.exit(2)
OUT = sys.argv[1]
if not os.path.isdir(TESTDATA):
    print("seeds-from-testdata: %s absent: only the committed seeds" % TESTDATA)
    sys.exit(0)
counts = {}


def put(target, name, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[-60:]
    with open(os.path.join(d, "%s-%s" % (name, hashlib.sha1(data).hexdigest()[:8])), "wb") as f:
        f.write(data)
    counts[target] = counts.get(target, 0) + 1


def read(rel):
    with open(os.path.join(TESTDATA, rel), "rb") as f:
        return f.read()


def crlf(b):
    return re.sub(rb"\r?\n", b"\r\n", b)


# ---- authres ----
for path in sorted(glob.glob(os.path.join(TESTDATA, "authres", "*.yml"))):
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    base = os.path.basename(path).split("-")[0]
    for case in (doc or {}).get("cases", []):
        if isinstance(case.get("input"), str):
            put("authres", "%s-%s" % (base, case.get("id", "")), case["input"])

# ---- authres_dialect: the fields as Microsoft 365 wrote them ----
for path in sorted(glob.glob(os.path.join(TESTDATA, "m365", "*.mail"))):
    with open(path, "rb") as f:
        head = crlf(f.read()).split(b"\r\n\r\n", 1)[0]
    stem = os.path.basename(path).split(".")[0]
    for m in re.finditer(rb"(?m)^([A-Za-z-]*authentication-results[A-Za-z-]*):[ \t]*((?:.*)(?:\r\n[ \t].*)*)",
                         head, re.I):
        put("authres_dialect", "m365-%s-%s" % (stem, m.group(1).decode().lower()), m.group(2))

# ---- dmarc: records for the record parser (inputs starting with "v") ----
AUTHHEADERS = os.path.join("dmarc", "authheaders", "cases.yml")
if os.path.isfile(os.path.join(TESTDATA, AUTHHEADERS)):
    seen = set()
    for m in re.finditer(r'"(v=DMARC1[^"]*)"', read(AUTHHEADERS).decode("utf-8")):
        if m.group(1) not in seen:
            seen.add(m.group(1))
            put("dmarc", "authheaders", m.group(1))

# ---- dkim and message ----
for path in sorted(glob.glob(os.path.join(TESTDATA, "dkim", "stalwart", "*.txt"))):
    with open(path, "rb") as f:
        dns, _, msg = f.read().partition(b"\n\n")
    first = dns.split(b"\n")[0].split(b" ", 1)
    stem = "stalwart-" + os.path.basename(path).split(".")[0]
    put("dkim", stem, crlf(msg) + SEP + (first[1] if len(first) == 2 else b""))
    put("message", stem, crlf(msg))
RFC8463 = os.path.join("dkim", "rfc8463")
if os.path.isfile(os.path.join(TESTDATA, RFC8463, "signed.eml")):
    signed = read(os.path.join(RFC8463, "signed.eml"))
    put("message", "rfc8463-signed", signed)
    for line in read(os.path.join(RFC8463, "dns.txt")).splitlines():
        owner, _, record = line.partition(b" ")
        if record:
            put("dkim", "rfc8463-" + owner.split(b".")[0].decode(), crlf(signed) + SEP + record)
MAILDKIM = os.path.join(TESTDATA, "dkim", "mail-dkim")
if os.path.isdir(MAILDKIM):
    keys = {}
    fake = os.path.join(MAILDKIM, "FAKE_DNS.dat")
    if os.path.isfile(fake):
        with open(fake, "rb") as f:
            for line in f:
                parts = line.strip().split(None, 1)
                if len(parts) == 2 and not parts[0].startswith(b"#"):
                    keys[parts[0].lower()] = parts[1]
    for path in sorted(glob.glob(os.path.join(MAILDKIM, "corpus", "*"))):
        if not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            msg = crlf(f.read())
        sig = re.search(rb"(?is)^DKIM-Signature:(.*?)\r\n(?=\S)", msg, re.M)
        d = s = b""
        if sig:
            d = (re.search(rb"\bd=\s*([^;\s]+)", sig.group(1)) or re.match(b"()", b"")).group(1)
            s = (re.search(rb"\bs=\s*([^;\s]+)", sig.group(1)) or re.match(b"()", b"")).group(1)
        key = keys.get(s.lower() + b"._domainkey." + d.lower(), b"v=DKIM1; p=")
        put("dkim", "maildkim-" + os.path.basename(path).rsplit(".", 1)[0], msg + SEP + key)

# ---- arc ----
VALIDATION = os.path.join(TESTDATA, "arc", "arc-draft-validation-tests.yml")
if os.path.isfile(VALIDATION):
    with open(VALIDATION, encoding="utf-8") as f:
        docs = list(yaml.safe_load_all(f))
    for doc in docs:
        for name, test in ((doc or {}).get("tests") or {}).items():
            records = (doc.get("txt-records") or {})
            key = next((v for k, v in sorted(records.items()) if "._domainkey." in k), "")
            msg = crlf(str(test.get("message", "")).encode("utf-8"))
            put("arc", name, b"\0" + msg + SEP + key.encode("utf-8"))

print("seeds-from-testdata: " + ", ".join("%s %d" % kv for kv in sorted(counts.items())) +
      " in " + OUT)
