#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Check `xfertrace top` frames against tests/rategen's own measurements.

  check_top.py sample --pid PID --out FILE
      Ground truth for CPU: every 0.2 s append "WALL_S CPU_NS" read from
      /proc/PID/schedstat until the process is gone.

  check_top.py check --gen GEN.jsonl [--json TOP.ndjson] [--text TOP.txt]
                     [--cpu SAMPLES] [--rate-tol 0.05] [--cpu-tol 2]
      GEN.jsonl is rategen's output (plan line, then one line per process
      with its measured rate). Only frames whose whole window lies inside
      every sender's sending span are compared (at least 3 are needed).
      Checks: frame format (NDJSON keys and types; text columns stable);
      per-endpoint RX/TX bytes/s averaged over those frames within
      --rate-tol of the generator's own rates (senders, receivers, and
      the flows sender -> receiver in --json); connections and top peer;
      the burner's CPU% averaged over frames inside the sampled span
      within --cpu-tol points of /proc ground truth over the same span;
      drop counters zero; a process that exits is shown once marked gone
      and is absent afterwards (--json, when frames go past its exit).

Prints "ok DESC" or "FAIL DESC: details" per check; exit 1 on failure.
"""
import argparse
import json
import os
import re
import sys
import time

results = []


def check(ok, desc, detail=""):
    results.append(bool(ok))
    print(("ok %s" % desc) if ok else ("FAIL %s: %s" % (desc, detail)))


# ---- ground truth ----

def sample(a):
    path = "/proc/%d/schedstat" % a.pid
    with open(a.out, "a") as out:
        while True:
            try:
                with open(path) as f:
                    ns = int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                return 0
            out.write("%.6f %d\n" % (time.time(), ns))
            out.flush()
            time.sleep(0.2)


def load_gen(path):
    plan, procs = None, []
    with open(path) as f:
        for line in f:
            d = json.loads(line)
            if d.get("role") == "plan":
                plan = d
            else:
                procs.append(d)
    return plan, procs


def load_samples(path):
    s = []
    with open(path) as f:
        for line in f:
            v = line.split()
            if len(v) == 2:
                s.append((float(v[0]), int(v[1])))
    return s


def interp(samples, t):
    for (t0, c0), (t1, c1) in zip(samples, samples[1:]):
        if t0 <= t <= t1:
            return c0 + (c1 - c0) * (t - t0) / (t1 - t0) if t1 > t0 else c0
    return None


# ---- top output ----

ROW_KEYS = {"endpoint": str, "pid": int, "role": str, "rx_bytes_per_s": (int, float),
            "tx_bytes_per_s": (int, float), "cpu_pct": (int, float),
            "runq_pct": (int, float), "transfer_active_pct": (int, float),
            "connections": int, "top_peer": (str, type(None))}
DROP_KEYS = ["conn_map_full", "thread_map_full", "proc_map_full", "ringbuf_full",
             "marks_rejected"]


def load_json_frames(path):
    frames, bad = [], []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            try:
                fr = json.loads(line)
            except ValueError as e:
                bad.append("line %d: %s" % (n, e))
                continue
            if not isinstance(fr, dict):
                bad.append("line %d: not an object" % n)
                continue
            for k, t in (("time_unix", (int, float)), ("interval_ns", int),
                         ("drops", dict), ("rows", list)):
                if not isinstance(fr.get(k), t):
                    bad.append("line %d: %s missing or wrong type" % (n, k))
            for k in DROP_KEYS:
                if not isinstance((fr.get("drops") or {}).get(k), int):
                    bad.append("line %d: drops.%s missing" % (n, k))
            for r in fr.get("rows") or []:
                for k, t in ROW_KEYS.items():
                    if not isinstance(r.get(k), t):
                        bad.append("line %d: row %s: %s missing or wrong type"
                                   % (n, r.get("endpoint"), k))
            frames.append(fr)
    check(frames and not bad, "%s: %d NDJSON frames with every documented key"
          % (os.path.basename(path), len(frames)), "; ".join(bad[:5]) or "no frames")
    return frames


HDR_RE = re.compile(r"^xfertrace top - \S+ \S+ \(([\d.]+)\) .* interval ([\d.]+) s ")
ROW_RE = re.compile(r"^\s*(\d+) (\S+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)"
                    r"\s+([\d.]+)\s+(\d+) (\S+)\s+(\S+)$")


def parse_text_frame(lines, bad):
    m = HDR_RE.match(lines[0])
    if not m:
        bad.append("bad frame header: %r" % lines[0][:80])
        return None
    fr = {"time_unix": float(m.group(1)),
          "interval_ns": int(float(m.group(2)) * 1e9), "rows": [], "drops": {}}
    cols = [l for l in lines if l.lstrip().startswith("PID ")]
    if len(cols) != 1:
        bad.append("frame at %s: no column header" % m.group(1))
        return None
    fr["colhdr"] = cols[0]
    for l in lines:
        if l.startswith("drops "):
            fr["drops"] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", l)}
    body = lines[lines.index(cols[0]) + 1:]
    for l in body:
        rm = ROW_RE.match(l)
        if not rm:
            continue    # endpoints with blanks in comm: not ours
        fr["rows"].append({"pid": int(rm.group(1)), "role": rm.group(2),
                           "rx_bytes_per_s": float(rm.group(3)) * 1e6,
                           "tx_bytes_per_s": float(rm.group(4)) * 1e6,
                           "cpu_pct": float(rm.group(5)),
                           "connections": int(rm.group(8)),
                           "endpoint": rm.group(9),
                           "top_peer": None if rm.group(10) == "-" else rm.group(10),
                           "_line": l})
    return fr


def text_columns_stable(frames):
    """Every row's fixed fields end where their header ends."""
    bad = []
    hdrs = {fr["colhdr"] for fr in frames}
    if len(hdrs) != 1:
        bad.append("column header differs between frames")
    h = frames[0]["colhdr"]
    ends = [h.index(t) + len(t) for t in ("PID", "RX_MB/s", "TX_MB/s", "CPU%", "CONNS")]
    start_ep = h.index("ENDPOINT")
    for fr in frames:
        for r in fr["rows"]:
            l = r["_line"]
            for e in ends:
                if len(l) < e or l[e - 1] == " " or (len(l) > e and l[e] != " "):
                    bad.append("row %r: a field does not end at column %d" % (l[:60], e))
                    break
            if l[start_ep:start_ep + len(r["endpoint"])] != r["endpoint"]:
                bad.append("row %r: endpoint not at column %d" % (l[:60], start_ep))
    return bad


