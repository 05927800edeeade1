#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Loopback stream of exactly N bytes for tests/t_agent.sh.

agent_stream.py N PORT [--server-cgroup DIR] [--client-cgroup DIR]
    [--client-env K=V ...] [--wait-file PATH]
The server listens on 127.0.0.1:PORT (moving itself into DIR first), then
forks the client, which moves itself into its cgroup, takes its env, and
sends N bytes. The server counts what it receives and prints
"received N client_pid" once the client has closed.
"""
import argparse, os, socket, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("n", type=int)
ap.add_argument("port", type=int)
ap.add_argument("--server-cgroup")
ap.add_argument("--client-cgroup")
ap.add_argument("--client-env", action="append", default=[])
ap.add_argument("--delay", type=float, default=1.0)
a = ap.parse_args()


def join(cg):
    if cg:
        with open(os.path.join(cg, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))


join(a.server_cgroup)
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", a.port))
srv.listen(8)
time.sleep(a.delay)         # let a harvest see the listener and the cgroup
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    join(a.client_cgroup)
    env = dict(os.environ)
    env.update(kv.split("=", 1) for kv in a.client_env)
    os.close(r)
    os.execve(sys.executable, [sys.executable, "-c", f"""
import os, socket, time
time.sleep({a.delay})
c = socket.create_connection(("127.0.0.1", {a.port}))
buf = b"x" * 65536
left = {a.n}
while left:
    left -= c.send(buf[:min(left, 65536)])
c.shutdown(socket.SHUT_WR)
c.recv(1)
c.close()
"""], env)
os.close(w)
conn, _ = srv.accept()
got = 0
while True:
    d = conn.recv(1 << 20)
    if not d:
        break
    got += len(d)
conn.close()
os.waitpid(pid, 0)
print("received", got, pid, flush=True)
