#!/bin/bash
# Per-trial attribution (`report --marks`, docs/attribution.md) against
# Dask's own accounting. A real local cluster (4 workers, 1 thread each,
# nannies) runs the calibration-shaped workload twice while xfertrace
# records: A = two targets (two aggregations per trial), B = --multi-target
# (one aggregation computes both). calib.py's --dask-log (where Dask ran
# each task, each worker's transfer_incoming_log) is the ground truth:
#  - per trial, transfer_bytes within 2% of (inputs not already on the
#    aggregation's worker) x payload, summed per distinct aggregation
#    worker, and of the Dask log's bytes for the trial's keys; trials
#    disturbed by work stealing are detected in the Dask log and listed
#  - conservation of bytes and CPU; split rate and locality; verdict words
#  - --compare A B: bytes-per-trial ratio against Dask's own ratio
#  - trial-level attribution for trials with TRIAL_BEGIN/END only
#  - bad marks: counted, reported with line numbers, no crash, other
#    trials' numbers unchanged
#  - the worked example of docs/attribution.md on a synthetic trace, exact
. "$(dirname "$0")/lib.sh"
D=$XT_ROOT/tests/dask
CHK=$XT_ROOT/tests/check_trials.py
ST=$T_TMP/cluster.json
export PYTHONDONTWRITEBYTECODE=1

stop_cluster() {
	[ -f "$ST" ] && $PY "$D/cluster.py" stop --state "$ST" >/dev/null 2>&1
	rm -f "$ST"
}
trap 'stop_cluster; t_cleanup' EXIT

# Adds check_trials.py's ok/FAIL lines to our counts.
run_check() {
	t_checker "" $PY "$CHK" "$@"
}

t_need_tracer

# The worked example of docs/attribution.md, as a hand-made trace: every
# number the rules give, exactly (also trial level, a fetch into a worker
# on another node, and bytes nothing can own).
run_check --synth "$T_TMP/synth" --xt "$XT"

# Marks-only failures need no trace of a workload.
t_check "report --marks of a missing file fails with a message" \
	bash -c '! "$1" report /dev/null --marks "$2/none.log" 2>"$2/e"; ' \
	bash "$XT" "$T_TMP"

if ! $PY "$D/cluster.py" start --workers 4 --state "$ST" >/dev/null; then
	t_fail "cluster start (see $ST.logs)"
	t_finish
fi
t_pass "cluster: scheduler + 4 workers with nannies"

# record_calib NAME ARGS...: a recording of calib.py, marks on stdout.
record_calib() {
	local n=$1
	shift
	"$XT" record -o "$T_TMP/$n.xft" -- $PY "$D/calib.py" --state "$ST" \
		--trials 16 --concurrency 8 --sims 10 --payload-bytes 400000 \
		--outputs 2 --sim-ms 20 --agg-ms 10 --dask-log "$T_TMP/$n.dask.json" \
		"$@" >"$T_TMP/$n.log" 2>"$T_TMP/$n.err"
}
t_check "A: record calib.py, two targets" record_calib A --targets 2
t_check "B: record calib.py, --multi-target" record_calib B --targets 2 \
	--multi-target
stop_cluster

for n in A B; do
	if "$XT" report "$T_TMP/$n.xft" --marks "$T_TMP/$n.log" --format json \
		>"$T_TMP/$n.json" 2>"$T_TMP/$n.rerr"; then
		t_pass "$n: report --marks --format json"
		run_check --report "$T_TMP/$n.json" --dask "$T_TMP/$n.dask.json" \
			--tag "$n"
	else
		t_fail "$n: report --marks: $(tail -n 1 "$T_TMP/$n.rerr")"
	fi
	"$XT" report "$T_TMP/$n.xft" --marks "$T_TMP/$n.log" >"$T_TMP/$n.txt" \
		2>&1
	t_check "$n: text report has the trial table and a verdict" \
		grep -qE "^VERDICT: (transfer|compute) dominates" "$T_TMP/$n.txt"
done
grep -A3 "^TRIAL " "$T_TMP/A.txt" | sed 's/^/     /'
grep "^VERDICT" "$T_TMP/A.txt" "$T_TMP/B.txt" | sed 's/^/     /'

# Test B of the plan: two targets against one multi-target aggregation.
if "$XT" report --compare "$T_TMP/A.xft" "$T_TMP/B.xft" \
	--marks-a "$T_TMP/A.log" --marks-b "$T_TMP/B.log" --format json \
	>"$T_TMP/cmp.json" 2>"$T_TMP/cmp.err"; then
	t_pass "report --compare A B --format json"
	run_check --compare "$T_TMP/cmp.json" --dask-a "$T_TMP/A.dask.json" \
		--dask-b "$T_TMP/B.dask.json" --tol 0.03