def load_text_frames(path):
    with open(path) as f:
        chunks = [c.split("\n") for c in f.read().split("\n\n") if c.strip()]
    frames, bad = [], []
    for c in chunks:
        fr = parse_text_frame([l for l in c if l], bad)
        if fr:
            frames.append(fr)
    check(frames and not bad, "%s: %d text frames parsed" % (os.path.basename(path), len(frames)),
          "; ".join(bad[:5]) or "no frames")
    if frames:
        bad = text_columns_stable(frames)
        check(not bad, "%s: stable columns (fixed fields end under their headers)"
              % os.path.basename(path), "; ".join(bad[:5]))
    return frames


# ---- comparisons ----

def window(fr):
    return fr["time_unix"] - fr["interval_ns"] / 1e9, fr["time_unix"]


def frames_within(frames, lo, hi):
    return [fr for fr in frames if window(fr)[0] >= lo and window(fr)[1] <= hi]


def avg(frames, pred, key):
    """Interval-weighted mean of row[key] over frames; None if absent."""
    tot, dur, missing = 0.0, 0.0, 0
    for fr in frames:
        rows = [r for r in fr["rows"] if pred(r)]
        if len(rows) != 1:
            missing += 1
            continue
        tot += rows[0][key] * fr["interval_ns"]
        dur += fr["interval_ns"]
    return (tot / dur if dur else None), missing


def close(got, want, tol):
    return got is not None and want > 0 and abs(got - want) <= tol * want


def check_rates(name, frames, gen, tol):
    senders = [p for p in gen if p["role"] == "sender"]
    receivers = {p["port"]: p for p in gen if p["role"] == "receiver"}
    lo = max(p["start_unix"] for p in senders)
    hi = min(p["end_unix"] for p in senders)
    sel = frames_within(frames, lo, hi)
    check(len(sel) >= 3, "%s: %d frames lie inside the generator's sending span"
          % (name, len(sel)), "need 3")
    if len(sel) < 3:
        return
    for s in sorted(senders, key=lambda p: p["target_bytes_per_s"]):
        rep = receivers.get(s["dst_port"])
        ep = "tcp://127.0.0.1:%d" % s["dst_port"]
        got, miss = avg(sel, lambda r: r["pid"] == s["pid"], "tx_bytes_per_s")
        check(close(got, s["bytes_per_s"], tol) and not miss,
              "%s: sender %d TX %.3f MB/s within %d%% of its own %.3f MB/s"
              % (name, s["pid"], (got or 0) / 1e6, tol * 100, s["bytes_per_s"] / 1e6),
              "missing from %d frames" % miss if miss else "off by %.1f%%" %
              (100 * abs((got or 0) - s["bytes_per_s"]) / s["bytes_per_s"]))
        if rep and rep["senders"] == 1:
            got, miss = avg(sel, lambda r: r["endpoint"] == ep and r["pid"] == rep["pid"],
                            "rx_bytes_per_s")
            check(close(got, rep["bytes_per_s"], tol) and not miss,
                  "%s: receiver %s RX %.3f MB/s within %d%% of its own %.3f MB/s"
                  % (name, ep, (got or 0) / 1e6, tol * 100, rep["bytes_per_s"] / 1e6),
                  "missing from %d frames" % miss if miss else "off by %.1f%%" %
                  (100 * abs((got or 0) - rep["bytes_per_s"]) / rep["bytes_per_s"]))
        rows = [r for fr in sel for r in fr["rows"] if r["pid"] == s["pid"]]
        bad = ["peer %s conns %s" % (r["top_peer"], r["connections"]) for r in rows
               if r["top_peer"] != ep or r["connections"] != 1]
        check(rows and not bad, "%s: sender %d: 1 connection, top peer %s"
              % (name, s["pid"], ep), "; ".join(bad[:3]) or "no rows")


