#!/usr/bin/python3
"""Checks for the flip tests (tests/t_flip.sh): rate-limited links between
network namespaces make transfers cost real time; the report must say so.

    check_flip.py linkrate --link LINK.json --rate RATE [--tolerance 0.10]
    check_flip.py link --report R.json --link LINK.json --rate RATE
                       [--tolerance 0.15]
    check_flip.py dask --report R.json --cluster STATE.json
                       --dask DASKLOG.json --marks MARKS.log --rate RATE
                       --expect transfer|compute [--link LINK.json]
                       [--tolerance 0.15]

Prints "ok   - ..." / "FAIL - ..." lines and "N passed, N failed" (tests/lib.sh
style), plus "     note: ..." lines with measured values; exit 1 on failure.

Link rate model. tests/netns/setup.sh puts a tbf qdisc at RATE on both
directions of every namespace link; tbf counts whole frames, so the TCP
payload rate ("goodput") of one saturated link is

    goodput = RATE * MSS / (MTU + 14)        (14 = Ethernet header)

with MSS and MTU as measured by `cluster_ns.py linktest` (LINK.json;
defaults 1448 and 1500: 0.956 * RATE). "bytes / goodput" below always means
payload bytes as the tracer counts them (send/recv return values).

linkrate: LINK.json from an untraced linktest; its measured goodput is
within --tolerance (default 10%) of the model: the rate limit works.

link: LINK.json is the output of `cluster_ns.py linktest --json` run under
`xfertrace record`: one TCP connection, BYTES from a sender in xtns<I> to a
receiver listening in xtns<J>. Checks: the receiver is a report entry named
tcp://10.231.0.(10+J):PORT with rx_bytes == BYTES; the flow sender -> receiver
carries exactly BYTES (tx and rx); the receiver's transfer_active_ns is
within --tolerance of BYTES / goodput (the receiver reads as data arrives, so
its burst-active time is the time the link needed). The sender's burst-active
time is printed as a note only (a blocking send() longer than the burst gap
counts as idle by construction).

dask: the calibration workload (tests/dask/calib.py) ran on the namespace
cluster (cluster_ns.py). Checks, in both modes:
 - Dask's log and the cluster state name the same workers;
 - every Dask worker (cluster state) has a report entry with its pid whose
   primary endpoint is its Dask address tcp://10.231.0.x:PORT;
 - worker -> worker flows carry bytes (> 0), both ends resolved to Dask
   worker addresses; no flow end is a host:// or an unknown tcp:// on the
   namespace subnet 10.231.0.0/24 (each namespace's traffic is attributed
   to the process in it); every (sender, receiver) pair in Dask's
   transfer_outgoing_log has a flow of at least the bytes Dask's
   comm.write() reported ("compressed"); in transfer mode their total is
   within 2% of Dask's logged totals (sizeof estimates are only accurate
   for large arrays);
 - the premise (from Dask's own accounting, not the tracer): in transfer
   mode Dask's incoming-transfer time (union of the logged intervals, summed
   over workers) exceeds the summed SIM_TIMING compute time; in compute
   mode the reverse;
 - the verdict: diagnostics.verdict contains "transfer dominates" or
   "compute dominates" (--expect);
transfer mode only (run with --concurrency 1 --targets 1, so each trial's
transfers all enter one worker, the aggregation's, through its own link,
which is then the one bottleneck):
 - network ground truth: per worker that received >= 5 MB, the union of
   Dask's incoming-transfer intervals is within --tolerance of its incoming
   bytes / goodput (the links really cost bytes / goodput);
 - per worker that received >= 5 MB from other workers: its
   transfer_active_ns is at least (1 - tolerance) * those bytes / goodput
   (only a floor: the burst-active time also holds its sending);
 - per trial (matched by param_id), trials[].transfer_bytes is within 3%
   of the bytes Dask logged as fetched for that trial's tasks;
 - summed over trials: sum(transfer_ns) within --tolerance of
   sum(transfer_bytes) / goodput;
 - per aggregation worker W: sum of transfer_ns over the trials whose
   aggregation ran on W, within --tolerance of (bytes W received from other
   workers over its link, report flows rx_bytes) / goodput.

Sensitivity: burst-active time is built from send/recv return times, so a
receiver that waits longer than the burst gap (5 ms) for a CPU while its
link keeps delivering loses that time. On an otherwise idle 2-core machine
the ratios above are 0.93-1.0; with other heavy work running (load 5-13)
they drop to 0.5-0.85 and the transfer_ns checks fail, while Dask's own
interval check still holds. The notes print each worker's runq wait.
"""
import argparse
import ipaddress
import json
import re
import os
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pylib  # noqa: E402

