#!/usr/bin/python3
"""Check `xfertrace report --marks` per-trial attribution against Dask.

    check_trials.py --report R.json --dask D.json [--tol 0.02]
                    [--tag A] [--partial-marks]
    check_trials.py --compare C.json --dask-a DA.json --dask-b DB.json
                    [--tol 0.03]
    check_trials.py --synth DIR --xt build/xfertrace

--synth writes a small trace by hand (DIR/synth.xft, the record layouts of
user/records.h) and its marks (DIR/synth.log): the worked example of
docs/attribution.md section 3, plus a trial known only by TRIAL_BEGIN/END,
a fetch into a worker on another node (seen at the local sender) and stray
bytes no trial can own. It runs `report --marks` and checks every number
the rules give, exactly.

Ground truth is calib.py's --dask-log: where Dask ran every simulation and
aggregation of every trial (the workers' own get_worker().address) and
every worker's transfer_incoming_log. For each trial the bytes that must
have moved are

    sum over the distinct workers W its aggregations ran on of
        (simulations not computed on W) x payload_bytes

(the two aggregations of a trial on one worker fetch once). The report's
transfer_bytes must agree within --tol (it also counts framing and pickle
headers, a few hundred bytes per input), and also with the sizes Dask's
transfer_incoming_log gives for the trial's keys.

Work stealing: an aggregation the scheduler moves after a worker fetched
its inputs shows in that worker's transfer_incoming_log as keys of a trial
none of whose aggregations ran there; a key fetched twice into one worker
is a re-fetch. Both move bytes the placement formula does not predict, so
such trials are listed and left out of the per-trial comparison (the bytes
they moved are in the report, as the fetching worker's bytes).

Also: conservation (trial shares + unattributed == measured, for bytes,
compute and comm CPU), split and locality against Dask's placement,
simulation CPU against the CPU calib.py burns, and the verdict wording.
Prints ok/FAIL lines and "N passed, N failed".
"""
import argparse
import json
import os
import socket
import struct
import subprocess
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pylib  # noqa: E402
import zlib

CHK = pylib.Checker()
ok = CHK.check


def trial_of_key(key):
    # sim-RUN-PARAM-r / agg-RUN-PARAM-target
    parts = key.split("-")
    return parts[2] if len(parts) >= 4 else None


def dask_truth(d):
    """Per param_id: expected bytes, Dask-logged bytes, flags."""
    pay = d["config"]["payload_bytes"]
    trials = {t["param_id"]: t for t in d["trials"]}
    out = {}
    for pid, t in trials.items():
        aggw = {g["worker"] for g in t["aggs"]}
        exp = sum(sum(1 for s in t["sims"] if s["worker"] != w) * pay
                  for w in aggw)
        local = sum(1 for g in t["aggs"] for s in t["sims"]
                    if s["worker"] == g["worker"])
        out[pid] = {"expected": exp, "logged": 0, "stolen": [],
                    "refetch": [], "agg_workers": aggw,
                    "split": len(aggw) > 1, "n_sims": len(t["sims"]),
                    "n_aggs": len(t["aggs"]), "local": local,
                    "inputs": len(t["sims"]) * len(t["aggs"])}
    for w, logs in d["workers"].items():
        seen = set()
        for e in logs["transfer_incoming_log"]:
            for key, nbytes in e["keys"].items():
                pid = trial_of_key(key)
                if pid not in out:
                    continue
                out[pid]["logged"] += nbytes
                if w not in out[pid]["agg_workers"]:
                    out[pid]["stolen"].append(w)
                if key in seen:
                    out[pid]["refetch"].append(key)
                # computed here, dropped, fetched back: not in the marks
                elif d.get("tasks", {}).get(key, {}).get("worker") == w:
                    out[pid]["refetch"].append(key)
                seen.add(key)
    return out


def close(a, b, tol):
    return b > 0 and abs(a - b) <= tol * b or a == b == 0


