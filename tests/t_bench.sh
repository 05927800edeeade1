#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# `make bench` still works end to end (asserts no speed; see
# docs/performance.md):
#  1. Bad settings exit non-zero with one stderr line.
#  2. A tiny run (2 pairs, 1 run per block, floor and record, the 1 KiB
#     stream, the pinned pipe ping-pong and 1,000 connections) writes the
#     same table to stdout and BENCH_OUT, with a row per workload and
#     condition. Events per operation, counted by record's programs, match
#     what the workloads do: 2 TCP events per 1 KiB write+read, 2 context
#     switches per pinned pipe round trip. kernel.bpf_stats_enabled gets
#     its old value back, and no tracer the bench started is left.
# Keep the temporary files with T_KEEP=1.
. "$(dirname "$0")/lib.sh"
RUN=$XT_ROOT/bench/run.sh
STATS=/proc/sys/kernel/bpf_stats_enabled

t_need_tracer
if [ ! -x "$XT_ROOT/build/bench/floor_loader" ]; then
	t_fail "no build/bench/floor_loader (run make)"
	t_finish
fi

# ---- 1. bad settings ----

# expect_bad DESC VAR=VALUE: exit non-zero, one stderr line naming VAR.
expect_bad() {
	local d=$1 var=${2%%=*} rc n
	env "$2" BENCH_OUT="$T_TMP/bad.md" "$RUN" >"$T_TMP/bad.out" \
		2>"$T_TMP/bad.err"
	rc=$?
	n=$(awk 'END { print NR }' "$T_TMP/bad.err")
	if [ "$rc" -ne 0 ] && [ "$n" -eq 1 ] && grep -q "$var" "$T_TMP/bad.err" &&
	   [ ! -e "$T_TMP/bad.md" ]; then
		t_pass "$d: exit $rc, \"$(cat "$T_TMP/bad.err")\""
	else
		t_fail "$d: exit $rc, $n stderr lines: $(head -c 300 "$T_TMP/bad.err")"
	fi
}
expect_bad "BENCH_EXTRA without a command" "BENCH_EXTRA=justaname"
expect_bad "BENCH_EXTRA with a bad name" "BENCH_EXTRA=Bad Name=true"
expect_bad "BENCH_EXTRA reusing a condition" "BENCH_EXTRA=record=true"
expect_bad "BENCH_PAIRS not a number" "BENCH_PAIRS=many"
expect_bad "BENCH_TARGET_S not a number" "BENCH_TARGET_S=soon"

# ---- 2. a tiny run ----

old=$(cat "$STATS")
echo 1 >"$STATS"	# a value the bench must hand back
before=$(pgrep -d, -f 'floor_loader|xfertrace record' || true)
BENCH_PAIRS=2 BENCH_REPEAT=1 BENCH_TARGET_S=0.1 BENCH_DASK=0 \
	BENCH_CONN_SECS=1 BENCH_CONDITIONS=floor,record \
	BENCH_WORKLOADS=stream-1k,pipe-rr-pinned,conns-1000 \
	BENCH_OUT="$T_TMP/r.md" "$RUN" >"$T_TMP/r.out" 2>"$T_TMP/r.err"
rc=$?
after_stats=$(cat "$STATS")
echo "$old" >"$STATS"
if [ "$rc" -eq 0 ]; then
	t_pass "tiny run exits 0"
else
	t_fail "tiny run: exit $rc: $(tail -n 3 "$T_TMP/r.err")"
fi
t_check "stdout and BENCH_OUT hold the same table" \
	cmp -s "$T_TMP/r.out" "$T_TMP/r.md"
if [ "$after_stats" = 1 ]; then
	t_pass "kernel.bpf_stats_enabled restored (1)"
else
	t_fail "kernel.bpf_stats_enabled is $after_stats after the run, was 1"
fi
left=$(pgrep -d, -f 'floor_loader|xfertrace record' || true)
if [ "$left" = "$before" ]; then
	t_pass "no tracer left running"
else
	t_fail "tracers left: $left (before: $before)"
fi

t_checker "" $PY - "$T_TMP/r.md" <<'EOF'
import re, sys

text = open(sys.argv[1]).read()

def ok(cond, desc, why=""):
    print(("ok   - " if cond else "FAIL - ") + desc +
          ("" if cond else f": {why}"))

def table(title):
    """Rows of the first markdown table after a '## title' heading."""
    m = re.search(r"^## " + re.escape(title) +
                  r"(?:.|\n)*?\n((?:\|[^\n]*\n)+)", text, re.M)
    if not m:
        return None, []
    lines = m.group(1).strip().splitlines()
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = [dict(zip(head, (c.strip() for c in ln.strip("|").split("|"))))
            for ln in lines[2:]]
    return head, rows

def num(v):
    try:
        return float(v.replace(",", ""))
    except (AttributeError, ValueError):
        return None

_, wl = table("Workloads (no tracer)")
per = {r["workload"]: r for r in wl}
for name, col, lo, hi in (("stream-1k", "TCP events/op", 1.95, 2.2),
                          ("pipe-rr-pinned", "switches/op", 1.95, 2.2)):
    v = num(per.get(name, {}).get(col))
    ok(v is not None and lo <= v <= hi,
       f"{name}: {col} {v} (the workload does 2)", f"want {lo}-{hi}")

_, main = table("Overhead per workload")
for name in ("stream-1k", "pipe-rr-pinned"):
    for cond in ("floor", "record"):
        r = next((r for r in main if r["workload"] == name
                  and r["condition"] == cond), None)
        ok(r is not None, f"{name}/{cond}: row present")
        if not r:
            continue
        ok(r["n"] == "2", f"{name}/{cond}: 2 blocks", f"n={r['n']}")
        ratio = num(r["median ratio"])
        ok(ratio is not None and ratio > 0, f"{name}/{cond}: ratio {ratio}")
        ns = num(r["ns/switch"])
        ok(ns is not None and ns > 0, f"{name}/{cond}: ns/switch {ns}")
        if cond == "record":
            ok(num(r["peak RSS MiB"]) is not None,
               f"{name}/record: peak RSS {r['peak RSS MiB']} MiB")
            ok(r["target"].startswith("ratio <="),
               f"{name}/record: target column '{r['target']}'")
            ok(num(r["over floor"]) is not None,
               f"{name}/record: over floor {r['over floor']}")

_, conns = table("1,000 live loopback connections")
r = next((r for r in conns if r["condition"] == "record"), None)
v = num(r["events/s"]) if r else None
# 1,000 connections, one message each way per second: >= 4,000 events/s.
ok(v is not None and v >= 3000, f"conns-1000/record: {v} events/s",
   "want >= 3000")
ok(r is not None and "CPU < 1%" in r["target"],
   "conns-1000/record: CPU target evaluated")

EOF
t_finish
