#!/usr/bin/python3
"""Calibration-like Dask workload, shaped like the throughput diagnostic plan.

    calib.py (--scheduler ADDR | --state CLUSTER.json) [--trials 16]
             [--concurrency 8] [--sims 10] [--targets 2] [--multi-target]
             [--payload-bytes 200000] [--outputs 1] [--sim-ms 50]
             [--agg-ms 20] [--seed 1] [--run-id ID] [--dask-log FILE]
             [--marks [SOCKET]]

--concurrency client threads share one Client; each takes the next trial
until --trials are done. A trial submits --sims simulation tasks (each burns
--sim-ms of CPU, then returns --payload-bytes of random uint8 numpy data
split into --outputs arrays) and then, per target, one aggregation task that
takes all simulation results as *args, like the plan's
_worker_run_aggregation_direct(*sim_returns, ...). With --multi-target one
aggregation computes all targets (burning --agg-ms per target). The thread
then gathers only the aggregations (never the payloads).

Stdout carries the plan's log lines, each prefixed with an RFC 3339 UTC
timestamp with nanoseconds (like `kubectl logs --timestamps`):

    2026-11-29T17:02:03.123456789Z TRIAL_BEGIN param_id=3fa2c1d0
    ... SIM_TIMING: param_id=3fa2c1d0 seed=42 duration_ms=51.2 worker=tcp://...
    ... AGG_TIMING: run_id=a1b2c3 param_id=3fa2c1d0 target=target0
        n_sim_returns=10 n_outputs=1 total_inline_mb=2.00 max_single_kb=200.0
        duration_ms=21.0 worker=tcp://...
    ... TRIAL_END param_id=3fa2c1d0

Each task also measures its own CPU (time.thread_time_ns() over the same
span as duration_ms): thread_cpu_ns in the --dask-log records. The span is
read with time.time_ns() at both ends, right next to the CPU clock reads,
so the line's window [end - duration_ms, end] is the span the CPU was
measured over (a duration from another clock, read after the thread lost
the GIL for a few ms, would shift the window by that much).

SIM/AGG timestamps are the task's end time, read on the worker (wall clock);
TRIAL_* timestamps are read on the client. Lines are printed when the trial's
aggregations come back, so they are not globally sorted. Units: MB = 1e6
bytes, kB = 1e3 bytes. n_outputs = output arrays per simulation return;
total_inline_mb = all output bytes of all simulation returns the aggregation
received; max_single_kb = the largest single output array. duration_ms is the
task function's own run time: for an aggregation it excludes fetching its
inputs, which Dask does before the function starts. With --multi-target the
AGG_TIMING target is the targets joined with '+'.

--marks also sends each line (without timestamp) live to the xfertrace marks
socket through tools/xfertrace_marks.py, from the client (TRIAL_*) and from
the workers (SIM/AGG); silently nothing if nobody listens.

--dask-log FILE writes Dask's own accounting as JSON: per worker the
transfer_outgoing_log / transfer_incoming_log entries added during this run,
and per task its kind, trial, the worker that ran it and who_has after the
trial's aggregations finished.
"""
import argparse
import hashlib
import json
import os
import sys
import threading
import time

import numpy as np
from distributed import Client, get_worker

TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                     "..", "..", "tools")


def rfc3339(ns):
    sec, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + \
        f".{frac:09d}Z"


def burn_cpu(ms):
    end = time.thread_time() + ms / 1000.0
    x = 0
    while time.thread_time() < end:
        for i in range(1000):
            x += i * i
    return x


def send_mark(path, line):
    if path is None:
        return
    import xfertrace_marks  # on the workers' sys.path, see setup_marks()
    xfertrace_marks.mark(line, path=path)


def sim_line(rec):
    return (f"SIM_TIMING: param_id={rec['param_id']} seed={rec['seed']} "
            f"duration_ms={rec['duration_ms']:.1f} worker={rec['worker']}")


def agg_line(rec):
    return (f"AGG_TIMING: run_id={rec['run_id']} param_id={rec['param_id']} "
            f"target={rec['target']} n_sim_returns={rec['n_sim_returns']} "
            f"n_outputs={rec['n_outputs']} "
            f"total_inline_mb={rec['total_inline_mb']:.2f} "
            f"max_single_kb={rec['max_single_kb']:.1f} "
            f"duration_ms={rec['duration_ms']:.1f} worker={rec['worker']}")


def sim_task(key, param_id, seed, payload_bytes, n_outputs, sim_ms,
             marks=None):
    """One simulation replicate: burn CPU, return a SimReturn-like dict."""
    c0 = time.thread_time_ns()
    start_ns = time.time_ns()
    burn_cpu(sim_ms)
    rng = np.random.default_rng(seed)
    base, extra = divmod(payload_bytes, n_outputs)
    outputs = {}
    for j in range(n_outputs):
        n = base + (1 if j < extra else 0)
        outputs[f"out{j}"] = rng.integers(0, 256, n, dtype=np.uint8)
    w = get_worker()
    end_ns = time.time_ns()
    cpu_ns = time.thread_time_ns() - c0
    rec = {"key": key, "param_id": param_id, "seed": seed,
           "duration_ms": (end_ns - start_ns) / 1e6,
           "thread_cpu_ns": cpu_ns, "tid": threading.get_native_id(),
           "worker": w.address, "pid": os.getpid(), "start_ns": start_ns,
           "end_ns": end_ns}
    send_mark(marks, sim_line(rec))
    return {"task_id": key, "outputs": outputs, "timing": rec}


