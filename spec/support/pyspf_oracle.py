#!/usr/bin/python3
"""Runs pyspf (Debian python3-spf) over the generated SPF cases, offline.

    /usr/bin/python3 spec/support/pyspf_oracle.py CASES.json

(CASES.json: what spec/support/gen_spf_cases.lua prints; spec/spf_pyspf_spec.lua
writes it to a temporary file at test time.)

spf.DNSLookup is replaced by a lookup in the case's zone, so no query
leaves the process.  Prints one JSON object: {"<id>": [result, explanation]}.
Zone rules match spec/spf_pyspf_spec.lua: a name absent from the zone is
NXDOMAIN, a listed name without the type has no records, TIMEOUT at a name
makes every type not listed there time out.
"""
import json
import sys

import spf


def make_lookup(zone):
    def lookup(name, qtype, *args, **kwargs):
        name = str(name).lower().rstrip('.')
        z = zone.get(name)
        if z is None:
            return []
        recs = z.get(qtype)
        if recs is None:
            if z.get('TIMEOUT'):
                raise spf.TempError('DNS timeout for %s %s' % (name, qtype))
            return []
        out = []
        for v in recs:
            if qtype == 'TXT':
                out.append(((name, qtype), [v.encode('latin-1')]))
            elif qtype == 'MX':
                out.append(((name, qtype), (v[0], v[1])))
            else:
                out.append(((name, qtype), v))
        return out
    return lookup


def main():
    with open(sys.argv[1], encoding='utf-8') as f:
        data = json.load(f)
    out = {}
    for case in data['cases']:
        zone = data['zones'][case['zone'] - 1]
        spf.DNSLookup = make_lookup(zone)
        q = spf.query(i=case['ip'], s=case['sender'], h=case['helo'],
                      receiver='receiver.example', strict=True)
        q.t = str(data['now'])
        q.set_default_explanation('DEFAULT')
        result, _code, explanation = q.check()
        out[str(case['id'])] = [result, explanation if result == 'fail' else None]
    json.dump(out, sys.stdout, sort_keys=True)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