def check_conservation(tag, r):
    w = r["diagnostics"]["window"]
    ok(w is not None, f"{tag}: analysis window present")
    if w is None:
        return
    tb = sum(t["transfer_bytes"] or 0 for t in r["trials"])
    tc = sum(t["compute_cpu_ns"] or 0 for t in r["trials"])
    tm = sum(t["comm_cpu_ns"] or 0 for t in r["trials"])
    ok(tb + w["unattributed_bytes"] == w["worker_bytes"],
       f"{tag}: bytes conserved: trials {tb} + unattributed "
       f"{w['unattributed_bytes']} == measured {w['worker_bytes']}")
    ok(tc + w["unattributed_compute_ns"] == w["compute_cpu_ns"],
       f"{tag}: compute CPU conserved ({tc} + "
       f"{w['unattributed_compute_ns']} == {w['compute_cpu_ns']})")
    ok(tm + w["unattributed_comm_ns"] == w["comm_cpu_ns"],
       f"{tag}: comm CPU conserved ({tm} + {w['unattributed_comm_ns']} "
       f"== {w['comm_cpu_ns']})")
    share = r["diagnostics"]["unattributed_share"]
    ok(share is not None and
       abs(share - w["unattributed_bytes"] / max(w["worker_bytes"], 1))
       < 1e-9, f"{tag}: unattributed_share {share} matches the window")


def check_trials(tag, r, d, tol, partial):
    truth = dask_truth(d)
    rt = {t["id"]: t for t in r["trials"]}
    ok(set(truth) <= set(rt),
       f"{tag}: every Dask trial in the report "
       f"({len(set(truth) & set(rt))}/{len(truth)})")
    flagged = {p for p, v in truth.items() if v["stolen"] or v["refetch"]}
    for p in sorted(flagged):
        v = truth[p]
        print(f"     {tag}: trial {p} moved by Dask after a fetch "
              f"(stolen to/fetched by {sorted(set(v['stolen']))}, "
              f"refetched {len(v['refetch'])}): not compared")
    ok(len(flagged) <= len(truth) // 2,
       f"{tag}: at most half the trials disturbed by work stealing "
       f"({len(flagged)}/{len(truth)})")
    worst = worst_log = 0.0
    bad = []
    compared = 0
    for p, v in truth.items():
        t = rt.get(p)
        if t is None:
            continue
        if partial and t["attribution"] != "task":
            continue
        ok(t["n_sims"] == v["n_sims"] and t["n_aggs"] == v["n_aggs"] and
           t["split"] == v["split"],
           f"{tag}: {p}: sims {t['n_sims']}, aggs {t['n_aggs']}, split "
           f"{t['split']} as Dask placed them")
        if p in flagged:
            continue
        compared += 1
        got = t["transfer_bytes"] or 0
        err = abs(got - v["expected"]) / v["expected"] if v["expected"] \
            else float(got != 0)
        lerr = abs(got - v["logged"]) / v["logged"] if v["logged"] \
            else float(got != 0)
        worst = max(worst, err)
        worst_log = max(worst_log, lerr)
        if err > tol or lerr > tol:
            bad.append(f"{p}: {got} B vs placement {v['expected']} "
                       f"({err:.2%}), Dask log {v['logged']} ({lerr:.2%})")
    for b in bad:
        print(f"     {tag}: {b}")
    ok(compared > 0 and not bad,
       f"{tag}: per-trial transfer bytes within {tol:.0%} of placement "
       f"and of Dask's transfer_incoming_log for {compared} trials "
       f"(worst {worst:.3%} / {worst_log:.3%})")
    return truth


