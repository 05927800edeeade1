#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Every collection fork that can load here is run by the accuracy tests.
# The default suite runs the path `auto` picks; this program finds which
# harvest paths (iter, notes, map) and discovery paths (iter, proc) load
# on this kernel, and runs the byte and CPU tests again with each other
# path forced (XFERTRACE_HARVEST=X XFERTRACE_STRICT=1). Dask per harvest
# path is run by tests/t_taskcpu.sh (XT_PATHS_DASK=1 adds one calibration
# run here under one recorder per path at once, each trace checked
# against Dask's own logs). Then the byte, CPU, equivalence and discovery
# tests as on a kernel that refuses map and file iterators
# (XFERTRACE_REFUSE). A path that loads and is not run fails; one that
# cannot load is named with the reason.
. "$(dirname "$0")/lib.sh"
t_need_tracer
TESTS=(t_bytes.sh t_cpu.sh)
D=$XT_ROOT/tests/dask
ST=$T_TMP/cluster.json
export PYTHONDONTWRITEBYTECODE=1
stop_cluster() {
	[ -f "$ST" ] && $PY "$D/cluster.py" stop --state "$ST" >/dev/null 2>&1
	rm -f "$ST"
}
trap 'stop_cluster; t_cleanup' EXIT

# loads KIND VALUE: does a strict 0.2 s recording take that path?
loads() {
	"$XT" record --strict --$1 "$2" --duration 0.2 -o "$T_TMP/p.xft" \
		>/dev/null 2>"$T_TMP/why" &&
		"$XT" report --format json "$T_TMP/p.xft" 2>/dev/null |
		$PY -c "import json,sys; h=json.load(sys.stdin)['trace']['hooks']; sys.exit(h['$1'] != '$2')"
}

# What auto picks here, from the same probe record uses.
auto_of() {
	"$XT" record --duration 0.2 -o "$T_TMP/a.xft" >/dev/null 2>&1 &&
		"$XT" report --format json "$T_TMP/a.xft" 2>/dev/null |
		$PY -c "import json,sys; print(json.load(sys.stdin)['trace']['hooks']['$1'])"
}

# run_as TAG ENV... -- TEST: one test program with paths forced.
run_as() {
	local tag=$1 t
	shift
	local envs=()
	while [ "$1" != "--" ]; do envs+=("$1"); shift; done
	shift
	for t in "$@"; do
		t_checker "$tag/${t%.sh}" env "${envs[@]}" XFERTRACE_STRICT=1 \
			"$XT_ROOT/tests/$t"
	done
}

AUTO_H=$(auto_of harvest)
AUTO_D=$(auto_of discovery)
t_check "auto picks a harvest path ($AUTO_H) and a discovery path ($AUTO_D)" \
	[ -n "$AUTO_H" -a -n "$AUTO_D" ]
TABLE=()
LOADS=()
for h in iter notes map; do
	if ! loads harvest $h; then
		why=$(tail -n 1 "$T_TMP/why")
		if [ $h = iter ] && grep -q "refuses" "$T_TMP/why"; then
			TABLE+=("harvest=$h: skipped, cannot load here: $why")
			t_pass "harvest=$h cannot load here, said in one line: $why"
		else
			TABLE+=("harvest=$h: FAILED to load: $why")
			t_fail "harvest=$h must load on any kernel: $why"
		fi
		continue
	fi
	LOADS+=($h)
	if [ "$h" = "$AUTO_H" ]; then
		TABLE+=("harvest=$h: run by the default suite (auto picks it here)")
		continue
	fi
	run_as "harvest=$h" XFERTRACE_HARVEST=$h -- "${TESTS[@]}"
	TABLE+=("harvest=$h: ran ${TESTS[*]}")
