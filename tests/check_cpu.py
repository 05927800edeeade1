#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Compare an xfertrace JSON report's CPU numbers with /proc schedstat.

--schedstat FILE holds lines "PID TID ONCPU_NS RUNQ_NS PCOUNT" read from
/proc/PID/task/TID/schedstat after the burners stopped burning and
before the recorder was stopped, so both sides are final.
--comm FILE holds lines "PID COMM" from /proc/PID/comm.
--burn FILE... are tests/burn outputs (pid, threads with their own
CLOCK_THREAD_CPUTIME_ID).

Prints one line per check: "ok DESC" or "FAIL DESC: details".
Tolerances: on-CPU time 1% (at least --cpu-abs ns, for near-idle
threads), run-queue wait 10% or --runq-abs ns, switches 2% or 2.
"""
import argparse
import json
import os
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pylib  # noqa: E402

C = pylib.Checker()


def check(ok, desc, detail=""):
    C.check(ok, desc, "" if ok else detail)


load_json = pylib.load_json


def load_schedstat(path):
    procs = {}
    with open(path) as f:
        for line in f:
            v = line.split()
            if len(v) != 5:
                continue
            pid, tid, cpu, runq, pcount = (int(x) for x in v)
            procs.setdefault(pid, {})[tid] = (cpu, runq, pcount)
    return procs


def close(got, exp, rel, absol):
    return isinstance(got, int) and abs(got - exp) <= max(rel * exp, absol)


def fmt_bad(bad):
    return "; ".join(bad[:12]) + (" ..." if len(bad) > 12 else "")


def check_process(a, burn, tasks, report_workers):
    pid = burn["pid"]
    got = [w for w in report_workers if w.get("pid") == pid]
    check(len(got) == 1, "burner %d in workers[] once" % pid,
          "%d entries" % len(got))
    if len(got) != 1:
        return
    w = got[0]
    rthreads = {t.get("tid"): t for t in w.get("threads") or []}

    want = {t["tid"] for t in burn["threads"]}
    check(want <= set(tasks),
          "burner %d: schedstat read for every thread" % pid,
          "missing tids %s" % sorted(want - set(tasks)))
    early = ["tid %d: schedstat %d < burn %d" % (t["tid"], tasks[t["tid"]][0], t["cpu_ns"])
             for t in burn["threads"] if t["tid"] in tasks and
             tasks[t["tid"]][0] < t["cpu_ns"]]
    check(not early, "burner %d: schedstat read after burning ended" % pid,
          fmt_bad(early))

    bad_cpu, bad_rq, bad_sw, zero_rq = [], [], [], []
    for tid, (cpu, runq, pcount) in sorted(tasks.items()):
        t = rthreads.get(tid)
        if t is None:
            bad_cpu.append("tid %d missing from report" % tid)
            continue
        if not close(t.get("cpu_ns"), cpu, 0.01, a.cpu_abs):
            bad_cpu.append("tid %d: report %s schedstat %d" % (tid, t.get("cpu_ns"), cpu))
        if not close(t.get("runq_wait_ns"), runq, 0.10, a.runq_abs):
            bad_rq.append("tid %d: report %s schedstat %d" % (tid, t.get("runq_wait_ns"), runq))
        if not close(t.get("switches"), pcount, 0.02, 2):
            bad_sw.append("tid %d: report %s schedstat pcount %d" % (tid, t.get("switches"), pcount))
        if cpu >= 100000000 and not t.get("runq_wait_ns", 0) > 0:
            zero_rq.append("tid %d: runq_wait_ns %s" % (tid, t.get("runq_wait_ns")))
    check(not bad_cpu, "burner %d: per-thread cpu_ns within 1%% of schedstat (%d threads)"
          % (pid, len(tasks)), fmt_bad(bad_cpu))
    check(not zero_rq, "burner %d: contended threads have runq_wait_ns > 0" % pid,
          fmt_bad(zero_rq))
    check(not bad_rq, "burner %d: per-thread runq_wait_ns within 10%% or %.0f ms of schedstat"
          % (pid, a.runq_abs / 1e6), fmt_bad(bad_rq))
    check(not bad_sw, "burner %d: per-thread switches match schedstat pcount" % pid,
          fmt_bad(bad_sw))

    cpu_sum = sum(v[0] for v in tasks.values())
    rq_sum = sum(v[1] for v in tasks.values())
    check(close(w.get("cpu_ns"), cpu_sum, 0.01, a.cpu_abs),
          "burner %d: process cpu_ns within 1%% of schedstat sum" % pid,
          "report %s schedstat sum %d" % (w.get("cpu_ns"), cpu_sum))
    check(close(w.get("runq_wait_ns"), rq_sum, 0.10, a.runq_abs),
          "burner %d: process runq_wait_ns within 10%% or %.0f ms of schedstat sum"
          % (pid, a.runq_abs / 1e6),
          "report %s schedstat sum %d" % (w.get("runq_wait_ns"), rq_sum))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--report", required=True)
    ap.add_argument("--schedstat", required=True)
    ap.add_argument("--burn", nargs="+", required=True)
    ap.add_argument("--comm", help='lines "PID COMM" from /proc/PID/comm')
    ap.add_argument("--cpu-abs", type=int, default=200000,
                    help="absolute cpu_ns tolerance for near-idle threads")
    ap.add_argument("--runq-abs", type=int, default=5000000)
    a = ap.parse_args()
    report = load_json(a.report)
    sched = load_schedstat(a.schedstat)
    workers = report.get("workers", [])
    comms = {}
    if a.comm:
        with open(a.comm) as f:
            for line in f:
                v = line.split(None, 1)
                if len(v) == 2:
                    comms[int(v[0])] = v[1].strip()
    for path in a.burn:
        burn = load_json(path)
        if burn["pid"] in comms:
            got = [w.get("comm") for w in workers if w.get("pid") == burn["pid"]]
            check(got == [comms[burn["pid"]]],
                  "burner %d: process comm is %r, as in /proc (after exec)"
                  % (burn["pid"], comms[burn["pid"]]), "report comm %s" % got)
        tasks = sched.get(burn["pid"], {})
        check(bool(tasks), "burner %d: schedstat available" % burn["pid"],
              "no lines for pid %d" % burn["pid"])
        if tasks:
            check_process(a, burn, tasks, workers)
    C.invariants(report)
    nz = {k: v for k, v in (report.get("drops") or {}).items() if v}
    check(not nz, "all drop counters zero", "drops %s" % nz)
    return 1 if C.failed else 0


if __name__ == "__main__":
    sys.exit(main())
