#!/usr/bin/python3
"""A real Dask cluster whose workers sit in the namespaces of setup.sh.

    cluster_ns.py start --workers N --state FILE [--nanny|--no-nanny]
                        [--logdir DIR] [--timeout S] [--memory-limit 0]
    cluster_ns.py stop  --state FILE [--timeout S]
    cluster_ns.py addr  --state FILE
    cluster_ns.py linktest --src I --dst J [--bytes B] [--json]

Same conventions and state file as tests/dask/cluster.py (schema
"xfertrace.dask-cluster/1"; its functions are imported and reused), except:

 - the scheduler runs in the root namespace and listens on 10.231.0.1 (the
   bridge xtbr0), port 0 (random), dashboard HTTP server on 10.231.0.1:0;
 - worker i (1..N) runs in namespace xtns<i> as
       ip netns exec xtns<i> /usr/bin/python3 -m distributed.cli.dask_worker
           SCHED --host 10.231.0.(10+i) --nthreads 1 ...
   (`ip netns exec` enters the namespace and execs, so the pid we launch is
   the Python process itself); Dask worker addresses are
   tcp://10.231.0.(10+i):PORT;
 - default --no-nanny (one process per worker: fewer processes on a small
   machine, and the launched pid is the worker). With --nanny the nanny runs
   in the namespace too and starts the worker there.

The state file gets two extra keys: "network": {"bridge", "gateway",
"namespaces"} and, per worker, "netns" and "ip". `stop` is cluster.py's:
it signals only the recorded pids whose start time still matches.

`linktest` measures the link: a receiver in xtns<J> listens on its eth0
address, a sender in xtns<I> connects and sends --bytes bytes (default
25 MB); the receiver times the transfer from its first received byte to
EOF. Prints "linktest: B bytes in S s = G Mbit/s goodput (mss M, mtu U)",
or that as one JSON object with --json: {"bytes", "seconds",
"goodput_bps", "mss", "mtu", "src", "dst"}. Both ends are separate
processes started by this command; it waits for them.
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "dask"))
import cluster  # noqa: E402  (tests/dask/cluster.py)

PY = cluster.PY
GATEWAY = "10.231.0.1"
BRIDGE = "xtbr0"


def ns_name(i):
    return f"xtns{i}"


def ns_ip(i):
    return f"10.231.0.{10 + i}"


def check_namespaces(n):
    out = subprocess.run(["ip", "netns", "list"], capture_output=True,
                         text=True, check=True).stdout
    have = {line.split()[0] for line in out.splitlines() if line.strip()}
    missing = [ns_name(i) for i in range(1, n + 1) if ns_name(i) not in have]
    if missing:
        raise RuntimeError(f"namespaces {missing} missing: run "
                           f"tests/netns/setup.sh {n} RATE first")


def worker_argv(args, addr, i, wdir):
    """cluster.py's worker command, bound to the namespace's address."""
    wa = argparse.Namespace(**vars(args))
    wa.host = ns_ip(i)
    argv = cluster.worker_argv(wa, addr, i, wdir)
    return ["ip", "netns", "exec", ns_name(i)] + argv


def start_all(args, path, state, logdir):
    check_namespaces(args.workers)
    state["network"] = {"bridge": BRIDGE, "gateway": GATEWAY,
                        "namespaces": [ns_name(i) for i in
                                       range(1, args.workers + 1)]}
    sched_file = os.path.join(logdir, "scheduler.json")
    if os.path.exists(sched_file):
        os.unlink(sched_file)
    slog = os.path.join(logdir, "scheduler.log")
    sargs = argparse.Namespace(**vars(args))
    sargs.host = GATEWAY
    sp = cluster.launch(state, path, "scheduler",
                        cluster.scheduler_argv(sargs, sched_file), slog)
    addr = cluster.wait_file(sched_file, [sp], args.timeout)["address"]
    state["scheduler"] = {"address": addr, "pid": sp.pid,
                          "start_time": state["launched"][0]["start_time"],
                          "log": slog}
    cluster.write_state(path, state)
    procs = [sp]
    for i in range(1, args.workers + 1):
        wdir = os.path.join(logdir, f"w{i}")
        os.makedirs(wdir, exist_ok=True)
        procs.append(cluster.launch(
            state, path, "nanny" if args.nanny else "worker",
            worker_argv(args, addr, i, wdir),
            os.path.join(logdir, f"worker-{i}.log")))
    cluster.wait_for_workers(addr, procs, state, args)
    if len(state["workers"]) != args.workers:
        raise RuntimeError(f"{len(state['workers'])} workers registered, "
                           f"expected {args.workers}")
    by_ip = {ns_ip(i): ns_name(i) for i in range(1, args.workers + 1)}
    for w in state["workers"]:
        ip = w["address"].split("://", 1)[1].rsplit(":", 1)[0]
        if ip not in by_ip:
            raise RuntimeError(f"worker {w['address']} is not on a "
                               f"namespace address")
        w["ip"] = ip
        w["netns"] = by_ip[ip]
    if len({w["netns"] for w in state["workers"]}) != args.workers:
        raise RuntimeError("two workers in one namespace")
    state["complete"] = True
    cluster.write_state(path, state)


def cmd_start(args):
    path = os.path.abspath(args.state)
    logdir = os.path.abspath(args.logdir or path + ".logs")
    os.makedirs(logdir, exist_ok=True)
    state = {"schema": cluster.SCHEMA, "host": GATEWAY, "nanny": args.nanny,
             "logdir": logdir, "complete": False, "scheduler": None,
             "workers": [], "launched": []}
    cluster.write_state(path, state)
    try:
        start_all(args, path, state, logdir)
    except BaseException as e:
        print(f"cluster_ns.py: start failed: {e!r}; stopping what was "
              f"started", file=sys.stderr)
        cluster.stop_state(state, args.timeout)
        return 1
    print(state["scheduler"]["address"])
    return 0


RECEIVER = r"""
import json, socket, sys, time
srv = socket.create_server((sys.argv[1], 0))
print(srv.getsockname()[1], flush=True)
srv.settimeout(30)
c, _ = srv.accept()
c.settimeout(60)
buf = bytearray(1 << 20)
n = 0
t0 = t1 = None
while True:
    k = c.recv_into(buf)
    if not k:
        break
    t1 = time.monotonic()
    if t0 is None:
        t0 = t1
        first = k
    n += k
