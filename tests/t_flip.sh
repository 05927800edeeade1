#!/bin/bash
# Flip tests: give the network a real cost and check that the report's
# verdict flips with the workload.
#
# tests/netns/setup.sh puts 4 network namespaces on a bridge, every link
# rate-limited by tbf to RATE in both directions; tests/netns/cluster_ns.py
# runs the Dask scheduler on the bridge (root namespace) and one worker per
# namespace. Then (checks in tests/check_flip.py):
#  link:     the rate limit works (an untraced TCP transfer measures about
#            the modelled goodput); recorded, the receiver's
#            transfer_active_ns is bytes / goodput within 15%, and the
#            receiver is named by its namespace address.
#  transfer: calib.py with large payloads and short simulations,
#            --concurrency 1 --targets 1: workers named by their Dask
#            addresses, worker-to-worker flows resolved across namespaces,
#            verdict "transfer dominates", trials' transfer_ns ==
#            transfer_bytes / goodput within 15%.
#  compute:  tiny payloads, long simulations: verdict "compute dominates".
# Also runs tests/dask/check_dask.py on the transfer run (attribution
# against Dask's own transfer logs, across namespaces).
# Needs root and iproute2 (ip, tc); creates and removes xtbr0 and xtns1..4.
. "$(dirname "$0")/lib.sh"
NETNS=$XT_ROOT/tests/netns
D=$XT_ROOT/tests/dask
RATE=${XT_FLIP_RATE:-200mbit}
NW=4
ST=$T_TMP/cluster.json
NET_UP=

cleanup_flip() {
	[ -f "$ST" ] && "$PY" "$NETNS/cluster_ns.py" stop --state "$ST" \
		>/dev/null 2>&1
	[ -n "$NET_UP" ] && "$NETNS/teardown.sh"
}
trap 'cleanup_flip; t_cleanup' EXIT

# Adds a checker's ok/FAIL lines to our counts; shows its notes.
run_checker() {
	local tag=$1 out line rc nfail=0
	shift
	out=$("$@" 2>&1)
	rc=$?
	while IFS= read -r line; do
		case $line in
		"ok   - "*) t_pass "$tag: ${line#ok   - }" ;;
		"FAIL - "*) t_fail "$tag: ${line#FAIL - }"; nfail=1 ;;
		*" passed, "*" failed") ;;
		*) echo "     $line" ;;
		esac
	done <<<"$out"
	if [ -z "$out" ]; then
		t_fail "$tag: $2 printed nothing"
	elif [ "$rc" -ne 0 ] && [ "$nfail" -eq 0 ]; then
		t_fail "$tag: $2 exited with $rc"
	fi
}

if [ "$(id -u)" -ne 0 ]; then
	t_fail "needs root"
	t_finish
fi
for t in ip tc; do
	command -v $t >/dev/null || { t_fail "$t not found (iproute2)"; t_finish; }
done
t_need_tracer

NET_UP=1
if ! t_check "setup.sh $NW $RATE: bridge, namespaces, tbf both ways" \
	"$NETNS/setup.sh" "$NW" "$RATE"; then
	t_finish
fi
qdiscs() {
	local i n=0
	for i in $(seq 1 $NW); do
		tc qdisc show dev "xtv$i" | grep -q "^qdisc tbf" && n=$((n + 1))
		ip netns exec "xtns$i" tc qdisc show dev eth0 |
			grep -q "^qdisc tbf" && n=$((n + 1))
	done
	[ "$n" -eq $((2 * NW)) ]
}
t_check "tbf on all $((2 * NW)) link ends" qdiscs

# --- link: the rate limit, untraced then traced.
L=$T_TMP/link
if "$PY" "$NETNS/cluster_ns.py" linktest --src 3 --dst 4 --json >"$L.json"; then
	t_pass "linktest xtns3 -> xtns4"
	run_checker linkrate "$PY" "$XT_ROOT/tests/check_flip.py" linkrate \
		--link "$L.json" --rate "$RATE"
else
	t_fail "linktest xtns3 -> xtns4"
fi
record_link() {
	"$XT" record -o "$L.xft" -- "$PY" "$NETNS/cluster_ns.py" linktest \
		--src 1 --dst 2 --json >"$L.rec.json"
}
if t_check "record linktest xtns1 -> xtns2" record_link; then
	if "$XT" report "$L.xft" --format json >"$L.report.json"; then
		run_checker link "$PY" "$XT_ROOT/tests/check_flip.py" link \
			--report "$L.report.json" --link "$L.rec.json" --rate "$RATE"
	else
		t_fail "link: report --format json"
	fi
fi

# --- the namespace cluster.
if ! t_check "cluster_ns.py: scheduler on xtbr0, $NW workers in namespaces" \
	"$PY" "$NETNS/cluster_ns.py" start --workers $NW --state "$ST"; then
	t_finish
fi

# report_marks TAG XFT MARKS OUT: JSON report with the marks log.
report_marks() {
	if "$XT" report "$2" --marks "$3" --format json >"$4" 2>"$4.err"; then
		t_pass "$1: report --marks --format json"
		return 0
	fi
	t_fail "$1: report --marks --format json: $(tail -n 1 "$4.err")"
	# Without marks, the tracer-only checks can still run.
	"$XT" report "$2" --format json >"$4" 2>>"$4.err"
}

# flip TAG EXPECT CALIB-ARGS...: record calib.py, report, check_flip.
flip() {
	local tag=$1 expect=$2 F=$T_TMP/$1
	shift 2
	if "$XT" record -o "$F.xft" --burst-gap-ms 5 -- "$PY" "$D/calib.py" \
		--state "$ST" --dask-log "$F.dask.json" "$@" >"$F.marks.log"
	then
		t_pass "$tag: record calib.py $*"
	else
		t_fail "$tag: record calib.py $*"
		return 1
	fi
	report_marks "$tag" "$F.xft" "$F.marks.log" "$F.report.json" ||
		return 1
	run_checker "$tag" "$PY" "$XT_ROOT/tests/check_flip.py" dask \
		--report "$F.report.json" --cluster "$ST" --dask "$F.dask.json" \
		--marks "$F.marks.log" --rate "$RATE" --expect "$expect" \
		--link "$L.json"
}

# Large payloads, short simulations: about 22 MB of a trial's 30 MB cross
# the aggregation worker's link (~0.9 s at 200mbit) vs ~10 x 10 ms compute.
# One trial at a time, one aggregation: one bottleneck link per trial.
if flip transfer transfer --trials 8 --concurrency 1 --targets 1 --sims 10 \
	--payload-bytes 3000000 --sim-ms 1 --agg-ms 1; then
	run_checker "transfer/dask" "$PY" "$D/check_dask.py" \
		--report "$T_TMP/transfer.report.json" --cluster "$ST" \
		--dask "$T_TMP/transfer.dask.json"
fi
# Tiny payloads, long simulations.
flip compute compute --trials 6 --concurrency 2 --targets 2 --sims 10 \
	--payload-bytes 1000 --sim-ms 150 --agg-ms 20

t_check "cluster stopped" "$PY" "$NETNS/cluster_ns.py" stop --state "$ST"
rm -f "$ST"
t_check "teardown.sh" "$NETNS/teardown.sh"
NET_UP=
left() { ! ip netns list | grep -q '^xtns' && ! ip link show xtbr0 >/dev/null 2>&1; }
t_check "no xtns* namespace or xtbr0 left" left
t_finish
