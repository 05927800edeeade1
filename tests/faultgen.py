#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Workloads for tests/t_faults.sh; each prints its own ground truth.

  sink PORT OUT        listen on 127.0.0.1:PORT, count every byte received
                       until all connections are closed (at least one),
                       write {"pid", "rx_bytes"} to OUT, exit.
  source PORT LPORT N  listen on 127.0.0.1:LPORT (so it is named like a
                       worker), open N connections to PORT and send until
                       killed; prints "ready PID" once sending.
  reuse PORT           twice: a new process listens on PORT (the second
                       one, where it can, with the first one's pid, by
                       ns_last_pid), receives a known number of bytes from
                       the parent and exits. Prints [{"pid", "port",
                       "rx_bytes"}, ...].
  conns N [G]          G (4) server processes (a port each) and G client
                       processes: N concurrent connections, connection i
                       sends 200 + i % 1000 bytes; all stay open until the
                       servers have every byte, then FAULTGEN_HOLD seconds
                       more. Prints {"servers", "clients", "ports", "bytes",
                       "conns"}.
  threads N            N threads, at most 50 at a time, each computes a
                       little and exits. Prints {"pid", "threads"}.
"""
import json
import os
import selectors
import socket
import sys
import threading
import time

LO = "127.0.0.1"


def listener(port, backlog=4096):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((LO, port))
    s.listen(backlog)
    return s


def sink(port, out):
    ls = listener(port)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ)
    total, live, seen = 0, 0, 0
    while seen == 0 or live:
        for key, _ in sel.select():
            if key.fileobj is ls:
                c, _ = ls.accept()
                sel.register(c, selectors.EVENT_READ)
                live += 1
                seen += 1
                continue
            try:
                b = key.fileobj.recv(1 << 16)
            except ConnectionResetError:
                b = b""
            if b:
                total += len(b)
            else:
                sel.unregister(key.fileobj)
                key.fileobj.close()
                live -= 1
    with open(out, "w") as f:
        json.dump({"pid": os.getpid(), "rx_bytes": total}, f)


def source(port, lport, n):
    ls = listener(lport)
    conns = [socket.create_connection((LO, port)) for _ in range(n)]
    print("ready", os.getpid(), flush=True)
    buf = b"x" * 65536
    while True:
        for c in conns:
            c.send(buf)


def fork_at(want, fn):
    """Fork a child running fn(); try to give it pid `want`."""
    for _ in range(200):
        if want:
            try:
                with open("/proc/sys/kernel/ns_last_pid", "w") as f:
                    f.write(str(want - 1))
            except OSError:
                want = 0
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            if want and os.getpid() != want:
                os._exit(0)
            os.write(w, b"1")
            os.close(w)
            try:
                fn()
            finally:
                os._exit(0)
        os.close(w)
        ok = os.read(r, 1)
        os.close(r)
        if ok:
            return pid
        os.waitpid(pid, 0)
    return fork_at(0, fn)


def reuse(port):
    res = []
    first_pid = 0
    for rnd, nbytes in ((1, 100003), (2, 300007)):
        r, w = os.pipe()

        def serve():
            ls = listener(port)
            os.write(w, b"L")
            c, _ = ls.accept()
            got = 0
            while True:
                b = c.recv(1 << 16)
                if not b:
                    break
                got += len(b)
            c.close()
            ls.close()
            os.write(w, str(got).encode())

        pid = fork_at(first_pid, serve)
        os.close(w)
        os.read(r, 1)                       # listening
        time.sleep(0.3)                     # seen by a harvest as listening
        c = socket.create_connection((LO, port))
        c.sendall(b"y" * nbytes)
        c.close()
        got = int(os.read(r, 64).decode())
        os.close(r)
        os.waitpid(pid, 0)
        first_pid = first_pid or pid
        res.append({"round": rnd, "pid": pid, "port": port,
                    "rx_bytes": got, "sent": nbytes})
        time.sleep(0.3)
    print(json.dumps(res))


def conns_server(port, want, w, go):
    sel = selectors.DefaultSelector()
    ls = listener(port)
    ls.setblocking(False)
    sel.register(ls, selectors.EVENT_READ, "L")
    os.write(w, b"L")
    got, keep = 0, []
    while got < want:
        for key, _ in sel.select():
            if key.data == "L":
                while True:
                    try:
                        c, _ = ls.accept()
                    except BlockingIOError:
                        break
                    c.setblocking(False)
                    keep.append(c)
                    sel.register(c, selectors.EVENT_READ, "C")
                continue
            try:
                b = key.fileobj.recv(1 << 16)
            except BlockingIOError:
                continue
            if not b:
                sel.unregister(key.fileobj)
            got += len(b)
    os.write(w, b"D")
    os.read(go, 1)                          # all done: close everything
    for c in keep:
        c.close()


def conns_client(port, sizes, w, go):
    cl = []
    for n in sizes:
        c = socket.create_connection((LO, port))
        c.sendall(b"z" * n)
        cl.append(c)
    os.write(w, b"D")
    os.read(go, 1)
    for c in cl:
        c.close()


def child(fn, *args):
    pid = os.fork()
    if pid == 0:
        try:
            fn(*args)
        finally:
            os._exit(0)
    return pid


def conns(n, groups=4):
    """groups server/client pairs keep each process under RLIMIT_NOFILE."""
    sizes = [200 + i % 1000 for i in range(n)]
    r, w = os.pipe()
    go_r, go_w = os.pipe()
    servers, clients, ports = [], [], []
    for g in range(groups):
        mine = sizes[g::groups]
        port = port_free()
        ports.append(port)
        servers.append(child(conns_server, port, sum(mine), w, go_r))
        os.read(r, 1)                       # listening
        clients.append(child(conns_client, port, mine, w, go_r))
    for _ in range(2 * groups):
        os.read(r, 1)                       # every byte sent and received
    print(json.dumps({"servers": servers, "clients": clients,
                      "ports": ports, "bytes": sum(sizes), "conns": n}),
          flush=True)
    time.sleep(float(os.environ.get("FAULTGEN_HOLD", "1")))
    os.write(go_w, b"x" * (2 * groups))
    for p in servers + clients:
        os.waitpid(p, 0)


def port_free():
    s = socket.socket()
    s.bind((LO, 0))
    p = s.getsockname()[1]
    s.close()
    return p


def threads(n):
    def work():
        x = 0
        for i in range(2000):
            x += i * i

    done = 0
    while done < n:
        batch = [threading.Thread(target=work) for _ in range(min(50, n - done))]
        for t in batch:
            t.start()
        for t in batch:
            t.join()
        done += len(batch)
    print(json.dumps({"pid": os.getpid(), "threads": done}), flush=True)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "sink":
        sink(int(args[0]), args[1])
    elif cmd == "source":
        source(int(args[0]), int(args[1]), int(args[2]))
    elif cmd == "reuse":
        reuse(int(args[0]))
    elif cmd == "conns":
        conns(int(args[0]), int(args[1]) if len(args) > 1 else 4)
    elif cmd == "threads":
        threads(int(args[0]))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
