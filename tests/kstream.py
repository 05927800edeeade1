#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Known streams that end at close, and their check against a report.

  kstream.py run [-n PAIRS] [--reset] -o TRUTH.json
  kstream.py check --truth TRUTH.json --report REPORT.json [--label L]

run: PAIRS client/server process pairs at once, IPv4 and IPv6 in turn.
Each server process listens on its own port, accepts one connection,
reads a 300,000-byte request the client wrote in writes of 1 B to 64 KiB,
sends 5,000,000 bytes back in one sendall and closes at once, then exits.
With --reset the client writes one byte more than the server reads, so
the server's close resets the connection (RFC 2525): the client gets what
had reached it before the reset, which on a slow machine can be less than
was sent. Each process counts what its own calls returned; TRUTH.json
holds those counts.

check: each flow between a pair carries exactly the counted bytes: the
reply's tx_bytes = what sendall sent, rx_bytes = what the client read;
the request's the same way. Prints "ok - ..." / "FAIL - ..." lines.
"""
import argparse
import json
import os
import socket
import sys

REQ = 300000
REPLY = 5000000


def server(fam, addr, reset, wfd):
    l = socket.socket(fam)
    l.bind((addr, 0))
    l.listen()
    os.write(wfd, b"%d\n" % l.getsockname()[1])
    s, _ = l.accept()
    l.close()
    n = 0
    while n < REQ:
        d = s.recv(min(65536, REQ - n))
        if not d:
            break
        n += len(d)
    s.sendall(b"x" * REPLY)
    s.close()
    os.write(wfd, b"%d\n" % n)
    os._exit(0)


def client(fam, addr, port, reset):
    c = socket.create_connection((addr, port))
    want = REQ + (1 if reset else 0)
    sent, sz = 0, 1
    while sent < want:
        k = min(sz, want - sent)
        c.sendall(b"r" * k)
        sent += k
        sz = sz * 2 if sz < 65536 else 1
    got = 0
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            got += len(d)
    except ConnectionResetError:
        if not reset:
            raise
    c.close()
    return sent, got


def one_pair(i, reset, wfd_out):
    fam, addr = ((socket.AF_INET, "127.0.0.1") if i % 2 == 0 else
                 (socket.AF_INET6, "::1"))
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        server(fam, addr, reset, wfd)
    os.close(wfd)
    f = os.fdopen(rfd)
    port = int(f.readline())
    sent, got = client(fam, addr, port, reset)
    srv_rx = int(f.readline())
    os.waitpid(pid, 0)
    ep = "tcp://%s:%d" % (addr if fam == socket.AF_INET else "[%s]" % addr, port)
    os.write(wfd_out, (json.dumps({
        "server": ep, "server_pid": pid, "client_pid": os.getpid(),
        "request_sent": sent, "request_read": srv_rx,
        "reply_sent": REPLY, "reply_read": got}) + "\n").encode())
    os._exit(0)


def run(a):
    rfd, wfd = os.pipe()
    kids = []
    for i in range(a.n):
        pid = os.fork()
        if pid == 0:
            os.close(rfd)
            one_pair(i, a.reset, wfd)
        kids.append(pid)
    os.close(wfd)
    ok = True
    for pid in kids:
        ok &= os.waitpid(pid, 0)[1] == 0
    pairs = [json.loads(x) for x in os.fdopen(rfd).read().splitlines()]
    ok &= len(pairs) == a.n
    with open(a.o, "w") as f:
        json.dump({"ok": ok, "reset": a.reset, "pairs": pairs}, f)
    return 0 if ok else 1


def check(a):
    truth = json.load(open(a.truth))
    rep = json.load(open(a.report))
    fails = 0

    def out(good, msg):
        nonlocal fails
        fails += not good
        print("%s - %s: %s" % ("ok  " if good else "FAIL", a.label, msg))

    out(truth.get("ok") is True, "the stream pairs ran (%d)" % len(truth["pairs"]))
    flows = {(f["src"], f["dst"]): f for f in rep.get("flows", [])}
    bad = []
    for p in truth["pairs"]:
        client = "pid:%d/" % p["client_pid"]
        for src, dst, tx, rx in ((p["server"], client, p["reply_sent"], p["reply_read"]),
                                 (client, p["server"], p["request_sent"], p["request_read"])):
            f = [v for (s, d), v in flows.items() if s.startswith(src) and d.startswith(dst)]
            got = (f[0]["bytes"], f[0]["tx_bytes"], f[0]["rx_bytes"]) if len(f) == 1 else None
            if got != (tx, tx, rx):
                bad.append("%s -> %s: want bytes=tx=%d rx=%d, got %s" % (src, dst, tx, rx, got))
    out(not bad, "%d flows exact (reply of %d bytes sent just before close; request)"
        % (2 * len(truth["pairs"]), REPLY) + ("" if not bad else ": " + "; ".join(bad)))
    drops = {k: v for k, v in (rep.get("drops") or {}).items()
             if v and k not in a.allow_drop}
    out(not drops, "all drop counters zero" + ("" if not drops else ": %s" % drops))
    return 1 if fails else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("-n", type=int, default=5)
    r.add_argument("--reset", action="store_true")
    r.add_argument("-o", required=True)
    c = sub.add_parser("check")
    c.add_argument("--truth", required=True)
    c.add_argument("--report", required=True)
    c.add_argument("--label", default="kstream")
    c.add_argument("--allow-drop", action="append", default=[],
                   help="a drop counter that may be non-zero (bytes must still be exact)")
    a = ap.parse_args()
    return run(a) if a.cmd == "run" else check(a)


if __name__ == "__main__":
    sys.exit(main())
