#!/usr/bin/python3
"""Checks of the report exports against the JSON report (tests/t_exports.sh).

    check_exports.py --json R.json --perfetto P.json
    check_exports.py --json R.json --csv-trials T.csv --csv-intervals I.csv
                     --csv-flows F.csv --md R.md
    check_exports.py --json R.json --html R.html --dom DOM.html
                     [--netlog NET.json] [--max-bytes N]
    check_exports.py --charts R.html --out PAGE.html [--max N]
    check_exports.py --shot PAGE.png --regions N
    check_exports.py --compare-json C.json --md-compare C.md
                     [--html C.html --dom DOM.html]

Prints "ok   - ..." / "FAIL - ..." lines and "N passed, N failed".
"""
import argparse
import csv
import json
import math
import re
import os
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pylib  # noqa: E402

CHK = pylib.Checker()
ok = CHK.check


def close(a, b, tol):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= tol


# ---- Perfetto / Chrome trace-event JSON ----

def check_perfetto(a, rep):
    doc = json.load(open(a.perfetto))
    ev = doc.get("traceEvents")
    ok(isinstance(ev, list) and ev, f"perfetto: traceEvents has {len(ev or [])} events")
    bad = [e for e in ev if not all(k in e for k in ("ph", "ts", "pid", "tid", "name"))]
    ok(not bad, f"perfetto: every event has ph, ts, pid, tid, name ({bad[:1]})")
    ok(all(e["ph"] in "MCXBEsf" for e in ev), "perfetto: only M, C, X, B, E, s, f phases")
    ok(all(e.get("dur", 0) >= 0 for e in ev if e["ph"] == "X") and
       all("dur" in e for e in ev if e["ph"] == "X"), "perfetto: X slices have dur >= 0")
    depth = {}
    okbe = True
    for e in sorted((e for e in ev if e["ph"] in "BE"), key=lambda e: e["ts"]):
        k = (e["pid"], e["tid"])
        depth[k] = depth.get(k, 0) + (1 if e["ph"] == "B" else -1)
        okbe &= depth[k] >= 0
    ok(okbe and all(v == 0 for v in depth.values()), "perfetto: B/E pairs balanced per thread")
    s = {e["id"]: e for e in ev if e["ph"] == "s"}
    f = {e["id"]: e for e in ev if e["ph"] == "f"}
    ok(set(s) == set(f) and len(s) == sum(e["ph"] == "s" for e in ev),
       f"perfetto: {len(s)} flow ids pair s<->f one to one")
    ok(all(f[i]["ts"] >= s[i]["ts"] for i in s if i in f), "perfetto: flows go forward in time")
    # each flow end lies inside a slice on its thread (so the UI binds it)
    sl = {}
    for e in ev:
        if e["ph"] == "X":
            sl.setdefault((e["pid"], e["tid"]), []).append((e["ts"], e["ts"] + e["dur"]))
    inside = all(any(a0 <= x["ts"] <= a1 for a0, a1 in sl.get((x["pid"], x["tid"]), []))
                 for x in list(s.values()) + list(f.values()))
    ok(inside, "perfetto: every flow event lies inside a slice of its thread")
    names = {e["pid"]: e["args"]["name"] for e in ev
             if e["ph"] == "M" and e["name"] == "process_name"}
    workers = rep["workers"]
    ok(all(any(n.startswith(w["endpoint"] + " (") for n in names.values()) for w in workers),
       f"perfetto: a named process track for each of the {len(workers)} processes")
    # counters: integrate the rate series (piecewise constant) per pid
    integ = {}
    last = {}
    for e in sorted((e for e in ev if e["ph"] == "C"), key=lambda e: e["ts"]):
        k = (e["pid"], e["name"])
        if k in last:
            t0, v0 = last[k]
            integ[k] = integ.get(k, 0) + v0 * (e["ts"] - t0) / 1e6
        last[k] = (e["ts"], e["args"][e["name"]])
    ok(all(v == 0 for _, v in last.values()), "perfetto: every counter series ends at 0")
    by_name = {}
    for w in workers:
        pid = next((p for p, n in names.items() if n.startswith(w["endpoint"] + " (")), None)
        by_name[w["endpoint"]] = pid
    errs = []
    for w in workers:
        pid = by_name[w["endpoint"]]
        for key, cname, scale in (("tx_bytes", "TX bytes/s", 1), ("rx_bytes", "RX bytes/s", 1),
                                  ("cpu_ns", "CPU %", 1e7)):
            got = integ.get((pid, cname), 0) * scale
            if not close(got, w[key], max(2, w[key] * 1e-6)):
                errs.append(f"{w['endpoint']} {key} {got:.0f} != {w[key]}")
    ok(not errs, f"perfetto: counters integrate to each process's tx_bytes, rx_bytes, cpu_ns ({errs[:3]})")
    tx = sum(integ.get((p, "TX bytes/s"), 0) for p in by_name.values())
    ok(close(tx, rep["totals"]["tx_bytes"], max(2 * len(workers), rep["totals"]["tx_bytes"] * 1e-6)),
       f"perfetto: TX counters sum to totals.tx_bytes ({tx:.0f} vs {rep['totals']['tx_bytes']})")
    tr = rep.get("trials") or []
    nx = sum(1 for e in ev if e["ph"] == "X" and e.get("cat") == "trial")
    ok(nx == sum(1 for t in tr if t["start_unix"] is not None),
       f"perfetto: one slice per timed trial ({nx})")
    ntask = sum(1 for e in ev if e["ph"] == "X" and e.get("cat") == "task")
    want = sum(1 for t in tr for k in t["tasks"] if k["start_unix"] is not None)
    ok(ntask + doc["otherData"]["tasks_not_shown"] >= want and ntask > 0 or not tr,
       f"perfetto: task slices ({ntask} of {want}, {doc['otherData']['tasks_not_shown']} on remote workers)")
    # On-CPU stints (record --detail): never more than the process's CPU.
    oncpu = {}
    for e in ev:
        if e["ph"] == "X" and e.get("cat") == "cpu":
            oncpu[e["pid"]] = oncpu.get(e["pid"], 0) + e["dur"] * 1e3
    want = doc["otherData"].get("oncpu_slices", 0)
    ok(sum(1 for e in ev if e.get("cat") == "cpu") == want,
       f"perfetto: {want} on-CPU slices, as otherData says")
    cpu_of = {by_name[w["endpoint"]]: w["cpu_ns"] for w in workers}
    over = [(pid, v, cpu_of.get(pid)) for pid, v in oncpu.items()
            if cpu_of.get(pid) is None or v > cpu_of[pid] * 1.01 + 5e6]
    ok(not over, f"perfetto: each process's on-CPU slices sum to at most its cpu_ns ({over[:2]})")
    if a.expect_oncpu:
        ok(oncpu and all(v > 0 for v in oncpu.values()),
           f"perfetto: on-CPU slices for {len(oncpu)} detailed processes")
    lanes_ok = True
    for (pid, tid), v in sl.items():
        v.sort()
        for (a0, a1), (b0, b1) in zip(v, v[1:]):
            if b0 < a1 - 1e-3 and b1 > a1 + 1e-3:      # overlapping, not nested
                lanes_ok = False
    ok(lanes_ok, "perfetto: slices on one thread nest or follow (no partial overlap)")