print(json.dumps({"bytes": n, "first": first, "seconds": t1 - t0}))
"""

SENDER = r"""
import json, socket, sys
dst, port, total, src = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
s = socket.create_connection((dst, port), timeout=30, source_address=(src, 0))
chunk = b"\xa5" * (1 << 20)
left = total
while left:
    k = s.send(chunk[:min(left, len(chunk))])
    left -= k
mss = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)
s.shutdown(socket.SHUT_WR)
s.recv(1)
s.close()
mtu = int(open("/sys/class/net/eth0/mtu").read())
print(json.dumps({"mss": mss, "mtu": mtu}))
"""


def linktest(src, dst, nbytes, timeout=120):
    """Send nbytes from namespace src to namespace dst; returns a dict."""
    rx = subprocess.Popen(["ip", "netns", "exec", ns_name(dst), PY, "-c",
                           RECEIVER, ns_ip(dst)], stdout=subprocess.PIPE,
                          text=True)
    tx = None
    try:
        port = int(rx.stdout.readline())
        tx = subprocess.Popen(["ip", "netns", "exec", ns_name(src), PY, "-c",
                               SENDER, ns_ip(dst), str(port), str(nbytes),
                               ns_ip(src)], stdout=subprocess.PIPE, text=True)
        rres = json.loads(rx.stdout.readline())
        tout, _ = tx.communicate(timeout=timeout)
        if tx.returncode != 0:
            raise RuntimeError(f"sender exited with {tx.returncode}")
        rx.wait(timeout=timeout)
    finally:
        for p in (tx, rx):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
    tres = json.loads(tout)
    if rres["bytes"] != nbytes:
        raise RuntimeError(f"received {rres['bytes']} of {nbytes} bytes")
    # The first recv's bytes arrived before the clock started.
    timed = rres["bytes"] - rres["first"]
    return {"src": ns_name(src), "dst": ns_name(dst), "bytes": nbytes,
            "seconds": rres["seconds"],
            "goodput_bps": 8 * timed / rres["seconds"],
            "mss": tres["mss"], "mtu": tres["mtu"]}


def cmd_linktest(args):
    try:
        r = linktest(args.src, args.dst, args.bytes)
    except (RuntimeError, ValueError, OSError,
            subprocess.TimeoutExpired) as e:
        print(f"cluster_ns.py: linktest failed: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(r))
    else:
        print(f"linktest: {r['bytes']} bytes in {r['seconds']:.3f} s = "
              f"{r['goodput_bps'] / 1e6:.1f} Mbit/s goodput "
              f"(mss {r['mss']}, mtu {r['mtu']})")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    cluster.add_commands(sub, cmd_start, False)
    lt = sub.add_parser("linktest")
    lt.add_argument("--src", type=int, required=True)
    lt.add_argument("--dst", type=int, required=True)
    lt.add_argument("--bytes", type=int, default=25_000_000)
    lt.add_argument("--json", action="store_true")
    lt.set_defaults(fn=cmd_linktest)
    args = ap.parse_args(argv)
    if args.cmd == "start" and args.workers < 1:
        ap.error("--workers must be >= 1")
    if args.cmd == "linktest" and (min(args.src, args.dst) < 1 or
                                   args.src == args.dst or args.bytes < 1):
        ap.error("--src and --dst: two different namespaces >= 1")
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
