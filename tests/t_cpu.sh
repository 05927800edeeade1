#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# CPU accounting: two tests/burn processes (3 threads each, known CPU
# budgets) compete for the CPUs under `xfertrace record`. Once both have
# finished burning (they then idle, blocked, threads alive), read
# /proc/PID/task/TID/schedstat, then stop the recorder with SIGINT, then
# release the burners. tests/check_cpu.py compares the report's per-thread
# and per-process cpu_ns (1%), runq_wait_ns (10% or 5 ms) and switches
# with schedstat, and the process name with /proc/PID/comm. Keep the temporary files with T_KEEP=1.
. "$(dirname "$0")/lib.sh"
BURN=$XT_ROOT/build/tests/burn



json_pid() {
	$PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$1"
}

if [ ! -x "$XT" ] || [ ! -x "$BURN" ]; then
	t_fail "need $XT and $BURN (make)"
	t_finish
fi

B1=$T_TMP/burn1.json
B2=$T_TMP/burn2.json
cat >"$T_TMP/wrap.sh" <<EOW
"$BURN" -t 3 -m 300 -d 150 -T 100 -o "$B1" &
"$BURN" -t 3 -m 350 -d 150 -T 100 -o "$B2" &
wait
EOW
"$XT" record -o "$T_TMP/cpu.xft" --interval 100 -- /bin/sh "$T_TMP/wrap.sh" \
	>"$T_TMP/rec.out" 2>"$T_TMP/rec.err" &
RPID=$!
t_track "$RPID"

for ((i = 0; i < 600; i++)); do
	[ -s "$B1" ] && [ -s "$B2" ] && break
	kill -0 "$RPID" 2>/dev/null || break
	sleep 0.1
done
if [ ! -s "$B1" ] || [ ! -s "$B2" ]; then
	t_fail "burners did not finish: $(tail -n 3 "$T_TMP/rec.err" | tr '\n' ' ')"
	t_finish
fi
P1=$(json_pid "$B1")
P2=$(json_pid "$B2")
t_track "$P1"
t_track "$P2"

# Burning is over; every thread is blocked. Read the kernel's numbers.
for p in "$P1" "$P2"; do
	for t in /proc/"$p"/task/*; do
		echo "$p ${t##*/} $(cat "$t/schedstat")"
	done
done >"$T_TMP/schedstat.txt"
for p in "$P1" "$P2"; do
	echo "$p $(cat /proc/"$p"/comm)"
done >"$T_TMP/comm.txt"

kill -INT "$RPID"
if ! wait_gone "$RPID" 15; then
	# The recorder may wait for its command: let the burners go.
	kill -USR1 "$P1" "$P2" 2>/dev/null
	wait_gone "$RPID" 15
fi
if kill -0 "$RPID" 2>/dev/null; then
	t_fail "recorder still running 30 s after SIGINT"
	t_finish
fi
wait "$RPID"
rc=$?
t_check "recorder stops on SIGINT without crashing (exit $rc)" [ "$rc" -lt 128 -o "$rc" -eq 130 ]
kill -USR1 "$P1" "$P2" 2>/dev/null
wait_gone "$P1" 10
wait_gone "$P2" 10

if ! "$XT" report --format json "$T_TMP/cpu.xft" >"$T_TMP/cpu.json" 2>"$T_TMP/rep.err"; then
	t_fail "report --format json: $(head -n 3 "$T_TMP/rep.err" | tr '\n' ' ')"
	t_finish
fi
# A thread on a CPU since before record starts counts from attach only:
# its CPU in the trace is at most what schedstat grew by across the
# recording (read just before start and just after stop; the window also
# holds record's start-up, so at least a quarter of it), never the part
# of its current run before attach.
hog_case() {
	$PY -c 'while True: pass' &
	local hp=$! s0 s1 got
	t_track $hp
	sleep 1
	s0=$(cut -d' ' -f1 /proc/$hp/schedstat)
	"$XT" record -o "$T_TMP/hog.xft" --duration 1 2>/dev/null
	s1=$(cut -d' ' -f1 /proc/$hp/schedstat)
	kill $hp
	got=$("$XT" report --format json "$T_TMP/hog.xft" 2>/dev/null | $PY -c "
import json, sys
w = [w for w in json.load(sys.stdin)['workers'] if w['pid'] == $hp]
print(w[0]['cpu_ns'] if w else 0)")
	t_check "hog: CPU $got ns within schedstat's growth $((s1 - s0)) ns across the recording" \
		[ "$got" -le $((s1 - s0 + 4000000)) -a "$got" -ge $(((s1 - s0) / 4)) ]
}
hog_case

$PY "$XT_ROOT/tests/check_cpu.py" --report "$T_TMP/cpu.json" \
	--schedstat "$T_TMP/schedstat.txt" --comm "$T_TMP/comm.txt" --burn "$B1" "$B2" >"$T_TMP/check" 2>&1
rc=$?
t_lines <"$T_TMP/check"
if [ "$rc" -ne 0 ] && ! grep -q '^FAIL' "$T_TMP/check"; then
	t_fail "check_cpu.py failed: $(tail -n 2 "$T_TMP/check" | tr '\n' ' ')"
fi
t_finish
