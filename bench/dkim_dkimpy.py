"""dkimpy (python3-dkim): dkim.verify with the key answered from memory.

usage: /usr/bin/python3 dkim_dkimpy.py check|bench SECONDS MESSAGE TXTFILE
check prints "pass" or "fail"; bench prints "BENCH best r1 r2 r3" in
verifications per CPU second (best of 3 rounds after a warm-up).
"""
import sys
from pyrounds import best_of_three

import dkim


def main():
    mode = sys.argv[1]
    args = sys.argv[2:]
    seconds = float(args.pop(0)) if mode == "bench" else 0.0
    with open(args[0], "rb") as f:
        msg = f.read()
    with open(args[1], "rb") as f:
        record = f.read().strip()

    def dnsfunc(name, timeout=5):
        return record if name == b"bench._domainkey.example.com." or \
            name == b"bench._domainkey.example.com" else None

    def verify():
        try:
            return dkim.verify(msg, dnsfunc=dnsfunc)
        except dkim.ValidationError:  # a body-hash mismatch raises
            return False

    if mode == "check":
        print("pass" if verify() else "fail")
        return

    def step():
        if not verify():
            sys.exit("dkimpy: verification failed")
        return 1

    best_of_three(step, seconds)


if __name__ == "__main__":
    main()