# ---- CSV and Markdown round trips ----

def num(s):
    return None if s == "" else float(s)


def check_csv(a, rep):
    rows = list(csv.DictReader(open(a.csv_trials, newline="")))
    tr = rep.get("trials") or []
    ok(len(rows) == len(tr), f"csv trials: {len(rows)} rows == {len(tr)} trials")
    bad = []
    for r, t in zip(rows, tr):
        for k in ("id", "param_id", "attribution"):
            if r[k] != t[k]:
                bad.append((t["id"], k))
        for k in ("start_unix", "end_unix", "wall_ns", "compute_cpu_ns", "comm_cpu_ns",
                  "transfer_bytes", "transfer_ns", "transfer_share", "dup_factor",
                  "n_sims", "n_aggs", "unique_bytes", "need_bytes"):
            v = t.get(k)
            if not close(num(r[k]), None if v is None else float(v), 1e-9 * abs(v or 0)):
                bad.append((t["id"], k, r[k], v))
        if (r["split"] == "true") != t["split"]:
            bad.append((t["id"], "split"))
    ok(not bad, f"csv trials: every field equals the JSON report's ({bad[:3]})")
    rows = list(csv.DictReader(open(a.csv_intervals, newline="")))
    sums = {}
    for r in rows:
        s = sums.setdefault(r["endpoint"], [0, 0, 0])
        for i, k in enumerate(("tx_bytes", "rx_bytes", "cpu_ns")):
            s[i] += int(r[k])
    bad = [w["endpoint"] for w in rep["workers"]
           if sums.get(w["endpoint"], [0, 0, 0]) != [w["tx_bytes"], w["rx_bytes"], w["cpu_ns"]]]
    ok(not bad and rows, f"csv intervals: {len(rows)} rows sum to each process's tx_bytes, rx_bytes, cpu_ns ({bad[:3]})")
    ok(all(float(r["end_unix"]) >= float(r["start_unix"]) for r in rows),
       "csv intervals: end_unix >= start_unix")
    rows = list(csv.DictReader(open(a.csv_flows, newline="")))
    fl = rep["flows"]
    ok([(r["src"], r["dst"], int(r["bytes"]), int(r["tx_bytes"]), int(r["rx_bytes"])) for r in rows] ==
       [(f["src"], f["dst"], f["bytes"], f["tx_bytes"], f["rx_bytes"]) for f in fl],
       f"csv flows: {len(rows)} rows equal the JSON report's flows[]")


