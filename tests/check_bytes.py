#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Compare an xfertrace JSON report with xtgen's ground truth.

Prints one line per check: "ok DESC" or "FAIL DESC: details".
Exit status 0 if every check passed, 1 otherwise, 2 on unusable input.

Checks (every one against numbers the generator counted itself):
  - each ground-truth flow (src,dst) appears exactly once in the report
    and its bytes, tx_bytes and rx_bytes equal the generator's sent and
    received counts exactly;
  - no report flow between two generator workers that the generator did
    not produce;
  - each generator worker is in workers[] with its pid and its endpoint
    as primary name (and in endpoints[]), and its tx/rx bytes equal the
    generator's totals for that process;
  - conservation: sum(flows.tx_bytes) + unresolved_tx_bytes ==
    kernel_tx_bytes, and the same for rx;
  - every drop counter is zero; the trace is not marked truncated;
  - optionally (--hook NAME) trace.hooks.sock is NAME.
"""
import argparse
import json
import os
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pylib  # noqa: E402

C = pylib.Checker()


def check(ok, desc, detail=""):
    # Details only where a check fails: ok lines stay one short line.
    C.check(ok, desc, "" if ok else detail)


def flows_by_pair(report):
    pairs = {}
    for f in report.get("flows", []):
        pairs.setdefault((f.get("src"), f.get("dst")), []).append(f)
    return pairs


def check_flows(label, truth, report):
    pairs = flows_by_pair(report)
    bad = []
    for t in truth["flows"]:
        key = (t["src"], t["dst"])
        got = pairs.get(key, [])
        if len(got) != 1:
            bad.append("%s -> %s: %d report flows" % (key[0], key[1], len(got)))
            continue
        f = got[0]
        exp = (t["sent_bytes"], t["sent_bytes"], t["received_bytes"])
        have = (f.get("bytes"), f.get("tx_bytes"), f.get("rx_bytes"))
        if have != exp:
            bad.append("%s -> %s: expected bytes/tx/rx %s got %s"
                       % (key[0], key[1], exp, have))
    check(not bad, "%s: %d flows exact in each direction (bytes, tx_bytes, rx_bytes)"
          % (label, len(truth["flows"])), "; ".join(bad))

    eps = {w["endpoint"] for w in truth["workers"]}
    want = {(t["src"], t["dst"]) for t in truth["flows"]}
    extra = ["%s -> %s (%s bytes)" % (s, d, fl[0].get("bytes"))
             for (s, d), fl in pairs.items()
             if s in eps and d in eps and (s, d) not in want]
    check(not extra, "%s: no extra flows between generator workers" % label,
          "; ".join(extra))


def check_workers(label, truth, report):
    by_pid = {}
    for w in report.get("workers", []):
        by_pid.setdefault(w.get("pid"), []).append(w)
    bad_name, bad_bytes = [], []
    for t in truth["workers"]:
        got = by_pid.get(t["pid"], [])
        if len(got) != 1:
            bad_name.append("pid %d: %d workers[] entries" % (t["pid"], len(got)))
            continue
        w = got[0]
        if w.get("endpoint") != t["endpoint"] or \
                t["endpoint"] not in (w.get("endpoints") or []):
            bad_name.append("pid %d: expected %s got endpoint %s endpoints %s"
                            % (t["pid"], t["endpoint"], w.get("endpoint"),
                               w.get("endpoints")))
        have = (w.get("tx_bytes"), w.get("rx_bytes"))
        exp = (t["tx_bytes"], t["rx_bytes"])
        if have != exp:
            bad_bytes.append("pid %d (%s): expected tx/rx %s got %s"
                             % (t["pid"], t["endpoint"], exp, have))
    check(not bad_name, "%s: %d generator workers named by their listening endpoint with right pid"
          % (label, len(truth["workers"])), "; ".join(bad_name))
    check(not bad_bytes, "%s: workers' tx_bytes/rx_bytes equal generator totals" % label,
          "; ".join(bad_bytes))


def check_totals(label, report):
    """Every byte the kernel hooks saw is in exactly one place.

    Flows whose far end is not a process of this node ("host://IP", or a
    "tcp://IP:PORT" no local process listens on) carry the unresolved
    bytes (tx: dst, rx: src), so the identity is sum(resolved flows) +
    unresolved == kernel, with unresolved equal to the bytes of those
    flows (no double counting, nothing lost).
    """
    tot = report.get("totals", {})
    flows = report.get("flows", [])
    local = {w["endpoint"] for w in report.get("workers", [])}
    for d, far in (("tx", "dst"), ("rx", "src")):
        key = d + "_bytes"
        res = sum(f.get(key, 0) for f in flows if f.get(far) in local)
        host = sum(f.get(key, 0) for f in flows if f.get(far) not in local)
        un = tot.get("unresolved_%s_bytes" % d)
        k = tot.get("kernel_%s_bytes" % d)
        ok = isinstance(un, int) and isinstance(k, int) and res + un == k
        check(ok, "%s: conservation sum(resolved flows.%s) + unresolved == kernel_%s"
              % (label, key, key),
              "resolved flows %s + unresolved %s = %s != kernel %s (diff %s)"
              % (res, un, res + un if isinstance(un, int) else None, k,
                 k - res - un if ok is False and isinstance(un, int) and
                 isinstance(k, int) else None))
        check(un == host, "%s: unresolved_%s equals the flows' %s to or from no local process"
              % (label, key, key), "unresolved %s, host:// flows %s" % (un, host))


def check_trace(label, report, hook, allow=()):
    drops = report.get("drops")
    nz = {k: v for k, v in (drops or {}).items() if v and k not in allow}
    check(isinstance(drops, dict) and not nz, "%s: all drop counters zero" % label,
          "drops %s" % (nz if drops is not None else "missing"))
    tr = report.get("trace", {})
    check(tr.get("truncated") is False, "%s: trace not truncated" % label,
          "trace.truncated = %r" % tr.get("truncated"))
    if hook:
        got = (tr.get("hooks") or {}).get("sock")
        check(got == hook, "%s: socket hooks are %s" % (label, hook),
              "trace.hooks.sock = %r" % got)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--truth", required=True, help="xtgen -o output")
    ap.add_argument("--report", required=True, help="xfertrace report --format json")
    ap.add_argument("--label", default="run")
    ap.add_argument("--hook", help="expected trace.hooks.sock")
    ap.add_argument("--allow-drop", action="append", default=[],
                    help="a drop counter that may be non-zero (bytes must still be exact)")
    a = ap.parse_args()
    truth = pylib.load_json(a.truth, "ground truth")
    report = pylib.load_json(a.report, "report")
    check(truth.get("ok") is True, "%s: generator's own counts agree" % a.label,
          "xtgen ok = %r" % truth.get("ok"))
    check(report.get("schema") == "xfertrace.report/1", "%s: report schema" % a.label,
          "schema = %r" % report.get("schema"))
    check_flows(a.label, truth, report)
    check_workers(a.label, truth, report)
    check_totals(a.label, report)
    check_trace(a.label, report, a.hook, a.allow_drop)
    C.invariants(report, a.label)
    return 1 if C.failed else 0


if __name__ == "__main__":
    sys.exit(main())