SUBNET = ipaddress.ip_network("10.231.0.0/24")


Checker = pylib.Checker


def load(path):
    with open(path) as f:
        return json.load(f)


def rate_bps(text):
    m = re.fullmatch(r"(\d+)(bit|kbit|mbit|gbit)", text.lower())
    if not m:
        raise argparse.ArgumentTypeError(f"rate like 200mbit, not {text!r}")
    mult = {"bit": 1, "kbit": 10**3, "mbit": 10**6, "gbit": 10**9}
    return int(m.group(1)) * mult[m.group(2)]


def goodput_Bps(args, link):
    mss = link.get("mss", 1448) if link else 1448
    mtu = link.get("mtu", 1500) if link else 1500
    return args.rate / 8 * mss / (mtu + 14)


def ratio(x, ref):
    return x / ref if ref else float("inf")


def within(x, ref, tol):
    return ref > 0 and abs(x - ref) <= tol * ref


def ep_ip(ep):
    """IP of tcp://IP:PORT or host://IP, else None."""
    m = re.fullmatch(r"(?:tcp|host)://\[?([0-9a-fA-F.:]+?)\]?(?::\d+)?", ep)
    if not m:
        return None
    try:
        return ipaddress.ip_address(m.group(1))
    except ValueError:
        return None


# ---------------------------------------------------------------- link
def cmd_linkrate(args):
    c = Checker()
    link = load(args.link)
    gp = goodput_Bps(args, link) * 8
    got = link["goodput_bps"]
    c.check(within(got, gp, args.tolerance),
            f"{link['src']} -> {link['dst']} goodput within "
            f"{args.tolerance:.0%} of the tbf model",
            f"measured {got / 1e6:.1f} Mbit/s, model {gp / 1e6:.1f} Mbit/s "
            f"(tbf {args.rate / 1e6:.0f} Mbit/s, mss {link['mss']}, mtu "
            f"{link['mtu']})")
    return c.finish()


def cmd_link(args):
    c = Checker()
    rep = load(args.report)
    link = load(args.link)
    n = link["bytes"]
    dst_ip = "10.231.0.%d" % (10 + int(link["dst"].removeprefix("xtns")))
    gp = goodput_Bps(args, link)
    want = n / gp
    c.note(f"link goodput model {gp * 8 / 1e6:.1f} Mbit/s (rate "
           f"{args.rate / 1e6:.0f} Mbit/s, mss {link['mss']}, mtu "
           f"{link['mtu']}); linktest measured "
           f"{link['goodput_bps'] / 1e6:.1f} Mbit/s")
    rx = [w for w in rep["workers"]
          if w["endpoint"].startswith(f"tcp://{dst_ip}:")
          and w["rx_bytes"] >= n]
    if not c.check(len(rx) == 1, f"one receiver named tcp://{dst_ip}:PORT "
                   f"with >= {n} bytes received",
                   f"{[w['endpoint'] for w in rx]}"):
        return c.finish()
    r = rx[0]
    c.check(r["rx_bytes"] == n, f"receiver {r['endpoint']} rx_bytes == {n}",
            f"got {r['rx_bytes']}")
    fl = [f for f in rep["flows"] if f["dst"] == r["endpoint"]
          and f["bytes"] >= n]
    if c.check(len(fl) == 1, "one flow into the receiver carries the bytes",
               f"{fl}"):
        f = fl[0]
        c.check(f["tx_bytes"] == n and f["rx_bytes"] == n,
                f"flow {f['src']} -> {f['dst']}: tx == rx == {n}",
                f"tx {f['tx_bytes']} rx {f['rx_bytes']}")
        snd = [w for w in rep["workers"] if w["endpoint"] == f["src"]]
        if snd:
            s = snd[0]
            c.note(f"sender {s['endpoint']}: transfer_active_ns "
                   f"{s['transfer_active_ns'] / 1e9:.3f} s vs bytes/goodput "
                   f"{want:.3f} s (ratio "
                   f"{ratio(s['transfer_active_ns'] / 1e9, want):.3f})")
    got = r["transfer_active_ns"] / 1e9
    c.check(within(got, want, args.tolerance),
            f"receiver transfer_active_ns within {args.tolerance:.0%} of "
            f"bytes/goodput",
            f"{got:.3f} s vs {want:.3f} s, ratio {ratio(got, want):.3f}")
    return c.finish()


