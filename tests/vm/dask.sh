#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Runs inside a guest: the calibration-like Dask workload (tests/dask/calib.py,
# 4 workers with nannies) under `xfertrace record`; worker-to-worker flows
# must be within 0.5% of Dask's own transfer_outgoing_log. Emulated guests
# start Python slowly: no nannies, and long connect timeouts.
. "$(dirname "$0")/../lib.sh"
D=$XT_ROOT/tests/dask
C=$T_TMP/c
export PYTHONDONTWRITEBYTECODE=1
export DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=300s
export DASK_DISTRIBUTED__COMM__TIMEOUTS__TCP=300s
export XT_DASK_DEATH_TIMEOUT=400
trap '$PY "$D/cluster.py" stop --state "$C.state" >/dev/null 2>&1; t_cleanup' EXIT
t0=$(date +%s)
if ! $PY "$D/cluster.py" start --workers 3 --no-nanny --timeout 400 \
	--state "$C.state" >/dev/null; then
	t_fail "dask: cluster start: $(tail -n 3 "$C.state.logs"/* 2>/dev/null | tr '\n' ' ')"
	t_finish
fi
t_pass "dask: cluster (3 workers) started in $(($(date +%s) - t0)) s"
t_check "dask: record calib.py" "$XT" record -o "$C.xft" -- $PY "$D/calib.py" \
	--state "$C.state" --trials 8 --concurrency 4 --payload-bytes 2000000 \
	--sim-ms 20 --agg-ms 10 --dask-log "$C.dask.json" >/dev/null
t_check "dask: cluster stopped" $PY "$D/cluster.py" stop --state "$C.state"
if "$XT" report "$C.xft" --format json >"$C.json" 2>"$C.err"; then
	t_checker dask $PY "$D/check_dask.py" --report "$C.json" --cluster "$C.state" \
		--dask "$C.dask.json" --tolerance 0.005
else
	t_fail "dask: report: $(tail -n 1 "$C.err")"
fi
echo "row|dask calib ($("$XT" report "$C.xft" --format json | $PY -c 'import json,sys; print(json.load(sys.stdin)["trace"]["hooks"]["sock"])'))|$T_PASS passed, $T_FAIL failed; flows within 0.5% of transfer_outgoing_log; $(($(date +%s) - t0)) s"
t_finish