def check_diag(tag, r, d, truth):
    g = r["diagnostics"]
    n = len(truth)
    split = sum(v["split"] for v in truth.values())
    ok(g["split_rate"] is not None and
       abs(g["split_rate"] - split / n) < 1e-9,
       f"{tag}: split_rate {g['split_rate']} == Dask's {split}/{n}")
    loc = sum(v["local"] for v in truth.values())
    inp = sum(v["inputs"] for v in truth.values())
    ok(g["locality"] is not None and abs(g["locality"] - loc / inp) < 1e-9,
       f"{tag}: locality {g['locality']:.3f} == Dask's {loc}/{inp}")
    sim_ms = d["config"]["sim_ms"]
    p50 = g["sim_cpu_ms_p50"]
    ok(p50 is not None and 0.5 * sim_ms <= p50 <= 2.0 * sim_ms,
       f"{tag}: simulation CPU p50 {p50} ms against the {sim_ms} ms of "
       f"CPU each burns (thread_time)")
    ok(g["sim_ms_p50"] is not None and g["sim_ms_p50"] >= 0.9 * sim_ms,
       f"{tag}: simulation duration p50 {g['sim_ms_p50']} ms from the "
       f"marks")
    v = g["verdict"]
    ok(("transfer dominates" in v) != ("compute dominates" in v),
       f"{tag}: verdict says which dominates: {v}")
    want = "transfer dominates" if g["transfer_dominates"] else \
        "compute dominates"
    ok(want in v and (g["transfer_ns"] > g["compute_cpu_ns"]) ==
       g["transfer_dominates"],
       f"{tag}: verdict follows transfer {g['transfer_ns']} ns against "
       f"compute {g['compute_cpu_ns']} ns")
    keys = ["id", "start_unix", "wall_ns", "n_sims", "n_aggs",
            "compute_cpu_ns", "comm_cpu_ns", "transfer_bytes",
            "transfer_ns", "transfer_share", "split", "dup_factor", "tasks"]
    tkeys = ["kind", "worker", "start_unix", "duration_ns", "cpu_ns",
             "in_bytes"]
    dkeys = ["sim_ms_p50", "sim_ms_p95", "agg_ms_p50", "agg_ms_p95",
             "split_rate", "locality", "payload_per_agg_bytes_p50",
             "unattributed_share", "verdict"]
    ok(all(k in t for t in r["trials"] for k in keys) and
       all(k in k2 for t in r["trials"] for k2 in t["tasks"]
           for k in tkeys) and all(k in g for k in dkeys),
       f"{tag}: trials[], tasks[] and diagnostics carry the named fields")


def dask_bytes_per_trial(d):
    tot = sum(e["total"] for w in d["workers"].values()
              for e in w["transfer_incoming_log"])
    return tot / max(len(d["trials"]), 1)


def cmd_compare(a):
    c = json.load(open(a.compare))["compare"]
    da, db = json.load(open(a.dask_a)), json.load(open(a.dask_b))
    want = dask_bytes_per_trial(db) / dask_bytes_per_trial(da)
    got = c["ratios"]["bytes_per_trial"]
    ok(got is not None and abs(got - want) <= a.tol * want,
       f"compare: bytes per trial B/A {got:.4f} against Dask's "
       f"transfer_incoming_log {want:.4f} (within {a.tol:.0%})")
    for k in ("trials_per_min", "bytes_per_trial", "transfer_share",
              "split_rate"):
        ok(k in c["ratios"] and k in c["a"] and k in c["b"],
           f"compare: {k} on both sides and as a ratio")
    sa = sum(len({g['worker'] for g in t['aggs']}) > 1
             for t in da["trials"]) / len(da["trials"])
    ok(c["a"]["split_rate"] is not None and
       abs(c["a"]["split_rate"] - sa) < 1e-9,
       f"compare: A's split rate {c['a']['split_rate']} == Dask's {sa}")


# ---- synthetic trace (keep in sync with user/records.h) ----

MS = 1_000_000
BASE = 1000 * 1_000_000_000            # trace clock at 12:00:00.000
WALL0 = 1767268800 * 1_000_000_000     # 2026-01-01T12:00:00Z
IPS = {"A": "10.0.0.1", "B": "10.0.0.2", "C": "10.0.0.3", "D": "10.0.0.4",
       "E": "10.0.0.5"}
PIDS = {"A": 101, "B": 102, "C": 103, "D": 104}


def ip_u32(ip):
    return struct.unpack("<I", socket.inet_aton(ip))[0]


def tup(lip, lport, rip, rport):
    return struct.pack("<IIII4I4I", 2, lport, rport, 0, ip_u32(lip), 0, 0,
                       0, ip_u32(rip), 0, 0, 0)