# ---------------------------------------------------------------- dask
def union_len(intervals):
    tot = 0.0
    cur = None
    for s, e in sorted(intervals):
        if cur is None or s > cur[1]:
            if cur:
                tot += cur[1] - cur[0]
            cur = [s, e]
        else:
            cur[1] = max(cur[1], e)
    if cur:
        tot += cur[1] - cur[0]
    return tot


def read_marks(path):
    """[(kind, {key: value})] from calib.py's stdout."""
    out = []
    with open(path) as f:
        for line in f:
            m = re.search(r"\b(SIM_TIMING|AGG_TIMING|TRIAL_BEGIN|TRIAL_END)"
                          r":?((?:\s+\S+=\S+)*)\s*$", line)
            if m:
                kv = dict(t.split("=", 1) for t in m.group(2).split())
                out.append((m.group(1), kv))
    return out


def check_endpoints(c, rep, cl):
    by_pid = {w["pid"]: w for w in rep["workers"]}
    ok = True
    for w in cl["workers"]:
        e = by_pid.get(w["pid"])
        ip = ep_ip(w["address"])
        ok &= c.check(ip is not None and ip in SUBNET,
                      f"Dask worker {w['address']} is on the namespace subnet")
        if e is None:
            ok &= c.check(False, f"worker pid {w['pid']} in report")
            continue
        ok &= c.check(e["endpoint"] == w["address"],
                      f"pid {w['pid']} ({w.get('netns', '?')}) named "
                      f"{w['address']}", f"report says {e['endpoint']}, "
                      f"endpoints {e.get('endpoints')}")
    return ok


def check_flows(c, rep, cl, dask, large):
    addrs = {w["address"] for w in cl["workers"]}
    known = {ep for w in rep["workers"] for ep in w.get("endpoints", [])}
    known |= {w["endpoint"] for w in rep["workers"]}
    ww = [f for f in rep["flows"] if f["src"] in addrs and f["dst"] in addrs]
    total = sum(f["bytes"] for f in ww)
    c.check(total > 0, "worker -> worker flows carry bytes",
            f"{len(ww)} flows, {total} bytes")
    bad = []
    for f in rep["flows"]:
        for end in (f["src"], f["dst"]):
            ip = ep_ip(end)
            if ip is not None and ip in SUBNET and (
                    end.startswith("host://") or end not in known):
                bad.append(end)
    c.check(not bad, "every flow end on 10.231.0.0/24 is a known process "
            "(no host:// or unresolved tcp://)", f"{sorted(set(bad))[:6]}")
    logged = 0
    wire = {}
    for addr, w in dask["workers"].items():
        for e in w["transfer_outgoing_log"]:
            if e.get("who") in addrs:
                logged += e["total"]
                k = (addr, e["who"])
                wire[k] = wire.get(k, 0) + (e.get("compressed") or 0)
    fb = {(f["src"], f["dst"]): f["bytes"] for f in ww}
    short = [(k, fb.get(k, 0), v) for k, v in wire.items()
             if fb.get(k, 0) < v]
    c.check(wire and not short, "every worker -> worker pair Dask logged "
            "has a flow of at least the bytes Dask wrote",
            f"{len(wire)} pairs; short: {short[:4]}")
    if large:
        c.check(within(total, logged, 0.02),
                "worker -> worker flow bytes within 2% of Dask's "
                "transfer_outgoing_log totals", f"report {total}, Dask "
                f"{logged}")
    return ww


def dask_incoming(dask):
    """{worker: (bytes, union seconds)} from transfer_incoming_log."""
    out = {}
    for addr, w in dask["workers"].items():
        inc = w["transfer_incoming_log"]
        out[addr] = (sum(e["total"] for e in inc),
                     union_len([(e["start"], e["stop"]) for e in inc]))
    return out


def dask_trial_bytes(dask):
    """{param_id: bytes Dask fetched for that trial's tasks}."""
    tasks = dask["tasks"]
    out = {}
    for w in dask["workers"].values():
        for e in w["transfer_incoming_log"]:
            for key, nb in e["keys"].items():
                t = tasks.get(key)
                if t:
                    out[t["param_id"]] = out.get(t["param_id"], 0) + nb
    return out