def md_tables(path):
    """{heading: [row dicts]} for each pipe table under a ## heading."""
    out, head, cols = {}, None, None
    for line in open(path):
        line = line.rstrip("\n")
        if line.startswith("#"):
            head, cols = line.lstrip("# ").strip(), None
            continue
        if not line.startswith("|"):
            cols = None
            continue
        cells = [c.strip().replace("\\|", "|")
                 for c in re.split(r"(?<!\\)\|", line.strip()[1:-1])]
        if cols is None:
            cols = cells
            out.setdefault(head, [])
        elif not set("".join(cells)) <= set("-:"):
            out[head].append(dict(zip(cols, cells)))
    return out


def mdnum(s, scale):
    if s == "-":
        return None
    return float(s.rstrip("%")) / scale


def check_md(a, rep):
    t = md_tables(a.md)
    dg = rep.get("diagnostics")
    text = open(a.md).read()
    if dg:
        ok(dg["verdict"].replace("|", "\\|") in text, "md: the verdict is there, word for word")
        bad = []
        for r in t.get("Diagnostics", []):
            key = r["JSON field (diagnostics.)"].strip("`")
            lab = r["diagnostic"]
            scale, tol = ((1e-6, 0.0005e6) if "(MB" in lab else (1e-9, 0.0005e9) if "(s)" in lab
                          else (100, 0.0005) if r["value"].endswith("%") else
                          (1, 0.05) if "(ms" in lab else (1, 0.0005))
            if not close(mdnum(r["value"], scale), dg[key], tol + 1e-12):
                bad.append((key, r["value"], dg[key]))
        ok(len(t.get("Diagnostics", [])) >= 20 and not bad,
           f"md: {len(t.get('Diagnostics', []))} diagnostics equal the JSON's ({bad[:3]})")
        rows = t.get("Trials", [])
        bad = []
        for r, x in zip(rows, rep["trials"]):
            # (column, field, display factor, decimals shown)
            for col, key, f, prec in (("wall (s)", "wall_ns", 1e-9, 3),
                                      ("compute CPU (s)", "compute_cpu_ns", 1e-9, 3),
                                      ("comm CPU (s)", "comm_cpu_ns", 1e-9, 3),
                                      ("transfer (MB)", "transfer_bytes", 1e-6, 3),
                                      ("transfer time (s)", "transfer_ns", 1e-9, 3),
                                      ("transfer share", "transfer_share", 100, 1),
                                      ("dup factor", "dup_factor", 1, 3)):
                tol = 0.5 * 10 ** -prec / f * (1 + 1e-9)
                if not close(mdnum(r[col], f), x[key], tol):
                    bad.append((x["id"], key, r[col], x[key]))
            if r["trial"] != x["id"] or int(r["sims"]) != x["n_sims"] or \
               (r["split"] == "yes") != x["split"]:
                bad.append((x["id"], "id/sims/split"))
        ok(len(rows) == len(rep["trials"]) and not bad,
           f"md: {len(rows)} trial rows equal the JSON's trials[] ({bad[:3]})")
    rows = t.get("Processes", [])
    ok([r["endpoint"] for r in rows] == [w["endpoint"] for w in rep["workers"]] and
       all(close(float(r["TX (MB)"]), w["tx_bytes"] / 1e6, 0.0005) and
           close(float(r["CPU (s)"]), w["cpu_ns"] / 1e9, 0.0005)
           for r, w in zip(rows, rep["workers"])),
       f"md: {len(rows)} process rows equal workers[]")
    drops = {r["drop counter"]: int(r["count"]) for r in t.get("How the trace was taken", [])}
    want = {k: int(v) for k, v in rep["drops"].items()}
    want.update({"health." + k: int(v) for k, v in rep.get("health", {}).items()})
    ok(drops == want, f"md: every drop counter ({len(want)})")


