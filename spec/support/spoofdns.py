#!/usr/bin/python3
"""spoofdns.py - a DNS server that forges replies, for spec/dns_socket_spec.lua.

  /usr/bin/python3 spec/support/spoofdns.py --port-file F [--lifetime SECONDS]

Serves TXT records under sock.test. over UDP on 127.0.0.1 (a port the
kernel picks, written to F).  What it does depends on the name asked:

  port.sock.test      TXT "<the source port the query came from>": a spec
                      sees which client socket asked
  wrongsrc.sock.test  a reply TXT "forged" with the right id and question,
                      sent from ANOTHER port of 127.0.0.1 (a second socket),
                      then after 150 ms the genuine reply TXT "genuine"
  wrongid.sock.test   "forged" with the id plus one, then "genuine"
  wrongq.sock.test    "forged" answering another name (wrongr.sock.test),
                      then "genuine"
  wrongtype.sock.test "forged" with the question's type A, then "genuine"
  close.sock.test     TXT "closing"; then the server's socket is closed
                      for 600 ms (queries meet ICMP port unreachable) and
                      opened again on the same port

The forged replies are what an off-path attacker racing the real server
would send (RFC 5452 §4): only the id, the question and the addresses tell
them from the real one.  Stops after --lifetime seconds (default 600), on
SIGTERM and SIGINT.  Debian: python3-dnspython, run with /usr/bin/python3.
"""
import argparse
import os
import signal
import socket
import sys
import threading
import time

import dns.flags
import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rrset

ZONE = dns.name.from_text("sock.test.")
DELAY = 0.15


def reply(query, name, rdtype, text, qname=None, qtype=None):
    """A response to query carrying TXT text; the question rewritten to
    (qname, qtype) when given."""
    resp = dns.message.make_response(query)
    resp.flags |= dns.flags.RA
    if qname is not None or qtype is not None:
        q = resp.question[0]
        resp.question = [dns.rrset.RRset(qname or q.name, q.rdclass,
                                          qtype or q.rdtype)]
    resp.answer.append(dns.rrset.from_text_list(
        name, 60, dns.rdataclass.IN, rdtype, ['"%s"' % text]))
    return resp.to_wire()


class Server:
    def __init__(self):
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        # The forger: another port of the same host.
        self.other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.other.bind(("127.0.0.1", 0))

    def later(self, wire, peer):
        def send():
            time.sleep(DELAY)
            with self.lock:
                try:
                    self.sock.sendto(wire, peer)
                except OSError:
                    pass
        threading.Thread(target=send, daemon=True).start()

    def handle(self, wire, peer):
        try:
            query = dns.message.from_wire(wire)
        except Exception:
            return
        if len(query.question) != 1:
            return
        q = query.question[0]
        name = q.name
        label = name.labels[0].decode("ascii", "replace").lower() \
            if name.is_subdomain(ZONE) and len(name) == 4 else ""
        genuine = reply(query, name, q.rdtype, "genuine")
        if label == "port":
            self.sock.sendto(reply(query, name, q.rdtype, str(peer[1])), peer)
        elif label == "wrongsrc":
            self.other.sendto(reply(query, name, q.rdtype, "forged"), peer)
            self.later(genuine, peer)
        elif label == "wrongid":
            forged = bytearray(reply(query, name, q.rdtype, "forged"))
            forged[0:2] = ((query.id + 1) & 0xFFFF).to_bytes(2, "big")
            self.sock.sendto(bytes(forged), peer)
            self.later(genuine, peer)
        elif label == "wrongq":
            # same length as the name asked: only the letters tell them apart
            other = dns.name.from_text("wrongr.sock.test.")
            self.sock.sendto(reply(query, other, q.rdtype, "forged", qname=other), peer)
            self.later(genuine, peer)
        elif label == "wrongtype":
            self.sock.sendto(reply(query, name, q.rdtype, "forged",
                                   qtype=dns.rdatatype.A), peer)
            self.later(genuine, peer)
        elif label == "close":
            self.sock.sendto(reply(query, name, q.rdtype, "closing"), peer)
            return "close"
        else:
            self.sock.sendto(genuine, peer)
        return None

    def serve(self):
        while True:
            try:
                wire, peer = self.sock.recvfrom(65535)
            except OSError:
                time.sleep(0.01)
                continue
            if self.handle(wire, peer) == "close":
                with self.lock:
                    self.sock.close()
                    time.sleep(0.6)
                    self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    self.sock.bind(("127.0.0.1", self.port))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--lifetime", type=float, default=600)
    args = ap.parse_args()
    server = Server()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    threading.Timer(args.lifetime, lambda: os._exit(0)).start()
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.port)
    os.rename(tmp, args.port_file)
    server.serve()


if __name__ == "__main__":
    sys.exit(main())
