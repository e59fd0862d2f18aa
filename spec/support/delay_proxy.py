#!/usr/bin/python3
"""A UDP DNS proxy that holds each query DELAY seconds before passing it on
to the upstream server, and logs "Q" for each query it takes and "R" for
each reply it sends back.  A client that sends a round's queries together
and waits for their replies before the next round makes a log where each
round is a run of Q lines after an R: spec/rspamd_check_spec.lua counts
them as its round trips (the delay keeps a round's replies after its
queries even on a loaded machine).

delay_proxy.py --upstream 127.0.0.1:5353 --delay 0.04 --port-file F --log L --lifetime S
"""
import argparse, socket, threading, time

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--delay", type=float, default=0.04)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--lifetime", type=float, default=600)
    a = ap.parse_args()
    host, port = a.upstream.rsplit(":", 1)
    up = (host, int(port))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    log = open(a.log, "a", buffering=1)
    lock = threading.Lock()

    def relay(data, client):
        time.sleep(a.delay)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(2)
        try:
            u.sendto(data, up)
            reply, _ = u.recvfrom(65535)
            with lock:
                log.write("R\n")
                s.sendto(reply, client)
        except OSError:
            pass
        finally:
            u.close()

    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(s.getsockname()[1]))
    import os
    os.rename(a.port_file + ".tmp", a.port_file)
    stop = time.monotonic() + a.lifetime
    s.settimeout(1)
    while time.monotonic() < stop:
        try:
            data, client = s.recvfrom(65535)
        except socket.timeout:
            continue
        with lock:
            log.write("Q\n")
        threading.Thread(target=relay, args=(data, client), daemon=True).start()

main()