def rec(rtype, body):
    return struct.pack("<II", rtype, 8 + len(body)) + body


def t(ms):
    """Trace time of 12:00:00 + ms."""
    return BASE + int(round(ms * MS))


def synth_records():
    r = []
    for w, pid in PIDS.items():
        comm = b"python3".ljust(16, b"\0")
        r.append(rec(1, struct.pack("<QQQII16s160s", pid * 10**9, 1, 7, pid,
                                    1, comm, b"dask-worker".ljust(160, b"\0"))))
        r.append(rec(2, struct.pack("<QQQII", t(0), pid * 10**9, 1, pid, 1) +
                     tup(IPS[w], 8786, "0.0.0.0", 0) + struct.pack("<II", 0, 0)))
        for tid in (pid, pid * 10 + 1):     # event loop, executor
            r.append(rec(6, struct.pack("<QQII16s", pid * 10**9 + tid,
                                        pid * 10**9, tid, pid, comm)))
    conns = {}

    def conn(cid, owner, peer, accepted=False):
        if accepted:        # a remote process connected to owner
            tp = tup(IPS[owner], 8786, IPS[peer], 51000 + cid)
        else:               # owner connected to peer's listener
            tp = tup(IPS[owner], 50000 + cid, IPS[peer], 8786)
        pid = PIDS[owner]
        r.append(rec(3, struct.pack("<QQQQQII", cid, t(0), pid * 10**9, 1, 7,
                                    pid, 0) + tp))
        conns[(owner, peer)] = cid
    for cid, (o, p) in enumerate([("A", "B"), ("A", "C"), ("A", "D"),
                                  ("C", "A"), ("C", "B"), ("C", "D"),
                                  ("B", "D"), ("D", "B")], 1):
        conn(cid, o, p)
    conn(9, "D", "E", accepted=True)
    # (bin end ms, owner, peer, tx, rx, conn active ms)
    deltas = [(1100, "D", "B", 0, 20_000, 1),
              (1300, "A", "B", 95_600, 2_503_000, 3),
              (1300, "A", "C", 0, 1_001_400, 3),
              (1300, "A", "D", 0, 1_000_000, 3),
              (1300, "C", "A", 1_200, 1_500_000, 4),
              (1300, "C", "B", 0, 1_500_000, 4),
              (1300, "C", "D", 0, 1_000_800, 4),
              (1400, "A", "C", 0, 1_500_000, 4),
              (1400, "A", "D", 500, 1_500_500, 4),
              (1600, "B", "D", 0, 50_000, 2),
              (1600, "D", "E", 1_000_300, 0, 4)]
    by_end = {}
    for end, o, p, tx, rx, act in deltas:
        by_end.setdefault(end, []).append(rec(4, struct.pack(
            "<QQQQQQQ", t(end), conns[(o, p)], tx, rx, 1, 1, act * MS)))
    # (bin end ms, worker, event-loop CPU ms, executor CPU ms)
    for end, w, main, ex in [(1300, "A", 12, 95)]:
        pid = PIDS[w]
        for tid, cpu in ((pid, main), (pid * 10 + 1, ex)):
            by_end.setdefault(end, []).append(rec(7, struct.pack(
                "<QQIIQQQ", t(end), pid * 10**9 + tid, tid, 0, cpu * MS, 0,
                1)))
    # per-process burst-active time (A and C only)
    for end, w, act in [(1300, "A", 9), (1400, "A", 8), (1300, "C", 10)]:
        pid = PIDS[w]
        by_end.setdefault(end, []).append(rec(9, struct.pack(
            "<QQIIQQQ", t(end), pid * 10**9, pid, 0, act * MS, 0, 0)))
    for k in range(20):
        end = (k + 1) * 100
        r += by_end.get(end, [])
        r.append(rec(11, struct.pack("<QQ", t(end - 100), t(end))))
    return b"".join(r)


