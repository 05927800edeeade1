# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Helpers shared by the test checkers and cluster scripts (stdlib only)."""
import json
import os
import sys


class Checker:
    """Counts checks and prints "ok   - DESC" / "FAIL - DESC: detail"."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, desc, detail=""):
        if ok:
            self.passed += 1
            print(f"ok   - {desc}" + (f" ({detail})" if detail else ""))
        else:
            self.failed += 1
            print(f"FAIL - {desc}" + (f": {detail}" if detail else ""))
        return ok

    @staticmethod
    def note(text):
        print(f"     note: {text}")

    def invariants(self, report, tag=""):
        for ok, desc, detail in report_invariants(report, tag):
            self.check(ok, desc, detail)

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        return 1 if self.failed else 0


def load_json(path, what="file"):
    """A JSON file, or exit 2 with one FAIL line."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        print(f"FAIL - cannot read {what} {path}: {e}")
        sys.exit(2)


def proc_stat_fields(pid):
    """/proc/PID/stat fields after the comm (state first), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    # comm may contain spaces and parentheses: split after the last ')'.
    return data[data.rfind(")") + 2:].split()


def pid_max():
    try:
        with open("/proc/sys/kernel/pid_max") as f:
            return int(f.read())
    except OSError:
        return 4194304


def report_invariants(report, tag=""):
    """Facts any real report holds, checked from outside the tool.

    Yields (ok, description, detail): problems[] empty, no negative
    figure, no pid beyond pid_max, comm never '?' for a process with
    threads, and all processes' CPU within CPUs x trace span.
    """
    p = f"{tag}: " if tag else ""
    probs = report.get("problems")
    yield (probs == [], f"{p}report lists no problems", f"problems {probs}")
    workers = report.get("workers", [])
    neg = [(w.get("endpoint"), k, v) for w in workers for k, v in w.items()
           if isinstance(v, (int, float)) and not isinstance(v, bool)
           and v < 0]
    neg += [("totals", k, v) for k, v in report.get("totals", {}).items()
            if isinstance(v, (int, float)) and v < 0]
    yield (not neg, f"{p}no negative figure", f"{neg[:5]}")
    pm = pid_max()
    big = [w.get("pid") for w in workers if w.get("pid", 0) > pm]
    yield (not big, f"{p}no pid beyond pid_max ({pm})", f"pids {big[:5]}")
    span_s = report.get("trace", {}).get("duration_ns", 0) / 1e9
    cpu_s = sum(w.get("cpu_ns", 0) for w in workers) / 1e9
    cap = (os.cpu_count() or 1) * (span_s * 1.03 + 0.05)
    yield (cpu_s <= cap,
           f"{p}processes' CPU {cpu_s:.3f} s within CPUs x span ({cap:.3f} s)",
           f"cpu {cpu_s:.3f} s")
    tot = report.get("totals", {}).get("cpu_ns")
    rows = sum(w.get("cpu_ns", 0) for w in workers)
    yield (tot == rows, f"{p}totals.cpu_ns equals the sum of the rows",
           f"totals {tot} rows {rows}")