def check_md_compare(a, cmp):
    c = cmp["compare"]
    rows = {r["JSON field (compare.a/b)"].strip("`"): r
            for r in md_tables(a.md_compare).get("xfertrace: Test A against Test B", [])}
    bad = []
    for key, scale, tol in (("trials", 1, 0), ("bytes_per_trial", 1e-6, 0.0005e6),
                            ("transfer_share", 100, 0.0005), ("split_rate", 100, 0.0005),
                            ("dup_factor", 1, 0.0005), ("trials_per_min", 1, 0.0005)):
        r = rows.get(key)
        if not r:
            bad.append((key, "missing"))
            continue
        for side, col in (("a", "A"), ("b", "B")):
            v = mdnum(r[col], scale)
            if not close(v, c[side][key], tol + 1e-12):
                bad.append((key, side, r[col], c[side][key]))
        want = c["ratios"][key] if key in c["ratios"] else \
            (c["b"][key] / c["a"][key] if c["a"][key] else None)
        if not close(mdnum(r["B/A"], 1), want, 0.0005 + 1e-12):
            bad.append((key, "ratio", r["B/A"], want))
    ok(not bad, f"md compare: A, B and B/A equal the compare JSON ({bad[:3]})")
    text = open(a.md_compare).read()
    ok(c["a"]["verdict"] in text and c["b"]["verdict"] in text, "md compare: both verdicts")


# ---- HTML ----

def check_html(a, rep):
    html = open(a.html, encoding="utf-8").read()
    size = len(html.encode())
    ok(size <= a.max_bytes, f"html: {size / 1e6:.2f} MB <= {a.max_bytes / 1e6:.1f} MB")
    ext = re.findall(r"""(?:src|href|url\()\s*=?\s*["']?\s*(?:https?:)?//""", html, re.I)
    ok(not ext and "<script" not in html.lower() and "@import" not in html and "@font-face" not in html,
       "html: no script, no external src/href/url(), no web font")
    dom = open(a.dom, encoding="utf-8").read()
    n_svg = dom.count("<svg")
    ok(n_svg >= 3, f"html DOM: {n_svg} charts rendered")
    titles = re.findall(r"<svg[^>]*>\s*<title>([^<]*)</title>", dom)
    ok(len(titles) == n_svg and all(titles), "html DOM: every chart has a <title> text equivalent")
    want = ["Where each trial's time went", "Who sent bytes to whom", "Per-worker timelines",
            "Diagnostics", "How the trace was taken", "Bytes sent, worker by worker"]
    if rep.get("trials"):
        want += ["Per-trial time: compute, communication, transfer, idle", "Trials over time"]
    miss = [w for w in want if w.replace("'", "&#39;") not in dom and w not in dom]
    ok(not miss, f"html DOM: titles present ({miss})")
    dg = rep.get("diagnostics")
    figs = []
    if dg:
        import html as H
        figs.append(H.escape(dg["verdict"], quote=False))
        figs.append(f"{dg['trials']}</b>")
        figs.append(f"{dg['transfer_share'] * 100:.1f}%")
        figs.append(f"{dg['sim_ms_p50']:.1f} ms / {dg['sim_ms_p95']:.1f} ms")
    # one timeline per worker of the marks' cluster (per worker without marks)
    local = {w["endpoint"] for w in (dg or {}).get("workers", []) if w["local"]}
    for w in rep["workers"]:
        if w["role"] == "worker" and (not local or w["endpoint"] in local):
            figs.append(w["endpoint"] + " (worker, pid " + str(w["pid"]) + ")")
    for k in rep["drops"]:
        figs.append(f"<td>{k}</td><td>{rep['drops'][k] if not isinstance(rep['drops'][k], bool) else ('yes' if rep['drops'][k] else 'no')}</td>")
    figs.append(f"<td>host</td><td>{rep['trace']['host']}</td>")
    figs.append(f"<td>interval_ms</td><td>{rep['trace']['interval_ms']}</td>")
    figs.append(f"<td>hooks.sock</td><td>{rep['trace']['hooks']['sock']}</td>")
    miss = [f for f in figs if f not in dom]
    ok(not miss, f"html DOM: {len(figs)} figures (verdict, key figures, workers, drops, host) ({miss[:2]})")
    ncells = dom.count('class="diag"')
    ok(ncells >= 1, f"html DOM: heatmap diagonal marked ({ncells} cells)")
    if a.netlog:
        check_netlog(a.netlog)