def check_premise(c, args, dask, marks):
    inc = dask_incoming(dask)
    xfer = sum(s for _, s in inc.values())
    sim = sum(float(kv["duration_ms"]) for k, kv in marks
              if k == "SIM_TIMING") / 1e3
    c.note(f"Dask: incoming-transfer time {xfer:.2f} s (union per worker, "
           f"summed), SIM_TIMING compute {sim:.2f} s")
    if args.expect == "transfer":
        c.check(xfer > sim, "premise: Dask's transfer time > compute time",
                f"{xfer:.2f} s vs {sim:.2f} s")
    else:
        c.check(sim > xfer, "premise: compute time > Dask's transfer time",
                f"{sim:.2f} s vs {xfer:.2f} s")
    return inc


def check_verdict(c, args, rep):
    diag = rep.get("diagnostics")
    verdict = diag.get("verdict") if isinstance(diag, dict) else None
    if not c.check(isinstance(verdict, str), "report has diagnostics.verdict",
                   "" if isinstance(verdict, str) else
                   "no diagnostics/verdict in the report (trials engine "
                   "missing?)"):
        return
    want = f"{args.expect} dominates"
    ok = want in verdict.lower()
    flat = {k: v for k, v in diag.items() if not isinstance(v, (list, dict))
            and k != "verdict"}
    c.check(ok, f"verdict says '{want}'", f"verdict {verdict!r}" +
            ("" if ok else f"; diagnostics {json.dumps(flat)}"))


def trial_id(t):
    return t.get("param_id") or t.get("id")


def check_link_truth(c, args, inc, gp):
    for addr, (b, s) in sorted(inc.items()):
        if b < 5e6:
            continue
        want = b / gp
        c.check(within(s, want, args.tolerance),
                f"network: {addr} Dask incoming time within "
                f"{args.tolerance:.0%} of bytes/goodput",
                f"{s:.3f} s vs {b / 1e6:.1f} MB / goodput = {want:.3f} s, "
                f"ratio {ratio(s, want):.3f}")


def check_trials(c, args, rep, dask, ww, gp):
    trials = rep.get("trials")
    have = isinstance(trials, list) and len(trials) > 0
    if not c.check(have, "report has trials[]", "" if have else
                   "no trials[] in the report (trials engine missing, or "
                   "--marks not read?)"):
        return
    missing = [k for k in ("transfer_bytes", "transfer_ns")
               if any(k not in t for t in trials)]
    if not c.check(not missing, "trials[] carry transfer_bytes, transfer_ns",
                   f"missing {missing}" if missing else ""):
        return
    truth = dask_trial_bytes(dask)
    off = []
    for t in trials:
        pid = trial_id(t)
        ref = truth.get(pid, 0)
        if not within(t["transfer_bytes"], ref, 0.03):
            off.append((pid, t["transfer_bytes"], ref))
    c.check(len(trials) == len(dask["trials"]) and not off,
            "per trial transfer_bytes within 3% of the bytes Dask fetched "
            "for it", f"{len(trials)} trials (Dask {len(dask['trials'])}); "
            f"off: {off[:4]}")
    tb = sum(t["transfer_bytes"] for t in trials)
    tn = sum(t["transfer_ns"] for t in trials) / 1e9
    c.check(within(tn, tb / gp, args.tolerance),
            f"sum of trials' transfer_ns within {args.tolerance:.0%} of "
            f"sum of transfer_bytes / goodput",
            f"{tn:.3f} s vs {tb / 1e6:.1f} MB / goodput = {tb / gp:.3f} s, "
            f"ratio {ratio(tn, tb / gp):.3f}")
    for t in trials:
        ref = t["transfer_bytes"] / gp
        c.note(f"trial {trial_id(t)}: {t['transfer_bytes'] / 1e6:.1f} MB, "
               f"transfer {t['transfer_ns'] / 1e9:.3f} s, bytes/goodput "
               f"{ref:.3f} s, ratio {ratio(t['transfer_ns'] / 1e9, ref):.2f}")
    # Per aggregation worker (Dask says where each trial's agg ran).
    agg_of = {t["param_id"]: t["aggs"][0]["worker"] for t in dask["trials"]}
    per_w = {}
    for t in trials:
        w = agg_of.get(trial_id(t))
        if w:
            per_w[w] = per_w.get(w, 0) + t["transfer_ns"]
    for w, ns in sorted(per_w.items()):
        rx = sum(f["rx_bytes"] for f in ww if f["dst"] == w)
        want = rx / gp
        c.check(within(ns / 1e9, want, args.tolerance),
                f"{w}: its trials' transfer_ns within {args.tolerance:.0%} "
                f"of its link's rx bytes from workers / goodput",
                f"{ns / 1e9:.3f} s vs {rx / 1e6:.1f} MB / goodput = "
                f"{want:.3f} s, ratio {ratio(ns / 1e9, want):.3f}")