def write_trace(path, records):
    hdr = json.dumps({"format": "xfertrace.trace/1", "host": "synth",
                      "kernel": "synth", "arch": "x86_64",
                      "start_mono_ns": BASE, "mono_to_wall_ns": WALL0 - BASE,
                      "boot_to_mono_ns": 0, "interval_ms": 100,
                      "burst_gap_ns": 5 * MS, "hooks": {
                          "sock": "tp_btf", "state": "tp_btf",
                          "sched": "tp_btf", "iter_listeners": True},
                      "ncpus": 2}).encode()
    z = zlib.compress(records)
    with open(path, "wb") as f:
        f.write(b"XFERTRC\0" + struct.pack("<IIII", 1, 0x01020304, len(hdr),
                                            zlib.crc32(hdr)) + hdr)
        f.write(struct.pack("<IIII", 0x4b435458, len(records), len(z),
                            zlib.crc32(z)) + z)


def stamp(ms):
    s, frac = divmod(int(round(ms * MS)), 1_000_000_000)
    return f"2026-01-01T12:00:{s:02d}.{frac:09d}Z"


def synth_marks():
    w = {k: f"tcp://{ip}:8786" for k, ip in IPS.items()}
    L = []

    def sim(pid, worker, end, dur, seed):
        L.append((end, f"SIM_TIMING: param_id={pid} seed={seed} "
                  f"duration_ms={dur} worker={w[worker]}"))

    def agg(pid, tgt, worker, end, dur, mb):
        L.append((end, f"AGG_TIMING: run_id=r1 param_id={pid} target={tgt} "
                  f"n_sim_returns=10 n_outputs=1 total_inline_mb={mb:.2f} "
                  f"max_single_kb=500.0 duration_ms={dur} worker={w[worker]}"))
    for pid, b, e in (("t1", 1000, 1450), ("t2", 1010, 1700),
                      ("t3", 1550, 1700), ("t4", 1250, 1600)):
        L.append((b, f"TRIAL_BEGIN param_id={pid}"))
        L.append((e, f"TRIAL_END param_id={pid}"))
    # T1: A x3, B x3, C x2, D x2; last simulation [1178, 1230] on A
    for i, (wk, end) in enumerate([("A", 1080), ("A", 1120), ("A", 1230),
                                   ("B", 1100), ("B", 1150), ("B", 1200),
                                   ("C", 1100), ("C", 1200), ("D", 1100),
                                   ("D", 1200)]):
        sim("t1", wk, end, 52 if end == 1230 else 40, i)
    agg("t1", "target0", "A", 1440, 20, 5.0)
    agg("t1", "target1", "C", 1400, 20, 5.0)
    # T2: A x2, B x2, C x3, D x3; last simulation [1232, 1287] on A
    for i, (wk, end) in enumerate([("A", 1170), ("A", 1287), ("B", 1150),
                                   ("B", 1250), ("C", 1150), ("C", 1250),
                                   ("C", 1280), ("D", 1150), ("D", 1250),
                                   ("D", 1280)]):
        sim("t2", wk, end, 55 if end == 1287 else 45, 100 + i)
    agg("t2", "target0", "A", 1670, 20, 5.0)
    agg("t2", "target1", "A", 1660, 20, 5.0)
    # T4: ten simulations on D, aggregation on E (another node)
    for i in range(10):
        sim("t4", "D", 1300 + 20 * i + (20 if i == 9 else 0), 15, 200 + i)
    agg("t4", "target0", "E", 1580, 20, 1.0)
    L.sort()
    return "".join(f"{stamp(ms)} {text}\n" for ms, text in L)


