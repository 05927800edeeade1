#!/usr/bin/python3
"""Start and stop a real local Dask cluster for tests and the demo.

    cluster.py start --workers N --state FILE [--nanny|--no-nanny]
                     [--host 127.0.0.1] [--logdir DIR] [--timeout S]
                     [--memory-limit 0]
    cluster.py stop  --state FILE [--timeout S]
    cluster.py addr  --state FILE      # prints the scheduler address

`start` launches one scheduler and N workers (each `--nthreads 1`, one
nanny per worker unless --no-nanny) as separate OS processes through
/usr/bin/python3, on loopback with random free ports and no dashboard,
(2022.12.1 still opens its HTTP server, /health and /metrics, with
--no-dashboard: by default the scheduler's on 0.0.0.0:8787 and [::]:8787,
each worker's on a random port on all interfaces; we bind them to HOST:0),
waits until all N workers are registered and writes FILE (JSON):

    {"schema": "xfertrace.dask-cluster/1", "host": ..., "nanny": bool,
     "logdir": ..., "complete": bool,
     "scheduler": {"address", "pid", "start_time", "log"},
     "workers": [{"address", "pid", "start_time", "nanny_address",
                  "nanny_pid", "nanny_start_time", "log"}],
     "launched": [{"role", "pid", "start_time", "log", "argv"}]}

Worker pids are the worker processes themselves (from client.run(os.getpid)),
not their nannies. "launched" is written before anything else can fail, so
`stop` can always find what `start` started. start_time is field 22 of
/proc/PID/stat; `stop` only signals a pid whose start time still matches, so
it never hits a recycled pid. `stop` ends the nannies first (a nanny restarts
a worker killed under it), then any leftover worker processes, then the
scheduler: SIGTERM, then SIGKILL after --timeout seconds.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import pylib  # noqa: E402
import time

PY = "/usr/bin/python3"
SCHEMA = "xfertrace.dask-cluster/1"


def proc_start_time(pid):
    """Start time (clock ticks since boot) of pid, or None if it is gone."""
    f = pylib.proc_stat_fields(pid)
    return None if not f or f[0] == "Z" else int(f[19])


def proc_ppid(pid):
    f = pylib.proc_stat_fields(pid)
    return None if not f else int(f[1])


def write_state(path, state):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(state, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def launch(state, path, role, argv, log):
    logf = open(log, "ab")
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf,
                         stderr=subprocess.STDOUT, cwd=state["logdir"],
                         start_new_session=True, close_fds=True)
    logf.close()
    st = None
    for _ in range(100):
        st = proc_start_time(p.pid)
        if st is not None or p.poll() is not None:
            break
        time.sleep(0.01)
    state["launched"].append({"role": role, "pid": p.pid, "start_time": st,
                              "log": log, "argv": argv})
    write_state(path, state)
    return p


def wait_file(path, procs, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if os.path.exists(path) and os.path.getsize(path) > 0:
            try:
                with open(path) as f:
                    return json.load(f)
            except ValueError:
                pass
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"pid {p.pid} exited with {p.returncode}")
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {path}")


def scheduler_argv(args, sched_file):
    return [PY, "-m", "distributed.cli.dask_scheduler", "--host", args.host,
            "--port", "0", "--no-dashboard", "--no-show",
            "--dashboard-address", f"{args.host}:0",
            "--scheduler-file", sched_file]


def worker_argv(args, addr, i, wdir):
    return [PY, "-m", "distributed.cli.dask_worker", addr,
            "--host", args.host, "--nthreads", "1", "--nworkers", "1",
            "--no-dashboard", "--dashboard-address", f"{args.host}:0",
            "--nanny" if args.nanny else "--no-nanny",
            "--name", f"w{i}", "--memory-limit", args.memory_limit,
            "--local-directory", wdir, "--death-timeout",
            os.environ.get("XT_DASK_DEATH_TIMEOUT", "60")]


def wait_for_workers(addr, procs, state, args):
    """Wait until args.workers have registered, then record who they are."""
    from distributed import Client
    with Client(addr, timeout=args.timeout, set_as_default=False) as c:
        end = time.monotonic() + args.timeout
        while len(c.scheduler_info()["workers"]) < args.workers:
            for p in procs:
                if p.poll() is not None:
                    raise RuntimeError(f"pid {p.pid} exited with "
                                       f"{p.returncode}")
            if time.monotonic() > end:
                raise RuntimeError("timed out waiting for workers")
            time.sleep(0.1)
        byp = {rec["pid"]: rec for rec in state["launched"]}
        collect(c, state, byp, args)


def collect(client, state, procs_by_pid, args):
    """Fill state["workers"] from the running cluster."""
    pids = client.run(os.getpid)
    ppids = client.run(os.getppid)
    info = client.scheduler_info()["workers"]
    sched_pid = client.run_on_scheduler(os.getpid)
    if sched_pid != state["scheduler"]["pid"]:
        raise RuntimeError(f"scheduler pid {sched_pid} is not the one "
                           f"started ({state['scheduler']['pid']})")
    workers = []
    for addr in sorted(pids):
        pid = pids[addr]
        w = {"address": addr, "pid": pid, "start_time": proc_start_time(pid),
             "name": info[addr].get("name")}
        launcher = pid if not args.nanny else ppids[addr]
        if launcher not in procs_by_pid:
            raise RuntimeError(f"worker {addr} pid {pid} was not started here")
        w["log"] = procs_by_pid[launcher]["log"]
        if args.nanny:
            w["nanny_address"] = info[addr].get("nanny")
            w["nanny_pid"] = launcher
            w["nanny_start_time"] = procs_by_pid[launcher]["start_time"]
        else:
            w["nanny_address"] = None
            w["nanny_pid"] = None
            w["nanny_start_time"] = None
        workers.append(w)
    state["workers"] = workers


def cmd_start(args):
    path = os.path.abspath(args.state)
    logdir = os.path.abspath(args.logdir or path + ".logs")
    os.makedirs(logdir, exist_ok=True)
    state = {"schema": SCHEMA, "host": args.host, "nanny": args.nanny,
             "logdir": logdir, "complete": False, "scheduler": None,
             "workers": [], "launched": []}
    write_state(path, state)
    try:
        start_all(args, path, state, logdir)
    except BaseException as e:
        print(f"cluster.py: start failed: {e!r}; stopping what was started",
              file=sys.stderr)
        stop_state(state, args.timeout)
        return 1
    print(state["scheduler"]["address"])
    return 0


def start_all(args, path, state, logdir):
    sched_file = os.path.join(logdir, "scheduler.json")
    if os.path.exists(sched_file):
        os.unlink(sched_file)
    slog = os.path.join(logdir, "scheduler.log")
    sp = launch(state, path, "scheduler", scheduler_argv(args, sched_file),
                slog)
    addr = wait_file(sched_file, [sp], args.timeout)["address"]
    state["scheduler"] = {"address": addr, "pid": sp.pid,
                          "start_time": state["launched"][0]["start_time"],
                          "log": slog}
    write_state(path, state)
    procs = [sp]
    for i in range(args.workers):
        wdir = os.path.join(logdir, f"w{i}")
        os.makedirs(wdir, exist_ok=True)
        procs.append(launch(state, path, "nanny" if args.nanny else "worker",
                            worker_argv(args, addr, i, wdir),
                            os.path.join(logdir, f"worker-{i}.log")))
    wait_for_workers(addr, procs, state, args)
    if len(state["workers"]) != args.workers:
        raise RuntimeError(f"{len(state['workers'])} workers registered, "
                           f"expected {args.workers}")
    state["complete"] = True
    write_state(path, state)


def alive(pid, start_time):
    """pid still runs the process we recorded (never guess without one)."""
    return start_time is not None and proc_start_time(pid) == start_time


def signal_all(items, sig):
    for pid, st in items:
        if alive(pid, st):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass


def wait_gone(items, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not any(alive(pid, st) for pid, st in items):
            return True
        time.sleep(0.05)
    return not any(alive(pid, st) for pid, st in items)


def stop_groups(state):
    """(nannies, workers, scheduler) as lists of (pid, start_time)."""
    nannies, workers, sched = [], [], []
    for rec in state.get("launched", []):
        item = (rec["pid"], rec.get("start_time"))
        if rec["role"] == "scheduler":
            sched.append(item)
        elif rec["role"] == "nanny":
            nannies.append(item)
        else:
            workers.append(item)
    for w in state.get("workers", []):
        item = (w["pid"], w.get("start_time"))
        if item not in workers:
            workers.append(item)
    # Worker processes a nanny started but start() never recorded (it
    # failed halfway): direct children of our own, still-verified nannies.
    live_nannies = {pid for pid, st in nannies if alive(pid, st)}
    if live_nannies:
        for d in os.listdir("/proc"):
            if d.isdigit() and proc_ppid(int(d)) in live_nannies:
                item = (int(d), proc_start_time(int(d)))
                if item not in workers:
                    workers.append(item)
    return nannies, workers, sched


def stop_state(state, timeout):
    nannies, workers, sched = stop_groups(state)
    signal_all(nannies, signal.SIGTERM)
    wait_gone(nannies + workers, timeout)
    signal_all(workers, signal.SIGTERM)
    wait_gone(workers, timeout)
    signal_all(sched, signal.SIGTERM)
    wait_gone(sched, timeout)
    everything = nannies + workers + sched
    left = [i for i in everything if alive(*i)]
    if left:
        print(f"cluster.py: SIGKILL {[p for p, _ in left]}", file=sys.stderr)
        signal_all(left, signal.SIGKILL)
        wait_gone(left, 5)
    return 0 if not any(alive(*i) for i in everything) else 1


def load_state(path):
    with open(path) as f:
        return json.load(f)


def cmd_stop(args):
    try:
        state = load_state(args.state)
    except (OSError, ValueError) as e:
        print(f"cluster.py: cannot read {args.state}: {e}", file=sys.stderr)
        return 1
    return stop_state(state, args.timeout)


def cmd_addr(args):
    print(load_state(args.state)["scheduler"]["address"])
    return 0


def add_commands(sub, start_fn, nanny_default):
    """start, stop and addr subcommands (shared with netns/cluster_ns.py)."""
    s = sub.add_parser("start")
    s.add_argument("--workers", type=int, required=True)
    s.add_argument("--state", required=True)
    s.add_argument("--nanny", action=argparse.BooleanOptionalAction,
                   default=nanny_default)
    s.add_argument("--logdir")
    s.add_argument("--timeout", type=float, default=60.0)
    s.add_argument("--memory-limit", default="0",
                   help="per worker; 0 = no memory management (default)")
    s.set_defaults(fn=start_fn)
    t = sub.add_parser("stop")
    t.add_argument("--state", required=True)
    t.add_argument("--timeout", type=float, default=10.0)
    t.set_defaults(fn=cmd_stop)
    a = sub.add_parser("addr")
    a.add_argument("--state", required=True)
    a.set_defaults(fn=cmd_addr)
    return s


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = add_commands(sub, cmd_start, True)
    s.add_argument("--host", default="127.0.0.1")
    args = ap.parse_args(argv)
    if args.cmd == "start" and args.workers < 1:
        ap.error("--workers must be >= 1")
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