def check_flows(frames, gen, tol):
    senders = [p for p in gen if p["role"] == "sender"]
    lo = max(p["start_unix"] for p in senders)
    hi = min(p["end_unix"] for p in senders)
    sel = frames_within(frames, lo, hi)
    if len(sel) < 3:
        return
    for s in senders:
        src = "pid:%d/rg-send" % s["pid"]
        dst = "tcp://127.0.0.1:%d" % s["dst_port"]
        tot, dur, miss = 0.0, 0, 0
        for fr in sel:
            fl = [f for f in fr.get("flows", []) if f["src"] == src and f["dst"] == dst]
            if len(fl) != 1:
                miss += 1
                continue
            tot += fl[0]["bytes_per_s"] * fr["interval_ns"]
            dur += fr["interval_ns"]
        got = tot / dur if dur else None
        check(close(got, s["bytes_per_s"], tol) and not miss,
              "json: flow %s -> %s %.3f MB/s within %d%% (matrix source)"
              % (src, dst, (got or 0) / 1e6, tol * 100),
              "missing from %d frames" % miss if miss else "got %s" % got)


def check_cpu(name, frames, burner_pid, samples, tol):
    if len(samples) < 4:
        check(False, "%s: CPU ground truth sampled" % name, "%d samples" % len(samples))
        return
    sel = frames_within(frames, samples[0][0], samples[-1][0])
    sel = [fr for fr in sel if any(r["pid"] == burner_pid for r in fr["rows"])]
    check(len(sel) >= 3, "%s: %d frames inside the burner's sampled span" % (name, len(sel)),
          "need 3")
    if len(sel) < 3:
        return
    lo, hi = window(sel[0])[0], window(sel[-1])[1]
    c0, c1 = interp(samples, lo), interp(samples, hi)
    truth = (c1 - c0) / ((hi - lo) * 1e9) * 100
    got, miss = avg(sel, lambda r: r["pid"] == burner_pid, "cpu_pct")
    check(got is not None and abs(got - truth) <= tol and not miss,
          "%s: burner %d CPU %.1f%% within %g points of /proc's %.1f%% over %.1f s"
          % (name, burner_pid, got or 0, tol, truth, hi - lo),
          "off by %.1f" % abs((got or 0) - truth))


def check_gone(frames, gen):
    """An exited process: one frame marked gone, then absent."""
    bad, seen = [], 0
    for p in gen:
        idx = [i for i, fr in enumerate(frames) if any(r["pid"] == p["pid"] for r in fr["rows"])]
        if not idx or idx[-1] == len(frames) - 1:
            continue    # still there in the last frame: cannot tell
        gone = [i for i in idx if any(r["pid"] == p["pid"] and r.get("gone")
                                      for r in frames[i]["rows"])]
        seen += 1
        if not gone:
            bad.append("pid %d vanished without a gone frame" % p["pid"])
        elif len(gone) != 1:
            bad.append("pid %d marked gone in %d frames" % (p["pid"], len(gone)))
        elif gone[0] != idx[-1]:
            bad.append("pid %d shown again after its gone frame" % p["pid"])
    check(seen and not bad, "json: %d exited processes shown once marked gone, then gone" % seen,
          "; ".join(bad[:4]) or "no process exited while top ran")


def check_drops(name, frames):
    nz = {k: v for fr in frames for k, v in fr["drops"].items() if k in DROP_KEYS and v}
    check(not nz, "%s: drop counters zero" % name, str(nz))


def run_check(a):
    plan, gen = load_gen(a.gen)
    check(plan is not None and gen, "generator output has a plan and results",
          "plan %s, %d results" % (plan is not None, len(gen)))
    if not gen:
        return
    burner = next((p["pid"] for p in gen if p["role"] == "burner"), None)
    samples = load_samples(a.cpu) if a.cpu else []
    for path, kind in ((a.json, "json"), (a.text, "text")):
        if not path:
            continue
        frames = load_json_frames(path) if kind == "json" else load_text_frames(path)
        if not frames:
            continue
        check_drops(kind, frames)
        check_rates(kind, frames, gen, a.rate_tol)
        if kind == "json":
            check_flows(frames, gen, a.rate_tol)
            if a.gone:
                check_gone(frames, gen)
        if burner and a.cpu:
            check_cpu(kind, frames, burner, samples, a.cpu_tol)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample")
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--out", required=True)
    c = sub.add_parser("check")
    c.add_argument("--gen", required=True)
    c.add_argument("--json")
    c.add_argument("--text")
    c.add_argument("--cpu")
    c.add_argument("--gone", action="store_true",
                   help="frames go past the generator's exit: check gone rows")
    c.add_argument("--rate-tol", type=float, default=0.05)
    c.add_argument("--cpu-tol", type=float, default=2.0)
    a = ap.parse_args()
    if a.cmd == "sample":
        return sample(a)
    run_check(a)
    return 0 if results and all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
