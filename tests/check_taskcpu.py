#!/usr/bin/python3
"""Task and trial CPU from `report --marks --format json` against the tasks'
own clocks (calib.py --dask-log: every task's time.thread_time_ns()).

    check_taskcpu.py --report R.json --dask D.json [--tag T]
                     [--bytes-tol 0.02] [--figures F.json]

Targets (issue 13): CPU of each task within 10% or 2 ms of its own
thread_time for >= 95% of tasks, median error <= 2%; compute CPU per trial
within 2% of the sum of its tasks' thread_time; simulation and aggregation
CPU p50 and p95 within 5%; transfer bytes per trial within --bytes-tol of
Dask's transfer_incoming_log for every trial not disturbed by work
stealing. Prints ok/FAIL lines, the figures, and "N passed, N failed".
"""
import argparse
import json
import sys

PASS = FAIL = 0


def ok(cond, msg):
    global PASS, FAIL
    if cond:
        PASS += 1
        print(f"ok   - {msg}")
    else:
        FAIL += 1
        print(f"FAIL - {msg}")
    return cond


def pct(v, p):
    """Linear interpolation between ranks, as the report does."""
    v = sorted(v)
    if not v:
        return float("nan")
    x = p * (len(v) - 1)
    i = int(x)
    return v[i] if i + 1 >= len(v) else v[i] + (v[i + 1] - v[i]) * (x - i)


def truth_tasks(d):
    """(kind, param_id, seed or target) -> thread_cpu_ns."""
    out = {}
    for t in d["trials"]:
        for s in t["sims"]:
            out[("sim", t["param_id"], str(s["seed"]))] = s["thread_cpu_ns"]
        for g in t["aggs"]:
            out[("agg", t["param_id"], g["target"])] = g["thread_cpu_ns"]
    return out


def key_of(trial, k):
    return (k["kind"], trial["param_id"],
            str(k["seed"]) if k["kind"] == "sim" else k["target"])


def logged_bytes(d):
    """Per param_id: bytes in transfer_incoming_log, and disturbed trials."""
    by, bad = {}, set()
    aggw = {t["param_id"]: {g["worker"] for g in t["aggs"]}
            for t in d["trials"]}
    for w, logs in d["workers"].items():
        seen = set()
        for e in logs["transfer_incoming_log"]:
            for key, n in e["keys"].items():
                parts = key.split("-")
                pid = parts[2] if len(parts) >= 4 else None
                if pid not in aggw:
                    continue
                by[pid] = by.get(pid, 0) + n
                if w not in aggw[pid] or key in seen:
                    bad.add(pid)    # work stealing or a refetch
                seen.add(key)
    return by, bad


def check(a, r, d):
    tag = a.tag
    truth = truth_tasks(d)
    errs, rel, exact, n_exact = [], [], [], 0
    per_trial = {}
    kinds = {"sim": ([], []), "agg": ([], [])}
    for tr in r["trials"]:
        for k in tr["tasks"]:
            want = truth.get(key_of(tr, k))
            if want is None or k["cpu_ns"] is None:
                continue
            got = k["cpu_ns"]
            errs.append(abs(got - want))
            rel.append(abs(got - want) / want if want else 0.0)
            n_exact += bool(k.get("cpu_exact"))
            kinds[k["kind"]][0].append(got / 1e6)
            kinds[k["kind"]][1].append(want / 1e6)
            p = per_trial.setdefault(tr["id"], [tr["compute_cpu_ns"], 0])
            p[1] += want
    n = len(errs)
    ok(n >= 0.95 * len(truth),
       f"{tag}: {n} of {len(truth)} tasks have a CPU figure to compare")
    if not n:
        return {}
    within = sum(1 for e, w in zip(errs, rel) if e <= 2e6 or w <= 0.10)
    med = pct(rel, 0.5)
    ok(within >= 0.95 * n,
       f"{tag}: task CPU within 10% or 2 ms of its thread_time for "
       f"{within}/{n} tasks ({100 * within / n:.1f}%, need 95%)")
    ok(med <= 0.02, f"{tag}: median task CPU error {100 * med:.2f}% "
       f"(need <= 2%)")
    ok(n_exact == n, f"{tag}: {n_exact}/{n} tasks cpu_exact "
       f"(diagnostics cpu_exact_share "
       f"{r['diagnostics'].get('cpu_exact_share')})")
    terr = [(c - s) / s for c, s in per_trial.values() if s]
    worst = max(terr, key=abs)
    ok(all(abs(e) <= 0.02 for e in terr),
       f"{tag}: compute CPU per trial within 2% of the sum of its tasks' "
       f"thread_time ({100 * min(terr):+.2f}% .. {100 * max(terr):+.2f}%)")
    fig = {"tasks": n, "median_err": med, "within": within / n,
           "trial_err_min": min(terr), "trial_err_max": max(terr),
           "trial_err_worst": worst}
    diag = r["diagnostics"]
    for kind, (got, want) in kinds.items():
        for p in (0.5, 0.95):
            rep = diag.get(f"{kind}_cpu_ms_p{int(p * 100)}")
            tv = pct(want, p)
            ok(rep is not None and abs(rep - tv) <= 0.05 * tv,
               f"{tag}: {kind} CPU p{int(p * 100)} {rep} ms against the "
               f"tasks' own {tv:.2f} ms (within 5%)")
            fig[f"{kind}_p{int(p * 100)}"] = [rep, tv]
    by, bad = logged_bytes(d)
    berr = []
    for tr in r["trials"]:
        pid = tr["param_id"]
        if pid in bad or pid not in by:
            continue
        berr.append((tr["transfer_bytes"] - by[pid]) / by[pid])
    bw = max(berr, key=abs) if berr else float("nan")
    drops = {k: v for k, v in (r.get("drops") or {}).items() if v}
    ok(berr and all(abs(e) <= a.bytes_tol for e in berr),
       f"{tag}: transfer bytes per trial within {100 * a.bytes_tol:g}% of "
       f"Dask's transfer_incoming_log for {len(berr)} trials "
       f"(worst {100 * bw:+.3f}%; {len(bad)} disturbed by stealing"
       f"{'; drops ' + str(drops) if drops else ''})")
    fig["bytes_worst"] = bw
    fig["bytes_trials"] = len(berr)
    return fig


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--report", required=True)
    ap.add_argument("--dask", required=True)
    ap.add_argument("--tag", default="")
    ap.add_argument("--bytes-tol", type=float, default=0.02)
    ap.add_argument("--figures")
    a = ap.parse_args()
    with open(a.report) as f:
        r = json.load(f)
    with open(a.dask) as f:
        d = json.load(f)
    fig = check(a, r, d)
    print("figures: " + json.dumps(fig))
    if a.figures:
        with open(a.figures, "w") as f:
            json.dump(fig, f)
    print(f"{PASS} passed, {FAIL} failed")
    return 1 if FAIL else 0


if __name__ == "__main__":
    sys.exit(main())
