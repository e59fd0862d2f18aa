#!/usr/bin/python3
"""faultdns.py - a misbehaving DNS server for the fault specs.

  /usr/bin/python3 spec/support/faultdns.py [--port N] [--port-file F]
      [--lifetime SECONDS] [--dkim-key FILE]

Serves the zone fault.test. on 127.0.0.1, over UDP and TCP on one port
(--port, or one the kernel picks, written to --port-file).  The label just
left of "fault.test" names the behaviour, so that every lookup a check makes
for a domain F.fault.test meets it: SPF (TXT F.fault.test), DKIM and ARC
keys (TXT s._domainkey.F.fault.test), DMARC (TXT _dmarc.F.fault.test).
For iprev, the reverse names of 10.53.0.N meet fault number N of FAULTS on
the PTR lookup itself (its target host0.F.fault.test, whose A is 10.53.0.N);
those of 10.53.1.N answer PTR host1.F.fault.test correctly and its forward
A lookup meets fault N.  TXT list.fault.test
lists "N name" for every fault, so a spec reads the numbering from here.

Behaviours (F):
  ok             correct answers (SPF "v=spf1 -all", DMARC p=reject, the
                 DKIM key of --dkim-key, PTR/A as above)
  silent         never answers
  late-MS        the correct answer after MS milliseconds
  wrongid        the correct answer with another message id
  wrongq         an answer to another question (another name)
  wrongowner     the records owned by another name
  servfail, refused   that RCODE
  tc-tcprefused  TC=1 over UDP; over TCP the connection is reset
  tc-tcpstall    TC=1 over UDP; over TCP it reads the query, never answers
  tclate-MS      TC=1 over UDP; over TCP the correct answer after MS ms
  bigtxt         TC=1 over UDP; over TCP one TXT record of about 64 KB
  many           TC=1 over UDP; over TCP as many records as fit in 64 KB
                 (about 3 600 TXT or 4 000 A records)
  cnameloop      two CNAMEs that point at each other
  comploop       an answer whose owner is a compression pointer to itself
  garbage        random bytes behind the right message id

It stops by itself after --lifetime seconds (default 900), on SIGTERM and
SIGINT.  Debian: python3-dnspython, run with /usr/bin/python3.
"""
import argparse
import os
import random
import signal
import socket
import struct
import sys
import threading
import time

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

ZONE = dns.name.from_text("fault.test.")
FAULTS = ["ok", "silent", "late-200", "late-3000", "wrongid", "wrongq",
          "wrongowner", "servfail", "refused", "tc-tcprefused",
          "tc-tcpstall", "bigtxt", "many", "cnameloop", "comploop",
          "garbage"]
TTL = 60
WIRE_MAX = 65535
DKIM_KEY = None  # the TXT text of the ok key, from --dkim-key


def fault_of(qname):
    """(fault, mode) for a name: mode "ptr" or "fwd" for the 10.53 reverse
    names, "zone" under fault.test, None elsewhere."""
    labels = [l.decode("ascii", "replace").lower() for l in qname.labels]
    if qname.is_subdomain(ZONE) and len(labels) > 3:
        return labels[-4], "zone"
    if len(labels) == 7 and labels[2:6] == ["53", "10", "in-addr", "arpa"]:
        try:
            n = int(labels[0])
        except ValueError:
            return None, None
        if labels[1] in ("0", "1") and 1 <= n <= len(FAULTS):
            return FAULTS[n - 1], "ptr" if labels[1] == "0" else "fwd"
    return None, None


def good_answer(query, qname, qtype, fault, mode):
    """The correct response to query (a dns.message), for the ok data."""
    resp = dns.message.make_response(query)
    resp.flags |= dns.flags.RA
    text = qname.to_text().lower()
    rrs = None
    if qtype == dns.rdatatype.TXT:
        if text == "list.fault.test.":
            rrs = ['"%d %s"' % (i + 1, f) for i, f in enumerate(FAULTS)]
        elif text.startswith("_dmarc."):
            rrs = ['"v=DMARC1; p=reject"']
        elif "._domainkey." in text:
            if DKIM_KEY is None:
                resp.set_rcode(dns.rcode.NXDOMAIN)
                return resp
            rrs = [" ".join('"%s"' % DKIM_KEY[i:i + 250]
                            for i in range(0, len(DKIM_KEY), 250))]
        else:
            rrs = ['"v=spf1 -all"']
    elif qtype == dns.rdatatype.PTR and text.endswith(".in-addr.arpa."):
        rrs = ["host%d.%s.fault.test." % (mode == "fwd", fault)]
    elif qtype == dns.rdatatype.A and text[:6] in ("host0.", "host1."):
        # forward-confirms the address whose PTR named it
        rrs = ["10.53.%s.%d" % (text[4], FAULTS.index(fault) + 1)
               if fault in FAULTS else "10.53.9.9"]
    if rrs:
        resp.answer.append(dns.rrset.from_text_list(
            qname, TTL, dns.rdataclass.IN, qtype, rrs))
    return resp


