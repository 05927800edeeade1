#!/usr/bin/python3
"""Check an xfertrace JSON report against Dask's own view of the cluster.

    check_dask.py --report REPORT.json --cluster CLUSTER.json
                  --dask TRANSFERS.json [--tolerance 0.01]

CLUSTER.json is cluster.py's state file; TRANSFERS.json is either
known_transfer.py's output or calib.py's --dask-log. Prints one
"ok   - ..." or "FAIL - ..." line per check (tests/lib.sh style) and
"N passed, N failed"; exit status 1 if any check failed.

Checks:
 - every Dask worker (address, pid) has a report entry with that pid whose
   primary endpoint is the worker address, with role "worker"; entries with
   role "worker" are exactly the Dask workers;
 - the scheduler's entry: its pid, endpoint = scheduler address, role
   "scheduler"; each nanny likewise with role "nanny";
 - for every worker->worker pair Dask logged (transfer_outgoing_log summed
   per (worker, entry["who"])): the report's flow tx_bytes and rx_bytes are
   within --tolerance of Dask's "total" and not below the bytes Dask's
   comm.write() reported ("compressed");
 - worker->worker flows Dask logged nothing for (requests, handshakes) sum
   to under --tolerance of the logged bytes;
 - drops all zero (except harvest_overruns, a timing count), trace not
   truncated, sum(flows.tx_bytes) ==
   totals.tx_bytes.
"""
import argparse
import json
import os
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import pylib  # noqa: E402


Checker = pylib.Checker
load = pylib.load_json


def dask_pairs(doc):
    """{(src, dst): [total, wire]} for worker->worker transfers."""
    pairs = {}
    if "outgoing" in doc:               # known_transfer.py
        for r in doc["outgoing"]:
            if r["dst"]:
                pairs[(r["src"], r["dst"])] = [r["bytes"],
                                               r.get("wire_bytes", 0)]
        return pairs
    for addr, w in doc["workers"].items():          # calib.py --dask-log
        for e in w["transfer_outgoing_log"]:
            if e.get("who"):
                p = pairs.setdefault((addr, e["who"]), [0, 0])
                p[0] += e["total"]
                p[1] += e.get("compressed") or 0
    return pairs


def within(x, ref, tol):
    return abs(x - ref) <= tol * ref


def check_endpoints(c, rep, cl):
    by_pid = {w["pid"]: w for w in rep["workers"]}
    for w in cl["workers"]:
        e = by_pid.get(w["pid"])
        if not c.check(e is not None, f"worker pid {w['pid']} in report"):
            continue
        c.check(e["endpoint"] == w["address"],
                f"worker pid {w['pid']} endpoint {w['address']}",
                f"got {e['endpoint']} {e.get('endpoints')}")
        c.check(e.get("role") == "worker", f"worker pid {w['pid']} role",
                f"got {e.get('role')}")
    want = {(w["address"], w["pid"]) for w in cl["workers"]}
    # Other clusters may share the machine: compare within ours.
    got = {(w["endpoint"], w["pid"]) for w in rep["workers"]
           if w.get("role") == "worker" and
           w.get("scheduler") == cl["scheduler"]["address"]}
    c.check(got == want, "role=worker entries of our scheduler are exactly "
            "Dask's workers",
            f"extra {sorted(got - want)} missing {sorted(want - got)}")
    s = cl["scheduler"]
    e = by_pid.get(s["pid"])
    c.check(e is not None and e["endpoint"] == s["address"] and
            e.get("role") == "scheduler",
            f"scheduler pid {s['pid']} is {s['address']} role scheduler",
            f"got {e and (e['endpoint'], e.get('role'))}")
    for w in cl["workers"]:
        if not w.get("nanny_pid"):
            continue
        e = by_pid.get(w["nanny_pid"])
        c.check(e is not None and e["endpoint"] == w["nanny_address"] and
                e.get("role") == "nanny",
                f"nanny pid {w['nanny_pid']} is {w['nanny_address']} "
                "role nanny", f"got {e and (e['endpoint'], e.get('role'))}")


def check_flows(c, rep, cl, dk, tol):
    workers = {w["address"] for w in cl["workers"]}
    flows = {}                  # summed, should a pair appear twice
    for f in rep["flows"]:
        g = flows.setdefault((f["src"], f["dst"]),
                             {"bytes": 0, "tx_bytes": 0, "rx_bytes": 0})
        for k in g:
            g[k] += f[k]
    pairs = dask_pairs(dk)
    c.check(len(pairs) > 0, "Dask logged worker-to-worker transfers")
    logged = 0
    for (s, d), (total, wire) in sorted(pairs.items()):
        logged += total
        f = flows.get((s, d))
        if not c.check(f is not None, f"flow {s} -> {d} exists"):
            continue
        for field in ("tx_bytes", "rx_bytes"):
            c.check(within(f[field], total, tol) and f[field] >= wire,
                    f"flow {s} -> {d} {field} {f[field]} vs Dask "
                    f"total {total} (wire {wire})",
                    f"off by {f[field] - total:+d}")
    other = sum(f["bytes"] for k, f in flows.items()
                if k[0] in workers and k[1] in workers and k not in pairs)
    c.check(other < tol * logged,
            f"unlogged worker->worker bytes {other} < {tol:.0%} of {logged}")


def check_totals(c, rep):
    # harvest_overruns counts late harvest ticks (a busy 2-core box), not
    # lost data: counters are cumulative. Shown, not required to be zero.
    drops = {k: v for k, v in rep.get("drops", {}).items()
             if k != "harvest_overruns"}
    c.check(all(v == 0 for v in drops.values()),
            "drops all zero (harvest_overruns "
            f"{rep.get('drops', {}).get('harvest_overruns')} not counted)",
            json.dumps(drops))
    c.check(not rep["trace"].get("truncated"), "trace not truncated")
    tx = sum(f["tx_bytes"] for f in rep["flows"])
    c.check(tx == rep["totals"]["tx_bytes"],
            f"sum(flows.tx_bytes) {tx} == totals.tx_bytes "
            f"{rep['totals']['tx_bytes']}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--report", required=True)
    ap.add_argument("--cluster", required=True)
    ap.add_argument("--dask", required=True)
    ap.add_argument("--tolerance", type=float, default=0.01)
    a = ap.parse_args(argv)
    rep, cl, dk = load(a.report), load(a.cluster), load(a.dask)
    c = Checker()
    c.check(rep.get("schema") == "xfertrace.report/1", "report schema",
            str(rep.get("schema")))
    c.check(cl.get("complete") is True, "cluster state complete")
    dpids = dk.get("workers", {})
    if "outgoing" in dk:
        c.check(dpids == {w["address"]: w["pid"] for w in cl["workers"]},
                "Dask client.run(os.getpid) agrees with the cluster state")
    check_endpoints(c, rep, cl)
    check_flows(c, rep, cl, dk, a.tolerance)
    check_totals(c, rep)
    c.invariants(rep)
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
