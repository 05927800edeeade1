#!/bin/bash
# Exact task CPU from on-CPU slices (issue 13, docs/attribution.md "CPU
# from slices"). A real local Dask cluster (4 workers, 1 thread each, with
# nannies) runs the calibration-shaped workload (calib.py: 16 trials, 8 at
# a time, 10 simulations of 50 ms CPU and 2 aggregations of 20 ms per
# trial, 512 KiB payloads) while xfertrace records; every task measures
# its own CPU with time.thread_time_ns(), which is the ground truth:
#  - each task's CPU within 10% or 2 ms for >= 95% of tasks, median <= 2%
#  - compute CPU per trial within 2% of the sum of its tasks' thread_time
#  - sim and agg CPU p50/p95 within 5%
#  - transfer bytes per trial within 2% of Dask's transfer_incoming_log
#  three runs, three seeds, one per harvest path (iter, notes, map, each
#  forced with --strict), each also checked by tests/dask/check_dask.py
#  (flows) and tests/check_trials.py (per-trial bytes and placement); a
# cluster started after `record` is covered from its first task; with
# `--detail none` every task says cpu_exact: false and CPU still adds up;
# the slice counters in the trace match the slices written; a burner's
# slices add up to its own thread clocks on both sched hook paths;
# `--detail PID` selects that process only.
. "$(dirname "$0")/lib.sh"
D=$XT_ROOT/tests/dask
ST=$T_TMP/cluster.json
export PYTHONDONTWRITEBYTECODE=1

stop_cluster() {
	[ -f "$ST" ] && $PY "$D/cluster.py" stop --state "$ST" >/dev/null 2>&1
	rm -f "$ST"
}
trap 'stop_cluster; t_cleanup' EXIT
t_need_tracer

t_check "record --detail with a bad value fails with a message" bash -c \
	'! "$1" record --detail bogus -o "$2/x.xft" -- true 2>"$2/e" &&
	grep -q -- "--detail takes" "$2/e"' bash "$XT" "$T_TMP"

# The rules on a hand-made trace: exact stints, a lost span, old STATS.
t_checker "" $PY "$XT_ROOT/tests/check_taskcpu.py" --synth "$T_TMP/synth" \
	--xt "$XT"

# Slices against a burner's own thread clocks (tests/burn.c), both sched
# hook paths: every thread's slices add up to its CPU time.
for hk in tp_btf raw_tp; do
	# burn idles once it has written its JSON: SIGUSR1 ends it (status 0).
	if "$XT" record --hooks "$hk" --detail all -o "$T_TMP/burn-$hk.xft" -- \
		bash -c '"$1" -t 2 -m 150 -d 100 -T 20 -o "$2" & p=$!
		while kill -0 $p 2>/dev/null && [ ! -s "$2" ]; do sleep 0.05; done
		kill -USR1 $p; wait $p' bash "$XT_ROOT/build/tests/burn" \
		"$T_TMP/burn-$hk.json" 2>"$T_TMP/burn-$hk.err"; then
		t_check "--detail all, --hooks $hk: each burner thread's slices add up to its own CPU clock (within 2 ms)" \
			$PY - "$T_TMP/burn-$hk.xft" "$T_TMP/burn-$hk.json" "$XT_ROOT/tests" <<'EOF'
import json, sys
sys.path.insert(0, sys.argv[3])
import xt_slices
h, sl, de, lost, st = xt_slices.read(sys.argv[1])
b = json.load(open(sys.argv[2]))
assert not lost and st["slices_lost"] == 0, (lost, st)
for t in b["threads"]:
    got = sum(c for p, tid, s0, c in sl if tid == t["tid"])
    # the thread reads its clock, then runs a little more before idling
    assert t["cpu_ns"] - 100000 <= got <= t["cpu_ns"] + 2000000, (t, got)
EOF
	else
		t_fail "--detail all, --hooks $hk: record failed: $(tail -n 1 "$T_TMP/burn-$hk.err")"
	fi
done

# --detail PID: slices of that process only. It works 5 ms, sleeps 5 ms,
# so it leaves its CPU (a slice ends) many times in the recording.
$PY -c '
import time
end = time.monotonic() + 20
while time.monotonic() < end:
    t = time.thread_time()
    while time.thread_time() - t < 0.005:
        pass
    time.sleep(0.005)' &
bp=$!
t_track $bp
if "$XT" record --detail "$bp" --duration 1 -o "$T_TMP/burnp.xft" \
	2>"$T_TMP/burnp.err"; then
	t_check "--detail PID: slices of that process only, and some" \
		$PY - "$T_TMP/burnp.xft" "$bp" "$XT_ROOT/tests" <<'EOF'
import sys
sys.path.insert(0, sys.argv[3])
import xt_slices
h, sl, de, lost, st = xt_slices.read(sys.argv[1])
pids = {p for p, _, _, _ in sl}
assert pids == {int(sys.argv[2])}, pids
assert [d[1] for d in de] == [int(sys.argv[2])], de
EOF
else
	t_fail "--detail PID: record failed: $(tail -n 1 "$T_TMP/burnp.err")"
fi
kill $bp 2>/dev/null

start_cluster() {
	$PY "$D/cluster.py" start --workers 4 --state "$ST" >/dev/null
}

CALIB_ARGS=(--trials 16 --concurrency 8 --sims 10 --payload-bytes 524288
	--sim-ms 50 --agg-ms 20)
