#!/usr/bin/python3
"""Generate a large calibration-shaped trace and its marks, by hand.

    gen_trace.py --workers 64 --trials 500 --out DIR [--seed 1]

Writes DIR/gen.xft (the record layouts of user/records.h, through
check_trials.py's record helpers; a machine of W+2 CPUs) and DIR/gen.log (SIM/AGG/TRIAL marks): a
scheduler, a client and W workers that all connect to the scheduler; each
trial runs 10 simulations on random workers, then two aggregations, each
fetching the simulation results computed elsewhere (0.4 MB each) from the
workers that hold them. Harvest interval 100 ms. Used to measure the
exports (size, render time) at a scale a test machine cannot run for real.
"""
import argparse
import json
import os
import random
import struct
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_trials import rec, tup, BASE, MS, WALL0  # noqa: E402

IV = 100            # interval, ms
PAYLOAD = 400_000   # bytes per simulation result


def ip(i):
    return f"10.1.{i // 250}.{i % 250 + 1}"


def stamp(ms):
    ns = int(round(ms * MS)) + 12 * 3600 * 10**9
    s, frac = divmod(ns, 10**9)
    return (f"2026-01-01T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}."
            f"{frac:09d}Z")


class Gen:
    def __init__(self, a):
        self.a = a
        self.rnd = random.Random(a.seed)
        self.r = []
        self.bins = {}      # bin -> list of records
        self.conns = {}
        self.cid = 0
        w = a.workers
        self.sched = w          # process index of the scheduler
        self.client = w + 1
        self.pid = {i: 2000 + i for i in range(w + 2)}
        self.addr = {i: ip(i) for i in range(w + 1)}
        self.addr[self.client] = ip(w + 1)

    def t(self, ms):
        return BASE + int(round(ms * MS))

    def procs(self):
        for i, pid in self.pid.items():
            comm = b"python3".ljust(16, b"\0")
            cmd = b"dask-scheduler" if i == self.sched else b"dask-worker"
            self.r.append(rec(1, struct.pack("<QQQII16s160s", pid * 10**9,
                                             1, 7, pid, 1, comm,
                                             cmd.ljust(160, b"\0"))))
            if i != self.client:
                self.r.append(rec(2, struct.pack(
                    "<QQQII", self.t(0), pid * 10**9, 1, pid, 1) +
                    tup(self.addr[i], 8786, "0.0.0.0", 0) +
                    struct.pack("<II", 64, 0)))
            for tid in (pid, pid * 10 + 1):
                self.r.append(rec(6, struct.pack("<QQII16s", pid * 10**9 + tid,
                                                 pid * 10**9, tid, pid, comm)))
        for i in range(self.a.workers):
            self.conn(i, self.sched)
        self.conn(self.client, self.sched)

    def conn(self, o, p):
        """o connected to p's listener: both ends are local processes."""
        if (o, p) in self.conns:
            return self.conns[(o, p)]
        ids = []
        for own, tp in ((o, tup(self.addr[o], 40000 + self.cid % 20000,
                                self.addr[p], 8786)),
                        (p, tup(self.addr[p], 8786, self.addr[o],
                                40000 + self.cid % 20000))):
            self.cid += 1
            pid = self.pid[own]
            self.r.append(rec(3, struct.pack("<QQQQQII", self.cid, self.t(0),
                                             pid * 10**9, 1, 7, pid, 0) + tp))
            ids.append(self.cid)
        self.conns[(o, p)] = ids
        return ids

    def delta(self, b, cid, tx, rx):
        self.bins.setdefault(b, []).append(rec(4, struct.pack(
            "<QQQQQQQ", self.t((b + 1) * IV), cid, tx, rx, 1, 1, 2 * MS)))

    def move(self, src, dst, nbytes, at_ms):
        """dst fetches nbytes from src around at_ms."""
        a, b = self.conn(dst, src)       # a: dst's end, b: src's end
        k = int(at_ms // IV)
        self.delta(k, b, nbytes, 200)
        self.delta(k, a, 200, nbytes)

    def cpu(self, w, start, end, executor=True):
        pid = self.pid[w]
        tid = pid * 10 + 1 if executor else pid
        ms = start
        while ms < end:
            k = int(ms // IV)
            e = min(end, (k + 1) * IV)
            self.bins.setdefault(k, []).append(rec(7, struct.pack(
                "<QQIIQQQ", self.t((k + 1) * IV), pid * 10**9 + tid, tid, 0,
                int((e - ms) * MS), int((e - ms) * MS / 10), 1)))
            ms = e

    def trial(self, n, marks):
        rnd, w = self.rnd, self.a.workers
        pid = f"p{n:05d}"
        t0 = 500 + n * self.a.spacing_ms + rnd.uniform(0, 20)
        marks.append((t0, f"TRIAL_BEGIN param_id={pid}"))
        sims = []
        for s in range(10):
            wk = rnd.randrange(w)
            dur = rnd.uniform(30, 60)
            st = t0 + 5 + s * 3
            self.cpu(wk, st, st + dur)
            sims.append((wk, st + dur))
            marks.append((st + dur, f"SIM_TIMING: param_id={pid} seed={s} "
                          f"duration_ms={dur:.1f} worker=tcp://{ip(wk)}:8786"))
        ready = max(e for _, e in sims)
        end = ready
        for g in range(2):
            aw = rnd.randrange(w)
            fetch = ready + 2
            for wk, _ in sims:
                if wk != aw:
                    self.move(wk, aw, PAYLOAD, fetch)
                    self.cpu(wk, fetch, fetch + 2, executor=False)
            self.cpu(aw, fetch, fetch + 4, executor=False)
            st = fetch + 10
            dur = rnd.uniform(15, 25)
            self.cpu(aw, st, st + dur)
            end = max(end, st + dur)
            marks.append((st + dur,
                          f"AGG_TIMING: run_id=gen param_id={pid} "
                          f"target=target{g} n_sim_returns=10 n_outputs=1 "
                          f"total_inline_mb={PAYLOAD * 10 / 1e6:.2f} "
                          f"max_single_kb={PAYLOAD / 1e3:.1f} "
                          f"duration_ms={dur:.1f} worker=tcp://{ip(aw)}:8786"))
        marks.append((end + 3, f"TRIAL_END param_id={pid}"))
        return end + 3

    def run(self):
        self.procs()
        marks, last = [], 0
        for n in range(self.a.trials):
            last = max(last, self.trial(n, marks))
        nb = int(last // IV) + 5
        for k in range(nb):
            self.r += self.bins.get(k, [])
            self.r.append(rec(11, struct.pack("<QQ", self.t(k * IV),
                                              self.t((k + 1) * IV))))
        marks.sort()
        return self.r, "".join(f"{stamp(ms)} {t}\n" for ms, t in marks)


def write_trace(path, records, ncpus):
    """check_trials.py's header (with ncpus: one machine holding them all),
    then chunks of at most 1 MiB of records."""
    hdr = json.dumps({"format": "xfertrace.trace/1", "host": "gen",
                      "kernel": "gen", "arch": "x86_64",
                      "start_mono_ns": BASE, "mono_to_wall_ns": WALL0 - BASE,
                      "boot_to_mono_ns": 0, "interval_ms": IV,
                      "burst_gap_ns": 5 * MS, "hooks": {
                          "sock": "tp_btf", "state": "tp_btf",
                          "sched": "tp_btf", "iter_listeners": True},
                      "ncpus": ncpus}).encode()
    with open(path, "wb") as f:
        f.write(b"XFERTRC\0" + struct.pack("<IIII", 1, 0x01020304, len(hdr),
                                            zlib.crc32(hdr)) + hdr)
        chunk, n = [], 0
        for r in records + [None]:
            if r is None or n + len(r) > (1 << 20):
                raw = b"".join(chunk)
                z = zlib.compress(raw)
                f.write(struct.pack("<IIII", 0x4b435458, len(raw), len(z),
                                    zlib.crc32(z)) + z)
                chunk, n = [], 0
            if r is not None:
                chunk.append(r)
                n += len(r)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=64)
    ap.add_argument("--trials", type=int, default=500)
    ap.add_argument("--spacing-ms", type=float, default=100.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    recs, log = Gen(a).run()
    write_trace(os.path.join(a.out, "gen.xft"), recs, a.workers + 2)
    with open(os.path.join(a.out, "gen.log"), "w") as f:
        f.write(log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