def to_wire(msg, limit):
    try:
        return msg.to_wire(max_size=limit)
    except dns.exception.TooBig:
        return None


def many_answer(query_wire, qlen, qtype):
    """Up to 5 000 records of qtype (TXT for types other than A), as many
    as fit in one TCP message: built by hand, the owner a compression
    pointer to the question's name (dnspython takes seconds for this)."""
    if qtype != dns.rdatatype.A:
        qtype = dns.rdatatype.TXT
    body = b""
    count = 0
    limit = WIRE_MAX - 12 - qlen
    while count < 5000:
        if qtype == dns.rdatatype.A:
            rdata = bytes([10, count >> 16 & 255, count >> 8 & 255, count & 255])
        else:
            text = b"x%d" % count
            rdata = bytes([len(text)]) + text
        rr = struct.pack("!HHHIH", 0xC00C, qtype, 1, TTL, len(rdata)) + rdata
        if len(body) + len(rr) > limit:
            break
        body += rr
        count += 1
    head = query_wire[:2] + struct.pack("!HHHHH", 0x8180, 1, count, 0, 0)
    return head + query_wire[12:12 + qlen] + body


def comploop_answer(query_wire, qlen):
    """Header, the question as asked, and one A record whose owner name is
    a compression pointer to itself (RFC 1035 §4.1.4 pointers must point
    backwards to a name; this one never ends)."""
    head = query_wire[:2] + struct.pack("!HHHHH", 0x8180, 1, 1, 0, 0)
    question = query_wire[12:12 + qlen]
    off = 12 + qlen
    rr = struct.pack("!BBHHIH", 0xC0 | off >> 8, off & 255, 1, 1, TTL, 4)
    return head + question + rr + bytes([192, 0, 2, 1])


def respond(wire, transport):
    """(delay_s, reply bytes | None, action) for one query; action is
    "reply", "drop" (never answer), "reset" (TCP: close with RST)."""
    try:
        query = dns.message.from_wire(wire)
    except Exception:
        return 0, None, "drop"
    if len(query.question) != 1:
        return 0, None, "drop"
    q = query.question[0]
    qname, qtype = q.name, q.rdtype
    fault, mode = fault_of(qname)
    if fault is None or fault not in FAULTS and fault != "list" and \
            not fault.startswith(("late-", "tclate-")):
        # outside the zone: not ours; inside (fault.test, _dmarc.fault.test):
        # no such name
        resp = dns.message.make_response(query)
        resp.set_rcode(dns.rcode.NXDOMAIN if qname.is_subdomain(ZONE)
                       else dns.rcode.REFUSED)
        return 0, resp.to_wire(), "reply"
    if mode == "fwd" and qtype == dns.rdatatype.PTR:
        fault_here = "ok"  # the PTR is right; its A lookup meets the fault
    else:
        fault_here = fault
    good = good_answer(query, qname, qtype, fault, mode)
    if fault_here in ("ok", "list"):
        return 0, good.to_wire(), "reply"
    if fault_here == "silent":
        return 0, None, "drop"
    if fault_here.startswith("late-"):
        try:
            ms = int(fault_here[5:])
        except ValueError:
            ms = 1000
        return min(ms, 60000) / 1000.0, good.to_wire(), "reply"
    if fault_here == "wrongid":
        good.id = (query.id + 1) & 0xFFFF
        return 0, good.to_wire(), "reply"
    if fault_here == "wrongq":
        other = dns.message.make_query("other.fault.test.", qtype)
        other.id = query.id
        resp = dns.message.make_response(other)
        resp.answer = good.answer
        return 0, resp.to_wire(), "reply"
    if fault_here == "wrongowner":
        elsewhere = dns.name.from_text("elsewhere.fault.test.")
        moved = []
        for rrset in good.answer:
            rs = dns.rrset.RRset(elsewhere, rrset.rdclass, rrset.rdtype)
            rs.update(rrset)
            moved.append(rs)
        good.answer = moved
        return 0, good.to_wire(), "reply"
    if fault_here in ("servfail", "refused"):
        resp = dns.message.make_response(query)
        resp.set_rcode(dns.rcode.SERVFAIL if fault_here == "servfail"
                       else dns.rcode.REFUSED)
        return 0, resp.to_wire(), "reply"
    if fault_here.startswith("tclate-"):
        if transport == "udp":
            resp = dns.message.make_response(query)
            resp.flags |= dns.flags.TC
            return 0, resp.to_wire(), "reply"
        try:
            ms = int(fault_here[7:])
        except ValueError:
            ms = 1000
        return min(ms, 60000) / 1000.0, good.to_wire(), "reply"
    if fault_here in ("tc-tcprefused", "tc-tcpstall", "bigtxt", "many"):
        if transport == "udp":
            resp = dns.message.make_response(query)
            resp.flags |= dns.flags.TC
            return 0, resp.to_wire(), "reply"
        if fault_here == "tc-tcprefused":
            return 0, None, "reset"
        if fault_here == "tc-tcpstall":
            return 0, None, "drop"
        if fault_here == "many":
            return 0, many_answer(wire, len(qname.to_wire()) + 4, qtype), "reply"
        if qtype != dns.rdatatype.TXT:
            return 0, good.to_wire(), "reply"
        big = dns.message.make_response(query)
        chunk = "v=spf1 " + "a" * 240
        big.answer.append(dns.rrset.from_text_list(
            qname, TTL, dns.rdataclass.IN, dns.rdatatype.TXT,
            [" ".join('"%s"' % chunk for _ in range(250))]))
        return 0, to_wire(big, WIRE_MAX), "reply"
    if fault_here == "cnameloop":
        other = dns.name.from_text("a.cnameloop.fault.test.")
        if qname == other:
            other = dns.name.from_text("b.cnameloop.fault.test.")
        resp = dns.message.make_response(query)
        resp.answer.append(dns.rrset.from_text(
            qname, TTL, "IN", "CNAME", other.to_text()))
        resp.answer.append(dns.rrset.from_text(
            other, TTL, "IN", "CNAME", qname.to_text()))
        return 0, resp.to_wire(), "reply"
    if fault_here == "comploop":
        return 0, comploop_answer(wire, len(qname.to_wire()) + 4), "reply"
    if fault_here == "garbage":
        noise = bytes(random.getrandbits(8) for _ in range(random.randint(12, 300)))
        return 0, wire[:2] + noise, "reply"
    resp = dns.message.make_response(query)
    resp.set_rcode(dns.rcode.REFUSED)
    return 0, resp.to_wire(), "reply"


