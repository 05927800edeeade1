#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Many threads blocked in recv at once, and their check against a report.

  blockrecv.py run [-n THREADS] -o TRUTH.json
  blockrecv.py check --truth TRUTH.json --report REPORT.json [--label L]

run: a server process listens, accepts THREADS (default 40) connections and
blocks one thread in recv on each; once all are asleep (2 s), the client
process writes 1,000 bytes to each. Every blocked call then returns at
once, which is what a kretprobe with too few instances misses.
check: the client -> server flow carries THREADS x 1,000 bytes, tx and rx.
"""
import argparse
import json
import os
import socket
import sys
import threading
import time


def run(a):
    l = socket.socket()
    l.bind(("127.0.0.1", 0))
    l.listen(a.n)
    port = l.getsockname()[1]
    pid = os.fork()
    if pid == 0:
        cs = [socket.create_connection(("127.0.0.1", port)) for _ in range(a.n)]
        time.sleep(2)
        for c in cs:
            c.sendall(b"y" * 1000)
        time.sleep(0.5)
        os._exit(0)
    ss = [l.accept()[0] for _ in range(a.n)]
    got = [0] * a.n

    def rd(i):
        while got[i] < 1000:
            d = ss[i].recv(4096)
            if not d:
                break
            got[i] += len(d)
    ts = [threading.Thread(target=rd, args=(i,)) for i in range(a.n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    ok = os.waitpid(pid, 0)[1] == 0
    with open(a.o, "w") as f:
        json.dump({"ok": ok, "server": "tcp://127.0.0.1:%d" % port,
                   "sent": 1000 * a.n, "read": sum(got)}, f)
    return 0 if ok else 1


def check(a):
    t = json.load(open(a.truth))
    r = json.load(open(a.report))
    f = [x for x in r["flows"] if x["dst"] == t["server"]]
    got = (f[0]["bytes"], f[0]["tx_bytes"], f[0]["rx_bytes"]) if len(f) == 1 else None
    good = t["ok"] and got == (t["sent"], t["sent"], t["read"])
    print("%s - %s: %d bytes to %d threads blocked in recv at once counted (want %s, got %s)"
          % ("ok  " if good else "FAIL", a.label, t["read"], t["read"] // 1000,
             (t["sent"], t["sent"], t["read"]), got))
    return 0 if good else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("-n", type=int, default=40)
    r.add_argument("-o", required=True)
    c = sub.add_parser("check")
    c.add_argument("--truth", required=True)
    c.add_argument("--report", required=True)
    c.add_argument("--label", default="blockrecv")
    a = ap.parse_args()
    return run(a) if a.cmd == "run" else check(a)


if __name__ == "__main__":
    sys.exit(main())