def cmd_synth(a):
    os.makedirs(a.synth, exist_ok=True)
    xft = os.path.join(a.synth, "synth.xft")
    log = os.path.join(a.synth, "synth.log")
    write_trace(xft, synth_records())
    with open(log, "w") as f:
        f.write(synth_marks())
    p = subprocess.run([a.xt, "report", xft, "--marks", log, "--format",
                        "json"], capture_output=True, text=True)
    if not ok(p.returncode == 0, f"synth: report exits 0 ({p.stderr.strip()})"):
        return
    r = json.loads(p.stdout)
    tr = {x["id"]: x for x in r["trials"]}
    want = {"t1": 3_503_422 + 4_000_800, "t2": 1_000_978 + 3_000_500,
            "t3": 50_000, "t4": 1_000_300}
    for k, v in want.items():
        ok(k in tr and tr[k]["transfer_bytes"] == v,
           f"synth: {k} transfer_bytes {tr.get(k, {}).get('transfer_bytes')}"
           f" == {v}")
    ok(tr["t1"]["split"] and not tr["t2"]["split"] and
       tr["t3"]["attribution"] == "trial" and
       tr["t4"]["attribution"] == "task",
       "synth: split and attribution modes")
    xfer = {"t1": 9 * MS * 3_503_422 // 4_600_000 +
            10 * MS * 4_000_800 // 4_002_000,
            "t2": 9 * MS * 1_000_978 // 4_600_000 +
            8 * MS * 3_000_500 // 3_001_000,
            "t3": 2 * MS, "t4": 4 * MS}
    for k, v in xfer.items():
        ok(tr[k]["transfer_ns"] == v,
           f"synth: {k} transfer_ns {tr[k]['transfer_ns']} == {v}")
    a_sims = {(x["end_unix"], x["cpu_ns"], x["comm_cpu_ns"])
              for k in ("t1", "t2") for x in tr[k]["tasks"]
              if x["kind"] == "sim" and x["worker"].endswith("10.0.0.1:8786")
              and x["cpu_ns"]}
    wend = WALL0 / 1e9
    # 12 ms of event loop shared 30:55 in whole ns (largest remainder)
    exp = {(wend + 1.230, 30 * MS, 4_235_294),
           (wend + 1.287, 55 * MS, 7_764_706)}
    got = {(round(e, 3), c, m) for e, c, m in a_sims}
    exp = {(round(e, 3), c, m) for e, c, m in exp}
    ok(got == exp, f"synth: CPU of the bin shared by overlap, capped: {got}")
    w = r["diagnostics"]["window"]
    ok(w["worker_bytes"] == 12_576_000 and w["unattributed_bytes"] == 20_000
       and w["unattributed_compute_ns"] == 10 * MS and
       w["unattributed_comm_ns"] == 0,
       f"synth: window totals and unattributed (bytes "
       f"{w['worker_bytes']}/{w['unattributed_bytes']}, compute "
       f"{w['unattributed_compute_ns']})")
    ok(tr["t4"]["tasks"][-1]["in_bytes"] == 1_000_300 and
       [x["in_shared"] for x in tr["t2"]["tasks"] if x["kind"] == "agg"]
       == [2, 2], "synth: in_bytes of a remote fetch; shared fetch of two "
       "aggregations on one worker")
    ok(abs(tr["t1"]["dup_factor"] - 7_504_222 / 5e6) < 1e-9,
       f"synth: t1 dup_factor {tr['t1']['dup_factor']}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--report")
    ap.add_argument("--dask")
    ap.add_argument("--tol", type=float, default=0.02)
    ap.add_argument("--tag", default="trials")
    ap.add_argument("--partial-marks", action="store_true",
                    help="compare only task-level trials")
    ap.add_argument("--compare")
    ap.add_argument("--dask-a")
    ap.add_argument("--dask-b")
    ap.add_argument("--synth")
    ap.add_argument("--xt", default="build/xfertrace")
    a = ap.parse_args()
    if a.synth:
        cmd_synth(a)
    elif a.compare:
        cmd_compare(a)
    else:
        r = json.load(open(a.report))
        d = json.load(open(a.dask))
        ok(r.get("schema") == "xfertrace.report/1", f"{a.tag}: schema")
        check_conservation(a.tag, r)
        for good, desc, detail in pylib.report_invariants(r, a.tag):
            ok(good, desc + ("" if good else f" ({detail})"))
        truth = check_trials(a.tag, r, d, a.tol, a.partial_marks)
        if not a.partial_marks:
            check_diag(a.tag, r, d, truth)
    return CHK.finish()


if __name__ == "__main__":
    sys.exit(main())