def agg_task(*sim_returns, task_key, run_id, param_id, targets, agg_ms,
             marks=None):
    """Aggregate all replicates for one or more targets."""
    c0 = time.thread_time_ns()
    start_ns = time.time_ns()
    sizes = [a.nbytes for r in sim_returns for a in r["outputs"].values()]
    losses = {}
    for t in targets:
        burn_cpu(agg_ms)
        # Touch all data, as a loss function reading every replicate would.
        losses[t] = float(sum(int(a.sum(dtype=np.uint64)) for r in sim_returns
                              for a in r["outputs"].values()))
    w = get_worker()
    end_ns = time.time_ns()
    cpu_ns = time.thread_time_ns() - c0
    rec = {"key": task_key, "run_id": run_id, "param_id": param_id,
           "thread_cpu_ns": cpu_ns, "tid": threading.get_native_id(),
           "target": "+".join(targets), "n_sim_returns": len(sim_returns),
           "n_outputs": len(sim_returns[0]["outputs"]) if sim_returns else 0,
           "total_inline_mb": sum(sizes) / 1e6,
           "max_single_kb": max(sizes, default=0) / 1e3,
           "duration_ms": (end_ns - start_ns) / 1e6,
           "worker": w.address, "pid": os.getpid(),
           "start_ns": start_ns, "end_ns": end_ns}
    send_mark(marks, agg_line(rec))
    return {"losses": losses, "agg": rec,
            "sims": [r["timing"] for r in sim_returns]}


class Runner:
    def __init__(self, args, client):
        self.a = args
        self.c = client
        self.lock = threading.Lock()
        self.out_lock = threading.Lock()
        self.next_trial = 0
        self.failed = None
        self.trials = []
        self.marks = None

    def emit(self, lines):
        """lines: list of (ns, text); printed sorted by time."""
        with self.out_lock:
            for ns, text in sorted(lines, key=lambda x: x[0]):
                sys.stdout.write(f"{rfc3339(ns)} {text}\n")
            sys.stdout.flush()

    def client_mark(self, text):
        with self.out_lock:     # time read under the lock: client lines
            ns = time.time_ns()  # come out in time order
            sys.stdout.write(f"{rfc3339(ns)} {text}\n")
            sys.stdout.flush()
        if self.marks is not None:
            import xfertrace_marks
            xfertrace_marks.mark(text, path=self.marks)

    def take(self):
        with self.lock:
            if self.failed or self.next_trial >= self.a.trials:
                return None
            i = self.next_trial
            self.next_trial += 1
            return i

    def thread_main(self, tid):
        while True:
            i = self.take()
            if i is None:
                return
            try:
                self.trial(i, tid)
            except Exception as e:  # report, stop the other threads
                with self.lock:
                    self.failed = f"trial {i}: {e!r}"
                print(f"calib.py: trial {i} failed: {e!r}", file=sys.stderr)
                return

    def targets(self):
        return [f"target{k}" for k in range(self.a.targets)]

    def trial(self, i, tid):
        a = self.a
        param_id = hashlib.sha1(f"{a.run_id}/{i}".encode()).hexdigest()[:8]
        self.client_mark(f"TRIAL_BEGIN param_id={param_id}")
        sims = []
        for r in range(a.sims):
            key = f"sim-{a.run_id}-{param_id}-{r}"
            sims.append(self.c.submit(
                sim_task, key, param_id, a.seed + i * a.sims + r,
                a.payload_bytes, a.outputs, a.sim_ms, marks=self.marks,
                key=key))
        groups = [self.targets()] if a.multi_target else \
            [[t] for t in self.targets()]
        aggs = []
        for g in groups:
            key = f"agg-{a.run_id}-{param_id}-{'+'.join(g)}"
            aggs.append(self.c.submit(
                agg_task, *sims, task_key=key, run_id=a.run_id,
                param_id=param_id, targets=g, agg_ms=a.agg_ms,
                marks=self.marks, key=key))
        results = self.c.gather(aggs)
        who = self.c.who_has(sims + aggs) if a.dask_log else {}
        lines = [(s["end_ns"], sim_line(s)) for s in results[0]["sims"]]
        lines += [(r["agg"]["end_ns"], agg_line(r["agg"])) for r in results]
        self.emit(lines)
        self.client_mark(f"TRIAL_END param_id={param_id}")
        rec = {"trial": i, "thread": tid, "param_id": param_id,
               "sims": [dict(s, who_has=list(who.get(s["key"], [])))
                        for s in results[0]["sims"]],
               "aggs": [dict(r["agg"], who_has=list(who.get(r["agg"]["key"],
                                                            [])))
                        for r in results]}
        with self.lock:
            self.trials.append(rec)
        del sims, aggs, results