def later(delay, fn):
    if delay <= 0:
        fn()
        return
    t = threading.Timer(delay, fn)
    t.daemon = True
    t.start()


def serve_udp(sock):
    while True:
        try:
            wire, peer = sock.recvfrom(WIRE_MAX)
        except OSError:
            return
        delay, reply, action = respond(wire, "udp")
        if action == "reply" and reply is not None:
            later(delay, lambda r=reply, p=peer: sock.sendto(r, p))


def recv_exact(conn, n):
    data = b""
    while len(data) < n:
        piece = conn.recv(n - len(data))
        if not piece:
            return None
        data += piece
    return data


def serve_tcp_conn(conn):
    try:
        while True:
            head = recv_exact(conn, 2)
            if head is None:
                return
            wire = recv_exact(conn, struct.unpack("!H", head)[0])
            if wire is None:
                return
            delay, reply, action = respond(wire, "tcp")
            if action == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                struct.pack("ii", 1, 0))
                return
            if action == "drop" or reply is None:
                # hold the connection open, unanswered, until the client goes
                while conn.recv(4096):
                    pass
                return
            time.sleep(delay)
            conn.sendall(struct.pack("!H", len(reply)) + reply)
    except OSError:
        return
    finally:
        conn.close()


def serve_tcp(sock):
    while True:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        threading.Thread(target=serve_tcp_conn, args=(conn,), daemon=True).start()


def bind_both(port):
    """A UDP and a TCP socket on the same 127.0.0.1 port."""
    for _ in range(50):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", port))
        got = udp.getsockname()[1]
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            tcp.bind(("127.0.0.1", got))
        except OSError:
            udp.close()
            tcp.close()
            if port:
                raise
            continue
        tcp.listen(64)
        return udp, tcp, got
    raise OSError("no free port for UDP and TCP together")


def main():
    global DKIM_KEY
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--lifetime", type=float, default=900)
    ap.add_argument("--dkim-key", help="file holding the TXT text of the ok DKIM key")
    args = ap.parse_args()
    if args.dkim_key:
        with open(args.dkim_key) as f:
            DKIM_KEY = " ".join(f.read().split())
    udp, tcp, port = bind_both(args.port)
    threading.Thread(target=serve_udp, args=(udp,), daemon=True).start()
    threading.Thread(target=serve_tcp, args=(tcp,), daemon=True).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, args.port_file)
    else:
        print(port, flush=True)
    stop.wait(args.lifetime)
    sys.exit(0)


if __name__ == "__main__":
    main()