def note_workers(c, rep, cl, ww, gp):
    addrs = {w["address"] for w in cl["workers"]}
    for e in rep["workers"]:
        if e["endpoint"] not in addrs:
            continue
        rx = sum(f["rx_bytes"] for f in ww if f["dst"] == e["endpoint"])
        tx = sum(f["tx_bytes"] for f in ww if f["src"] == e["endpoint"])
        c.note(f"{e['endpoint']}: transfer_active_ns "
               f"{e['transfer_active_ns'] / 1e9:.3f} s; from workers "
               f"{rx / 1e6:.1f} MB (/goodput {rx / gp:.3f} s), to workers "
               f"{tx / 1e6:.1f} MB (/goodput {tx / gp:.3f} s); cpu "
               f"{e['cpu_ns'] / 1e9:.3f} s, runq wait "
               f"{e.get('runq_wait_ns', 0) / 1e9:.3f} s")


def check_worker_floor(c, args, rep, cl, ww, gp):
    """A worker that received B bytes over its link was transferring for
    at least B / goodput: its burst-active time cannot be much less."""
    addrs = {w["address"] for w in cl["workers"]}
    for e in rep["workers"]:
        if e["endpoint"] not in addrs:
            continue
        rx = sum(f["rx_bytes"] for f in ww if f["dst"] == e["endpoint"])
        if rx < 5e6:
            continue
        got = e["transfer_active_ns"] / 1e9
        want = rx / gp
        c.check(got >= (1 - args.tolerance) * want,
                f"{e['endpoint']}: transfer_active_ns >= "
                f"{1 - args.tolerance:.0%} of its rx bytes from workers / "
                f"goodput", f"{got:.3f} s vs {rx / 1e6:.1f} MB / goodput = "
                f"{want:.3f} s, ratio {ratio(got, want):.3f}")


def cmd_dask(args):
    c = Checker()
    rep = load(args.report)
    cl = load(args.cluster)
    dask = load(args.dask)
    marks = read_marks(args.marks)
    link = load(args.link) if args.link else None
    gp = goodput_Bps(args, link)
    c.note(f"goodput model {gp * 8 / 1e6:.1f} Mbit/s")
    c.check(set(dask["workers"]) == {w["address"] for w in cl["workers"]},
            "Dask log and cluster state name the same workers",
            f"{sorted(dask['workers'])}")
    check_endpoints(c, rep, cl)
    ww = check_flows(c, rep, cl, dask, args.expect == "transfer")
    inc = check_premise(c, args, dask, marks)
    note_workers(c, rep, cl, ww, gp)
    if args.expect == "transfer":
        check_link_truth(c, args, inc, gp)
        check_worker_floor(c, args, rep, cl, ww, gp)
    check_verdict(c, args, rep)
    if args.expect == "transfer":
        check_trials(c, args, rep, dask, ww, gp)
    return c.finish()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    lr = sub.add_parser("linkrate")
    lr.add_argument("--link", required=True)
    lr.add_argument("--rate", type=rate_bps, required=True)
    lr.add_argument("--tolerance", type=float, default=0.10)
    lr.set_defaults(fn=cmd_linkrate)
    lk = sub.add_parser("link")
    lk.add_argument("--report", required=True)
    lk.add_argument("--link", required=True)
    lk.add_argument("--rate", type=rate_bps, required=True)
    lk.add_argument("--tolerance", type=float, default=0.15)
    lk.set_defaults(fn=cmd_link)
    d = sub.add_parser("dask")
    d.add_argument("--report", required=True)
    d.add_argument("--cluster", required=True)
    d.add_argument("--dask", required=True)
    d.add_argument("--marks", required=True)
    d.add_argument("--rate", type=rate_bps, required=True)
    d.add_argument("--expect", choices=("transfer", "compute"),
                   required=True)
    d.add_argument("--link")
    d.add_argument("--tolerance", type=float, default=0.15)
    d.set_defaults(fn=cmd_dask)
    args = ap.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