done
# dask_all HARVEST...: one calibration run, one strict recorder per path.
dask_all() {
	local h i=0 rp=()
	if ! $PY "$D/cluster.py" start --workers 4 --state "$ST" >/dev/null; then
		t_fail "dask: cluster start (see $ST.logs)"
		return
	fi
	for h in "$@"; do
		"$XT" record --strict --harvest $h -o "$T_TMP/d-$h.xft" \
			2>"$T_TMP/d-$h.err" &
		rp+=($!)
		t_track $!
	done
	for h in "$@"; do
		for ((i = 0; i < 100; i++)); do
			grep -q "recording to" "$T_TMP/d-$h.err" && break
			sleep 0.1
		done
	done
	$PY "$D/calib.py" --state "$ST" --trials 16 --concurrency 8 --sims 10 \
		--payload-bytes 400000 --outputs 2 --sim-ms 20 --agg-ms 10 \
		--targets 2 --dask-log "$T_TMP/d.dask.json" >"$T_TMP/d.log" \
		2>"$T_TMP/d.calib.err"
	t_check "dask: calib.py ran (16 trials)" [ $? -eq 0 ]
	kill -INT "${rp[@]}"
	for i in "${rp[@]}"; do wait_gone $i 30; done
	for h in "$@"; do
		if ! "$XT" report "$T_TMP/d-$h.xft" --marks "$T_TMP/d.log" \
			--format json >"$T_TMP/d-$h.json" 2>"$T_TMP/d-$h.rerr"; then
			t_fail "harvest=$h/dask: report: $(tail -n 1 "$T_TMP/d-$h.rerr")"
			continue
		fi
		t_checker "harvest=$h/dask" $PY "$D/check_dask.py" \
			--report "$T_TMP/d-$h.json" --cluster "$ST" \
			--dask "$T_TMP/d.dask.json"
		t_checker "harvest=$h/trials" $PY "$XT_ROOT/tests/check_trials.py" \
			--report "$T_TMP/d-$h.json" --dask "$T_TMP/d.dask.json" \
			--tag "harvest=$h"
	done
	stop_cluster
}
# Dask per harvest path is tests/t_taskcpu.sh's work: one calibration run
# per path that loads, forced with --strict, each checked by check_dask.py,
# check_trials.py and check_taskcpu.py. XT_PATHS_DASK=1 also runs one here.
if [ -n "${XT_PATHS_DASK:-}" ]; then
	dask_all "${LOADS[@]}"
	TABLE+=("Dask calibration, one run, recorders on ${LOADS[*]}: check_dask.py and check_trials.py per trace")
else
	TABLE+=("Dask calibration per harvest path (${LOADS[*]}): run by t_taskcpu.sh")
fi

for d in iter proc; do
	if loads discovery $d; then
		TABLE+=("discovery=$d: ran t_discovery.sh (it forces both paths)")
		continue
	fi
	why=$(tail -n 1 "$T_TMP/why")
	TABLE+=("discovery=$d: skipped, cannot load here: $why")
	t_check "discovery=$d cannot load here, said in one line: $why" \
		[ $d = iter ]
done

# As on a kernel that refuses iterators: auto must pick notes and /proc,
# forcing iter must fail in one line, and the figures must hold.
R=XFERTRACE_REFUSE=map_iter,task_iter
env $R "$XT" check >"$T_TMP/chk" 2>&1
t_check "refused iterators: check says harvest notes" \
	grep -q "^harvest reads: notes " "$T_TMP/chk"
t_check "refused iterators: check says discovery proc" \
	grep -q "^listener discovery at start: proc " "$T_TMP/chk"
env $R "$XT" record --strict --harvest iter --duration 0.1 \
	-o "$T_TMP/r.xft" >/dev/null 2>"$T_TMP/r.err"
rc=$?
t_check "refused iterators: --strict --harvest iter fails (exit $rc) in one line" \
	[ $rc -ne 0 -a "$(wc -l <"$T_TMP/r.err")" -eq 1 ]
env $R "$XT" record --harvest iter --duration 0.1 -o "$T_TMP/r.xft" \
	>/dev/null 2>"$T_TMP/r.err"
t_check "refused iterators: --harvest iter without --strict falls back, saying so once" \
	[ $? -eq 0 -a "$(grep -c "harvest: iter unavailable" "$T_TMP/r.err")" -eq 1 ]
for t in t_bytes.sh t_cpu.sh t_equiv.sh; do
	t_checker "refused/${t%.sh}" env $R "$XT_ROOT/tests/$t"
done
t_checker "refused/t_discovery" env $R XT_DISCOVERY_MODES=proc \
	"$XT_ROOT/tests/t_discovery.sh"
TABLE+=("refused iterators (XFERTRACE_REFUSE): ran t_bytes.sh t_cpu.sh t_equiv.sh t_discovery.sh(proc)")

echo "     collection paths on $(uname -r):"
printf '       %s\n' "${TABLE[@]}"
t_finish