else
	t_fail "report --compare: $(tail -n 1 "$T_TMP/cmp.err")"
fi
"$XT" report --compare "$T_TMP/A.xft" "$T_TMP/B.xft" --marks-a \
	"$T_TMP/A.log" --marks-b "$T_TMP/B.log" >"$T_TMP/cmp.txt" 2>&1
t_check "report --compare text: ratios and both verdicts" bash -c \
	'grep -q "^bytes per trial" "$1" && [ "$(grep -c "^VERDICT [AB]: .* dominates" "$1")" = 2 ]' \
	bash "$T_TMP/cmp.txt"

# Trial level: half the trials keep only TRIAL_BEGIN/END lines.
$PY - "$T_TMP/A.log" "$T_TMP/half.log" <<'EOF'
import sys
lines = open(sys.argv[1]).read().splitlines()
pids = sorted({l.split("param_id=")[1].split()[0] for l in lines
               if "TRIAL_BEGIN" in l})
drop = set(pids[::2])
with open(sys.argv[2], "w") as f:
    for l in lines:
        pid = l.split("param_id=")[1].split()[0]
        if pid in drop and ("SIM_TIMING" in l or "AGG_TIMING" in l):
            continue
        f.write(l + "\n")
EOF
if "$XT" report "$T_TMP/A.xft" --marks "$T_TMP/half.log" --format json \
	>"$T_TMP/half.json" 2>"$T_TMP/half.err"; then
	run_check --report "$T_TMP/half.json" --dask "$T_TMP/A.dask.json" \
		--tag "half marks" --partial-marks
	t_check "half marks: 8 trials task-level, 8 trial-level, trial-level ones share what is left" \
		$PY - "$T_TMP/half.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
modes = [t["attribution"] for t in r["trials"]]
tl = [t for t in r["trials"] if t["attribution"] == "trial"]
w = r["diagnostics"]["window"]
assert modes.count("task") == 8 and modes.count("trial") == 8, modes
assert all(t["n_sims"] == 0 and t["wall_ns"] > 0 for t in tl)
# every bin inside a trial goes to some trial: little is left over
assert w["unattributed_bytes"] <= 0.05 * w["worker_bytes"], w
assert sum(t["transfer_bytes"] for t in tl) > 0
EOF
else
	t_fail "half marks: report: $(tail -n 1 "$T_TMP/half.err")"
fi

# Bad marks: garbage, truncated lines, wrong types, a 1 MiB line, NULs,
# wrong clocks, an absurd AGG line; other trials' bytes, wall and counts
# must not change (their CPU only within the sharing rule's bounds).
$PY - "$T_TMP/A.log" "$T_TMP/bad.log" "$T_TMP/bad.expect.json" <<'EOF'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
out, malformed = [], []
pids = sorted({l.split("param_id=")[1].split()[0] for l in lines
               if "TRIAL_BEGIN" in l})
