"""check_json.py OUTDIR: the zones of OUTDIR/check.zonelist as one JSON map
name -> type -> records, in the shapes Node's dns.promises.resolve returns
(TXT: a list of character-string lists; MX: {exchange, priority}; A, AAAA,
PTR, CNAME, NS: text), for the resolver functions of check_npm.js and
check_authheaders.py.  Names lower-case, without the final dot.
Debian: python3-dnspython, run with /usr/bin/python3.
"""
import json
import sys

import dns.name
import dns.rdatatype
import dns.zone


def records(rdtype, rdataset):
    if rdtype == dns.rdatatype.TXT:
        return [[s.decode("latin-1") for s in r.strings] for r in rdataset]
    if rdtype == dns.rdatatype.MX:
        return [{"exchange": r.exchange.to_text(omit_final_dot=True),
                 "priority": r.preference} for r in rdataset]
    if rdtype in (dns.rdatatype.PTR, dns.rdatatype.CNAME, dns.rdatatype.NS):
        return [r.target.to_text(omit_final_dot=True) for r in rdataset]
    return [r.to_text() for r in rdataset]


def main():
    out = sys.argv[1]
    data = {}
    with open(out + "/check.zonelist") as f:
        paths = [l.strip() for l in f if l.strip()]
    for path in paths:
        origin = path.rsplit("/", 1)[-1][:-len(".zone")] + "."
        zone = dns.zone.from_file(path, origin=origin, relativize=False,
                                  check_origin=False)
        for name, node in zone.nodes.items():
            key = name.to_text(omit_final_dot=True).lower()
            for rdataset in node.rdatasets:
                t = dns.rdatatype.to_text(rdataset.rdtype)
                data.setdefault(key, {}).setdefault(t, []).extend(
                    records(rdataset.rdtype, rdataset))
    with open(out + "/check.json", "w") as f:
        json.dump(data, f)


if __name__ == "__main__":
    main()