calib() {
	local n=$1
	shift
	$PY "$D/calib.py" --state "$ST" "${CALIB_ARGS[@]}" \
		--dask-log "$T_TMP/$n.dask.json" "$@" >"$T_TMP/$n.log" \
		2>"$T_TMP/$n.err"
}

# analyze NAME: report, then check against the tasks' own clocks.
analyze() {
	local n=$1
	shift
	if "$XT" report "$T_TMP/$n.xft" --marks "$T_TMP/$n.log" \
		--format json >"$T_TMP/$n.json" 2>"$T_TMP/$n.rerr"; then
		t_checker "" $PY "$XT_ROOT/tests/check_taskcpu.py" \
			--report "$T_TMP/$n.json" --dask "$T_TMP/$n.dask.json" \
			--tag "$n" "$@"
		# The per-path Dask checks (tests/t_paths.sh relies on them):
		# flows against transfer_outgoing_log, trials against placement.
		t_checker "$n/dask" $PY "$D/check_dask.py" \
			--report "$T_TMP/$n.json" --cluster "$ST" \
			--dask "$T_TMP/$n.dask.json"
		t_checker "$n/trials" $PY "$XT_ROOT/tests/check_trials.py" \
			--report "$T_TMP/$n.json" --dask "$T_TMP/$n.dask.json" \
			--tag "$n"
	else
		t_fail "$n: report: $(tail -n 1 "$T_TMP/$n.rerr")"
	fi
}

if ! start_cluster; then
	t_fail "cluster start (see $ST.logs)"
	t_finish
fi
t_pass "cluster: scheduler + 4 workers with nannies"

# Room for other load's sockets on a shared machine: a full connection
# map would drop bytes (counted, and named by the checker).
XTOPTS="--max-conns 65536"
seed=11
# Every harvest path that loads here (a kernel refusing map iterators: two).
HARVESTS="notes map"
"$XT" check 2>/dev/null | grep -q "^harvest reads: iter" && HARVESTS="iter notes map"
for h in $HARVESTS; do
	n=$h
	if "$XT" record $XTOPTS --strict --harvest "$h" -o "$T_TMP/$n.xft" -- \
		bash -c "$(declare -f calib); D=$D ST=$ST T_TMP=$T_TMP PY=$PY; CALIB_ARGS=(${CALIB_ARGS[*]}); calib $n --seed $seed" \
		2>"$T_TMP/$n.rec.err"; then
		t_pass "$n: record --harvest $h calib.py --seed $seed"
		analyze "$n"
	else
		t_fail "$n: record: $(tail -n 2 "$T_TMP/$n.rec.err" "$T_TMP/$n.err")"
	fi
	seed=$((seed + 10))
done

# The slice counters in the trace's STATS agree with the slices written.
t_check "${HARVESTS%% *}: trace holds the slices its counters say were recorded, none lost" \
	$PY - "$T_TMP/${HARVESTS%% *}.xft" "$XT_ROOT/tests" <<'EOF'
import sys
sys.path.insert(0, sys.argv[2])
import xt_slices
h, sl, de, lost, st = xt_slices.read(sys.argv[1])
assert st and st["slices"] > 1000, st
assert st["slices_lost"] == 0 and not lost, (st, lost)
# the final harvest flushes every CPU's batch: all recorded slices written
assert len(sl) == st["slices"], (len(sl), st)
assert all(c > 0 for _, _, _, c in sl)
EOF

# --detail none: the bins only; every task says so, totals still add up.
n=none
CALIB_ARGS[1]=8
if "$XT" record $XTOPTS --detail none -o "$T_TMP/$n.xft" -- bash -c \
	"$(declare -f calib); D=$D ST=$ST T_TMP=$T_TMP PY=$PY; CALIB_ARGS=(${CALIB_ARGS[*]}); calib $n --seed 5" \
	2>"$T_TMP/$n.rec.err" &&
	"$XT" report "$T_TMP/$n.xft" --marks "$T_TMP/$n.log" --format json \
	>"$T_TMP/$n.json" 2>"$T_TMP/$n.rerr"; then
	t_check "--detail none: no slices, every task cpu_exact false, CPU conserved" \
		$PY - "$T_TMP/$n.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
d = r["diagnostics"]
tasks = [k for t in r["trials"] for k in t["tasks"] if k["cpu_ns"] is not None]
assert len(tasks) >= 90, len(tasks)
assert all(k["cpu_exact"] is False for k in tasks)
assert d["cpu_exact_share"] == 0 and d["slices"] == 0, d
w = d["window"]
assert sum(t["compute_cpu_ns"] for t in r["trials"]) + \
    w["unattributed_compute_ns"] == w["compute_cpu_ns"], w
EOF
else
	t_fail "--detail none: $(tail -n 1 "$T_TMP/$n.rec.err" "$T_TMP/$n.rerr")"
fi
CALIB_ARGS[1]=16
stop_cluster

# A cluster started after record: its processes are selected when their
# listeners open, so every task is exact.
n=late
"$XT" record $XTOPTS -o "$T_TMP/$n.xft" --duration 300 \
	2>"$T_TMP/$n.rec.err" &
rec=$!
t_track $rec
for _ in $(seq 100); do
	grep -q "recording to" "$T_TMP/$n.rec.err" && break
	sleep 0.1
done
if start_cluster && calib $n --seed 99 --trials 8; then
	t_pass "late: cluster started after record, calib.py ran"
else
	t_fail "late: cluster or calib.py failed: $(tail -n 1 "$T_TMP/$n.err")"
fi
kill -INT $rec
wait $rec
t_check "late: record ended cleanly" test $? -eq 0
analyze $n
stop_cluster
t_finish