v_clock, v_begin, v_agg = pids[0], pids[1], pids[2]
done = set()
for i, l in enumerate(lines):
    if "SIM_TIMING" in l and v_clock in l and "clock" not in done:
        ts, rest = l.split(" ", 1)
        l = f"{ts[:11]}{(int(ts[11:13]) + 5) % 24:02d}{ts[13:]} {rest}"
        done.add("clock")
    if "TRIAL_BEGIN" in l and v_begin in l:
        l = f"2020-01-01T00:00:00Z TRIAL_BEGIN param_id={v_begin}"
    out.append(l)
    if i % 25 == 3:
        out.append("some other log line \x01 with a control byte")
        out.append(l[: len(l) // 3])            # truncated mid-line
        if "TIMING" in l[: len(l) // 3]:
            malformed.append(len(out))
        out.append(l.split(" ", 1)[0] + " SIM_TIMING: param_id=zz seed=x1 "
                   "duration_ms=fast worker=tcp://1.2.3.4:5")
        malformed.append(len(out))
out.append("SIM_TIMING: param_id=big " + "x" * (1 << 20))
malformed.append(len(out))
out.append("A" * (1 << 20))
out.append(lines[-1].split(" ", 1)[0] + " AGG_TIMING: run_id=r param_id="
           + v_agg + " target=t9 n_sim_returns=10 total_inline_mb=999999 "
           "duration_ms=86000000 worker=tcp://127.0.0.1:1")
absurd = len(out)
with open(sys.argv[2], "wb") as f:
    f.write(("\n".join(out) + "\n").encode())
    f.write(b"\x00\x00binary\xff\xfe AGG_TIMING: \x00\n")
    malformed.append(len(out) + 1)
    f.write(b"2026-01-01T00:00:00Z TRIAL_END param_id=" + v_agg.encode())
json.dump({"victims": [v_clock, v_begin, v_agg], "malformed": malformed,
           "absurd": absurd}, open(sys.argv[3], "w"))
EOF
if "$XT" report "$T_TMP/A.xft" --marks "$T_TMP/bad.log" --format json \
	>"$T_TMP/bad.json" 2>"$T_TMP/bad.err"; then
	t_pass "bad marks: report exits 0"
	t_check "bad marks: counted, listed by line, wrong clocks caught, other trials unchanged" \
		$PY - "$T_TMP/A.json" "$T_TMP/bad.json" "$T_TMP/bad.expect.json" <<'EOF'
import json, sys
good, bad, exp = (json.load(open(p)) for p in sys.argv[1:4])
m = bad["marks"]
lines = {p["line"] for p in m["problems"]}
assert m["bad"] >= len(exp["malformed"]), (m["bad"], exp)
missing = [n for n in exp["malformed"] if n not in lines]
assert not missing, ("bad lines not listed", missing)
assert m["outside_trace"] >= 3, m        # shifted SIM, 2020 BEGIN, 2026 END
assert exp["absurd"] in lines, "absurd AGG line not reported"
assert m["ignored"] > 0
g = {t["id"]: t for t in good["trials"]}
b = {t["id"]: t for t in bad["trials"]}
assert set(g) <= set(b), set(g) - set(b)
keys = ("transfer_bytes", "wall_ns", "transfer_ns", "n_sims", "n_aggs",
        "split")
changed = [k for k in g if k not in exp["victims"] and
           any(g[k][f] != b[k][f] for f in keys)]
assert not changed, ("trials poisoned", changed)
# A victim's lost window frees its share of a bin's CPU; neighbours in the
# same bin may take some of it (up to their own overlap), never lose any,
# and together never gain more than the victims lost.
for f in ("compute_cpu_ns", "comm_cpu_ns"):
    others = [k for k in g if k not in exp["victims"]]
    assert all(b[k][f] - g[k][f] >= -1000 for k in others), \
        (f, [(k, g[k][f], b[k][f]) for k in others if b[k][f] < g[k][f]])
    gain = sum(b[k][f] - g[k][f] for k in others)
    lost = sum(g[v][f] - b[v][f] for v in exp["victims"])
    assert gain <= lost + 1000, (f, gain, lost)
assert all(b[v]["n_sims"] >= 9 for v in exp["victims"])
assert "dominates" in bad["diagnostics"]["verdict"]
EOF
else
	t_fail "bad marks: report failed: $(tail -n 1 "$T_TMP/bad.err")"
fi
"$XT" report "$T_TMP/A.xft" --marks "$T_TMP/bad.log" >"$T_TMP/bad.txt" 2>&1
t_check "bad marks: text report lists problems with line numbers" \
	grep -qE "^  line:[0-9]+: malformed" "$T_TMP/bad.txt"

head -c 200000 /dev/urandom >"$T_TMP/noise.log"
t_check "random bytes as marks: exit 0, no trials, verdict says it cannot weigh them and names neither" \
	bash -c '"$1" report "$2" --marks "$3" --format json >"$4" &&
	$5 -c "import json,sys; r=json.load(open(sys.argv[1])); assert r[\"trials\"] == [] and \"cannot weigh\" in r[\"diagnostics\"][\"verdict\"] and \"dominates\" not in r[\"diagnostics\"][\"verdict\"]" "$4"' \
	bash "$XT" "$T_TMP/A.xft" "$T_TMP/noise.log" "$T_TMP/noise.json" "$PY"
t_check "marks from stdin (--marks -) give the same trials as the file" \
	bash -c '"$1" report "$2" --marks - --format json <"$3" >"$4" &&
	$5 -c "import json,sys; a,b=(json.load(open(p)) for p in sys.argv[1:3]); assert a[\"trials\"] == b[\"trials\"]" "$4" "$6"' \
	bash "$XT" "$T_TMP/A.xft" "$T_TMP/A.log" "$T_TMP/stdin.json" "$PY" \
	"$T_TMP/A.json"
t_finish