def netlog_page_urls(path):
    """URLs the page asked for: requests with an initiator origin (the
    browser's own background requests have none: 'not an origin')."""
    txt = open(path).read()
    try:
        log = json.loads(txt)
    except ValueError:      # chromium may leave the array unterminated
        log = json.loads(txt.rstrip().rstrip(",") + "]}")
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = set()
    for e in log.get("events", []):
        p = e.get("params") or {}
        if e["type"] == start and "url" in p and p.get("initiator") != "not an origin":
            urls.add(p.get("url", ""))
    return urls


def check_netlog(path, expect_bad=False):
    urls = netlog_page_urls(path)
    bad = [u for u in urls if not (u.startswith("file:") or u.startswith("data:"))]
    if expect_bad:
        ok(bad, f"netlog check catches a page that loads http:// ({bad[:1]})")
    else:
        ok(not bad, f"html: the page requested no URL but file:// and data: ({len(urls)} page requests, {bad[:3]})")


def make_chart_page(a):
    """Each <svg> of the report in its own 1240x400 box, one under another."""
    html = open(a.charts, encoding="utf-8").read()
    svgs = re.findall(r"<svg .*?</svg>", html, re.S)[:a.max]
    css = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
    with open(a.out, "w") as f:
        f.write(f"<!DOCTYPE html><html><head><meta charset='utf-8'><style>{css}"
                "body{margin:0;padding:0;max-width:none}"
                ".box{position:absolute;left:0;width:1240px;height:400px;overflow:hidden}"
                ".box svg.chart{width:1240px;height:400px;max-width:none}</style></head><body>")
        for i, s in enumerate(svgs):
            f.write(f"<div class='box' style='top:{i * 420}px'>{s}</div>")
        f.write("</body></html>")
    print(len(svgs))


def check_shot(a):
    from PIL import Image
    im = Image.open(a.shot).convert("RGB")
    palette = {(0xE6, 0x9F, 0x00), (0x56, 0xB4, 0xE9), (0x00, 0x9E, 0x73), (0x00, 0x72, 0xB2),
               (0xD5, 0x5E, 0x00), (0xCC, 0x79, 0xA7), (0x99, 0x99, 0x99)}
    for i in range(a.regions):
        box = im.crop((0, i * 420, 1240, i * 420 + 400))
        px = box.getdata()
        ink = sum(1 for p in px if p != (255, 255, 255))
        colours = set(px)
        data = len([c for c in colours if c in palette or
                    (abs(c[0] - c[1]) > 40 or abs(c[1] - c[2]) > 40)])
        ok(ink > 0.01 * len(px) and data >= 2,
           f"screenshot: chart {i + 1} is drawn ({ink * 100 / len(px):.1f}% ink, {data} data colours)")


def main():
    ap = argparse.ArgumentParser()
    for o in ("json", "perfetto", "csv-trials", "csv-intervals", "csv-flows", "md", "html",
              "dom", "netlog", "charts", "out", "shot", "compare-json", "md-compare"):
        ap.add_argument("--" + o)
    ap.add_argument("--expect-oncpu", action="store_true",
                    help="the trace was recorded with detailed processes")
    ap.add_argument("--max-bytes", type=int, default=5_000_000)
    ap.add_argument("--max", type=int, default=8)
    ap.add_argument("--regions", type=int, default=0)
    a = ap.parse_args()
    if a.charts:
        make_chart_page(a)
        return 0
    if a.netlog and not a.html:     # negative control: a page that fetches
        check_netlog(a.netlog, expect_bad=True)
    if a.shot:
        check_shot(a)
    rep = json.load(open(a.json)) if a.json else None
    if a.perfetto:
        check_perfetto(a, rep)
    if a.csv_trials:
        check_csv(a, rep)
    if a.md:
        check_md(a, rep)
    if a.html and rep:
        check_html(a, rep)
    if a.compare_json:
        cmp = json.load(open(a.compare_json))
        if a.md_compare:
            check_md_compare(a, cmp)
        if a.html:
            dom = open(a.dom).read()
            c = cmp["compare"]
            ok(c["a"]["verdict"] in dom and c["b"]["verdict"] in dom and "B / A" in dom,
               "html compare: both verdicts and the B / A table")
            ok(dom.count("<svg") >= 6, f"html compare: charts for both sides ({dom.count('<svg')})")
    return CHK.finish()


if __name__ == "__main__":
    sys.exit(main())
