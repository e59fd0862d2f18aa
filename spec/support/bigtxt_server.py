"""A loopback DNS server answering every TXT question with one record of
about 64 KB (250 character-strings of 255 bytes, then the name asked, so
every answer differs), TTL 300.  Over UDP it sets TC=1 with no answer, as
a server must when the answer does not fit, so the client asks again over
TCP; with "udp" as second argument it sends the whole answer in one UDP
datagram instead (ignoring the client's EDNS size, as a misbehaving
server does; loopback carries 64 KB datagrams), which is ten times faster.
Used by spec/cache_bytes_spec.lua to fill the resolver cache.

    /usr/bin/python3 spec/support/bigtxt_server.py PORTFILE [udp]

binds 127.0.0.1 on a free port (the same for UDP and TCP), writes the
port to PORTFILE, and serves until killed.  Only the standard library.
"""
import socket
import struct
import sys
import threading

CHUNK = b"x" * 255
STRINGS = 250
BODY = b"".join(bytes([255]) + CHUNK for _ in range(STRINGS))


def question(msg):
    """(id, flags, question bytes, qtype) of a query, or None."""
    if len(msg) < 12:
        return None
    qid, flags, qd = struct.unpack("!HHH", msg[:6])
    if qd != 1:
        return None
    p = 12
    labels = []
    while p < len(msg) and msg[p] != 0:
        n = msg[p]
        if n & 0xC0:
            return None
        labels.append(msg[p + 1:p + 1 + n])
        p += 1 + n
    if p + 5 > len(msg):
        return None
    qtype = struct.unpack("!H", msg[p + 1:p + 3])[0]
    return qid, flags, msg[12:p + 5], qtype, b".".join(labels)


def reply(msg, full):
    q = question(msg)
    if q is None:
        return None
    qid, flags, qbytes, qtype, name = q
    rd = flags & 0x0100
    if qtype != 16:
        return struct.pack("!HHHHHH", qid, 0x8400 | rd, 1, 0, 0, 0) + qbytes
    if not full:  # truncated: retry over TCP
        return struct.pack("!HHHHHH", qid, 0x8600 | rd, 1, 0, 0, 0) + qbytes
    tail = name[:255]
    rdata = BODY + bytes([len(tail)]) + tail
    rr = b"\xc0\x0c" + struct.pack("!HHIH", 16, 1, 300, len(rdata)) + rdata
    return struct.pack("!HHHHHH", qid, 0x8400 | rd, 1, 1, 0, 0) + qbytes + rr


def serve_udp(sock, full):
    while True:
        msg, peer = sock.recvfrom(4096)
        out = reply(msg, full)
        if out is not None:
            sock.sendto(out, peer)


def serve_tcp_conn(conn):
    try:
        while True:
            head = conn.recv(2, socket.MSG_WAITALL)
            if len(head) < 2:
                return
            n = struct.unpack("!H", head)[0]
            msg = conn.recv(n, socket.MSG_WAITALL)
            out = reply(msg, True)
            if out is None:
                return
            conn.sendall(struct.pack("!H", len(out)) + out)
    except OSError:
        pass
    finally:
        conn.close()


def main():
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("127.0.0.1", 0))
    port = tcp.getsockname()[1]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", port))
    udp.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
    tcp.listen(128)
    full = len(sys.argv) > 2 and sys.argv[2] == "udp"
    threading.Thread(target=serve_udp, args=(udp, full), daemon=True).start()
    with open(sys.argv[1], "w") as f:
        f.write(str(port))
    while True:
        conn, _ = tcp.accept()
        threading.Thread(target=serve_tcp_conn, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
