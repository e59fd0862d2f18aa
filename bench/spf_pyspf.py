"""pyspf (python3-spf) on the synthetic zone, DNS answered from a dict.

usage: /usr/bin/python3 spf_pyspf.py check|bench SECONDS  RRFILE CASEFILE
check: one result a line, in case order.  bench: BENCH best r1 r2 r3
(evaluations per CPU second, best of 3 rounds after a warm-up pass).
"""
import sys
from pyrounds import best_of_three

import spf


def load_zone(path):
    zone = {}
    with open(path, encoding="ascii") as f:
        for line in f:
            name, qtype, data = line.rstrip("\n").split("\t")
            key = (name.lower(), qtype)
            if qtype == "TXT":
                value = [data.encode("ascii")]
            elif qtype == "MX":
                pref, exchange = data.split()
                value = (int(pref), exchange)
            else:
                value = data
            zone.setdefault(key, []).append(value)
    return zone


def install_resolver(zone):
    # The shape of spf.DNSLookup_dnspython's answer: [((name, qtype), value)].
    def lookup(name, qtype, strict=True, timeout=None):
        return [((name, qtype), v) for v in zone.get((name.lower().rstrip("."), qtype), ())]
    spf.DNSLookup = lookup


def load_cases(path):
    with open(path, encoding="ascii") as f:
        return [tuple(line.rstrip("\n").split("\t")) for line in f if line.strip()]


def evaluate(case):
    ip, sender, helo = case
    return spf.query(i=ip, s=sender, h=helo).check()[0]


def main():
    mode = sys.argv[1]
    args = sys.argv[2:]
    seconds = 0.0
    if mode == "bench":
        seconds = float(args.pop(0))
    install_resolver(load_zone(args[0]))
    cases = load_cases(args[1])
    if mode == "check":
        for case in cases:
            print(evaluate(case))
        return

    def step():
        for case in cases:
            evaluate(case)
        return len(cases)

    best_of_three(step, seconds)


if __name__ == "__main__":
    main()
