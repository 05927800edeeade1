#!/usr/bin/python3
"""Move numpy payloads of known size between Dask workers; dump Dask's log.

    known_transfer.py (--scheduler ADDR | --state CLUSTER.json) --out FILE
                      [--sizes-mb 4,8,16] [--pairs all|ring] [--seed 1]

For every ordered worker pair (a, b) (--pairs all) or every (w[i], w[i+1])
(--pairs ring) and every size S, an array of S MB (random uint8, so no
compression applies) is made on a (workers=[a]) and consumed by a task
pinned to b (workers=[b], allow_other_workers=False), so Dask fetches it
worker-to-worker with get_data. Pinned tasks are never stolen. The consumer
returns its worker address, the array's nbytes and checksum, which are
checked against what was planned; the arrays never reach the client.
The producer's copy may be gone afterwards: the Active Memory Manager
(ReduceReplicas, on by default in 2022.12) drops redundant replicas, so
who_has is no placement proof; the outgoing log is.

Ground truth in FILE (JSON, schema "xfertrace.dask-transfers/1"):
  "expected":  planned bytes per (src, dst) pair
  "outgoing":  per (src=this worker, dst=entry["who"]) the sums over the
               transfer_outgoing_log entries added during this run:
               bytes = sum(entry["total"]) (Dask's sizeof of the values,
               = ndarray.nbytes here), wire_bytes = sum(entry["compressed"])
               (what comm.write() returned: the frames of the get_data
               response as written, header included), transfers, keys
  "incoming":  the same from transfer_incoming_log (src = entry["who"])
  A client's gather is logged too, with who = None: such rows have
  dst = null (the consumers' small results going to this client).
  "workers":   {address: pid}, "scheduler": {address, pid}
Exit status 1 if a consumer ran elsewhere or saw other data.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
from distributed import Client, get_worker

SCHEMA = "xfertrace.dask-transfers/1"


def make_array(nbytes, seed):
    return np.random.default_rng(seed).integers(0, 256, nbytes,
                                                dtype=np.uint8)


def consume(arr):
    return {"worker": get_worker().address, "pid": os.getpid(),
            "nbytes": int(arr.nbytes), "sum": int(arr.sum(dtype=np.uint64))}


def log_lengths(dask_worker):
    return (len(dask_worker.transfer_outgoing_log),
            len(dask_worker.transfer_incoming_log))


def log_since(dask_worker, bases):
    o, i = bases.get(dask_worker.address, (0, 0))
    return {"out": list(dask_worker.transfer_outgoing_log)[o:],
            "in": list(dask_worker.transfer_incoming_log)[i:]}


def aggregate(logs):
    out, inc = {}, {}
    for addr, lg in logs.items():
        for e in lg["out"]:
            r = out.setdefault((addr, e["who"]), [0, 0, 0, 0])
            r[0] += e["total"]
            r[1] += e.get("compressed") or 0
            r[2] += 1
            r[3] += len(e["keys"])
        for e in lg["in"]:
            r = inc.setdefault((e["who"], addr), [0, 0, 0, 0])
            r[0] += e["total"]
            r[2] += 1
            r[3] += len(e["keys"])

    def rows(d, wire):
        res = []
        for (s, t), (b, w, n, k) in sorted(d.items(), key=str):
            row = {"src": s, "dst": t, "bytes": b, "transfers": n, "keys": k}
            if wire:
                row["wire_bytes"] = w
            res.append(row)
        return res
    return rows(out, True), rows(inc, False)


def plan(workers, sizes, mode):
    if mode == "ring":
        n = len(workers)
        pairs = [(workers[i], workers[(i + 1) % n]) for i in range(n)]
    else:
        pairs = [(a, b) for a in workers for b in workers if a != b]
    return [(a, b, int(mb * 1e6)) for a, b in pairs for mb in sizes]


def run(client, jobs, seed):
    made, used = [], []
    for n, (a, b, size) in enumerate(jobs):
        arr = client.submit(make_array, size, seed + n, workers=[a],
                            allow_other_workers=False, pure=False)
        made.append(arr)
        used.append(client.submit(consume, arr, workers=[b],
                                  allow_other_workers=False, pure=False))

    results = client.gather(used)
    bad = []
    for (a, b, size), r in zip(jobs, results):
        if r["worker"] != b or r["nbytes"] != size:
            bad.append(f"{a}->{b} {size}: consumer {r}")
    del made, used
    return bad


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--scheduler")
    g.add_argument("--state")
    ap.add_argument("--out", required=True)
    ap.add_argument("--sizes-mb", default="4,8,16")
    ap.add_argument("--pairs", choices=("all", "ring"), default="all")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    a.sizes = [float(x) for x in a.sizes_mb.split(",") if x]
    return a


def main(argv=None):
    a = parse_args(argv)
    addr = a.scheduler
    if a.state:
        with open(a.state) as f:
            addr = json.load(f)["scheduler"]["address"]
    with Client(addr, set_as_default=False, timeout=30) as client:
        pids = client.run(os.getpid)
        workers = sorted(pids)
        if len(workers) < 2:
            print("known_transfer.py: need >= 2 workers", file=sys.stderr)
            return 1
        bases = client.run(log_lengths)
        jobs = plan(workers, a.sizes, a.pairs)
        t0 = time.time()
        bad = run(client, jobs, a.seed)
        t1 = time.time()
        logs = client.run(log_since, bases=bases)
        sched_pid = client.run_on_scheduler(os.getpid)
    expected = {}
    for s, t, size in jobs:
        expected[(s, t)] = expected.get((s, t), 0) + size
    out, inc = aggregate(logs)
    # Dask must have logged exactly the planned worker-to-worker bytes.
    got = {(r["src"], r["dst"]): r["bytes"] for r in out if r["dst"]}
    if got != expected:
        bad.append(f"transfer_outgoing_log {got} != planned {expected}")
    doc = {"schema": SCHEMA, "scheduler": {"address": addr, "pid": sched_pid},
           "workers": pids, "start_unix": t0, "end_unix": t1,
           "expected": [{"src": s, "dst": t, "bytes": b}
                        for (s, t), b in sorted(expected.items())],
           "outgoing": out, "incoming": inc, "errors": bad}
    with open(a.out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    total = sum(r["bytes"] for r in out)
    print(f"known_transfer.py: {len(jobs)} transfers, Dask logged "
          f"{total / 1e6:.1f} MB worker-to-worker in {t1 - t0:.1f} s",
          file=sys.stderr)
    for e in bad:
        print(f"known_transfer.py: {e}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