def log_lengths(dask_worker):
    return (len(dask_worker.transfer_outgoing_log),
            len(dask_worker.transfer_incoming_log))


def log_since(dask_worker, bases):
    o, i = bases.get(dask_worker.address, (0, 0))
    return {"pid": os.getpid(),
            "transfer_outgoing_log": list(dask_worker.transfer_outgoing_log)[o:],
            "transfer_incoming_log": list(dask_worker.transfer_incoming_log)[i:]}


def setup_marks(client, path):
    tools = os.path.abspath(TOOLS)

    def add_path(p=tools):
        if p not in sys.path:
            sys.path.insert(0, p)
    add_path()
    client.run(add_path)
    return path


def summarize(runner, wall):
    n = len(runner.trials)
    split = sum(1 for t in runner.trials
                if len({g["worker"] for g in t["aggs"]}) > 1)
    local = total = 0
    for t in runner.trials:
        for g in t["aggs"]:
            for s in t["sims"]:
                total += 1
                local += s["worker"] == g["worker"]
    print(f"calib.py: {n} trials in {wall:.1f} s "
          f"({n / wall if wall else 0:.2f} trials/s); split-agg trials "
          f"{split}/{n}; sim inputs local to their aggregation "
          f"{local}/{total}", file=sys.stderr)


def dump_dask_log(runner, client, bases, path, wall):
    logs = client.run(log_since, bases=bases)
    tasks = {}
    for t in runner.trials:
        for s in t["sims"]:
            tasks[s["key"]] = {"kind": "sim", "trial": t["trial"],
                               "param_id": t["param_id"],
                               "worker": s["worker"], "who_has": s["who_has"]}
        for g in t["aggs"]:
            tasks[g["key"]] = {"kind": "agg", "trial": t["trial"],
                               "param_id": t["param_id"], "target": g["target"],
                               "worker": g["worker"], "who_has": g["who_has"]}
    a = runner.a
    doc = {"schema": "xfertrace.calib-dask-log/1", "run_id": a.run_id,
           "scheduler": client.scheduler.address, "wall_s": wall,
           "config": {k: getattr(a, k) for k in
                      ("trials", "concurrency", "sims", "targets",
                       "multi_target", "payload_bytes", "outputs", "sim_ms",
                       "agg_ms", "seed")},
           "workers": logs, "tasks": tasks,
           "trials": sorted(runner.trials, key=lambda t: t["trial"])}
    with open(path, "w") as f:
        json.dump(doc, f, indent=1, default=str)
        f.write("\n")


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--scheduler", help="scheduler address tcp://IP:PORT")
    g.add_argument("--state", help="state file from cluster.py start")
    ap.add_argument("--trials", type=int, default=16)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--sims", type=int, default=10)
    ap.add_argument("--targets", type=int, default=2)
    ap.add_argument("--multi-target", action="store_true")
    ap.add_argument("--payload-bytes", type=int, default=200_000)
    ap.add_argument("--outputs", type=int, default=1)
    ap.add_argument("--sim-ms", type=float, default=50.0)
    ap.add_argument("--agg-ms", type=float, default=20.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--run-id")
    ap.add_argument("--dask-log")
    ap.add_argument("--marks", nargs="?", const="", default=None,
                    help="send lines to the marks socket (default path: "
                    "$XFERTRACE_MARKS or /run/xfertrace/marks.sock)")
    a = ap.parse_args(argv)
    if min(a.trials, a.concurrency, a.sims, a.targets, a.outputs) < 1 or \
            a.payload_bytes < 0:
        ap.error("counts must be >= 1 and --payload-bytes >= 0")
    if a.run_id is None:
        a.run_id = os.urandom(3).hex()
    if a.marks == "":
        a.marks = os.environ.get("XFERTRACE_MARKS",
                                 "/run/xfertrace/marks.sock")
    return a


def main(argv=None):
    a = parse_args(argv)
    addr = a.scheduler
    if a.state:
        with open(a.state) as f:
            addr = json.load(f)["scheduler"]["address"]
    with Client(addr, set_as_default=False, timeout=30) as client:
        runner = Runner(a, client)
        if a.marks is not None:
            runner.marks = setup_marks(client, a.marks)
        bases = client.run(log_lengths) if a.dask_log else {}
        t0 = time.monotonic()
        threads = [threading.Thread(target=runner.thread_main, args=(k,),
                                    name=f"trial-{k}")
                   for k in range(a.concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
        summarize(runner, wall)
        if a.dask_log:
            dump_dask_log(runner, client, bases, a.dask_log, wall)
    if runner.failed:
        print(f"calib.py: FAILED: {runner.failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
