#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Write a marks log of N lines in one of the worst shapes for `report`.

usage: gen_marks.py SHAPE N START_UNIX DURATION_NS [WORKER...] > FILE

Timestamps are spread evenly over the trace span [START_UNIX,
START_UNIX + DURATION_NS] so every mark is placed inside the trace.
  oneid   TRIAL_BEGIN / TRIAL_END pairs, all with one param_id: N/2
          instances of the same trial ("p", "p#2", ...)
  agg1    one trial: a TRIAL_BEGIN, SIM lines on the given workers, then
          AGG lines spread over the given workers, TRIAL_END
  aggeach each AGG line its own trial and its own (remote) worker
  mixed   trials of 10 SIMs and 2 AGGs over the given workers
"""
import sys
import time


def stamp(ns):
    s, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + \
        ".%09dZ" % frac


def agg(pid, worker, n_in, mb):
    return (f"AGG_TIMING: run_id=r1 param_id={pid} target=t0 "
            f"n_sim_returns={n_in} n_outputs=1 total_inline_mb={mb:.2f} "
            f"max_single_kb=1.0 duration_ms=0.5 worker={worker}")


def lines(shape, n, workers):
    if shape == "oneid":
        for i in range(n):
            yield ("TRIAL_BEGIN" if i % 2 == 0 else "TRIAL_END") + \
                " param_id=p"
    elif shape == "agg1":
        yield "TRIAL_BEGIN param_id=one"
        n_sim = min(n // 10, 1000)
        for i in range(n_sim):
            yield (f"SIM_TIMING: param_id=one seed={i} duration_ms=0.5 "
                   f"worker={workers[i % len(workers)]}")
        for i in range(n - n_sim - 2):
            yield agg("one", workers[i % len(workers)], n_sim, 0.01 * n_sim)
        yield "TRIAL_END param_id=one"
    elif shape == "aggeach":
        for i in range(n):
            yield agg(f"t{i}", f"tcp://10.{i >> 16 & 255}.{i >> 8 & 255}."
                      f"{i & 255}:{1024 + i % 60000}", 4, 0.04)
    elif shape == "mixed":
        for i in range(n):
            k, j = divmod(i, 12)
            w = workers[(k + j) % len(workers)]
            if j < 10:
                yield (f"SIM_TIMING: param_id=m{k} seed={j} duration_ms=0.5 "
                       f"worker={w}")
            else:
                yield agg(f"m{k}", w, 10, 0.1)
    else:
        raise SystemExit(f"gen_marks.py: unknown shape {shape}")


def main():
    if len(sys.argv) < 5:
        raise SystemExit(__doc__)
    shape, n = sys.argv[1], int(sys.argv[2])
    t0 = int(float(sys.argv[3]) * 1e9)
    dur = int(sys.argv[4])
    workers = sys.argv[5:] or ["tcp://127.0.0.1:1"]
    out = sys.stdout
    buf = []
    for i, line in enumerate(lines(shape, n, workers)):
        # Margin of 1 ms at each end: inside the trace whatever rounding.
        ts = t0 + 1_000_000 + (dur - 2_000_000) * i // max(n, 1)
        buf.append(f"{stamp(ts)} {line}\n")
        if len(buf) >= 10000:
            out.write("".join(buf))
            buf = []
    out.write("".join(buf))


main()
