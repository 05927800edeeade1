#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# `xfertrace top` against ground truth.
#  1. Batch and JSON: tests/rategen runs three loopback senders paced to
#     2, 5 and 10 MB/s into three receivers, plus a 50% duty-cycle CPU
#     burner; every process prints its own measured rate. `top --json`
#     and `top -b` run at the same time; tests/check_top.py compares the
#     per-endpoint rates (averaged over the frames inside the sending
#     span) with the generator's (5%), the burner's CPU% with
#     /proc/PID/schedstat sampled during the run (2 points), connections,
#     top peers, flows, stable text columns, and the exited processes
#     (shown once marked gone, then absent).
#  2. Full screen under tmux (private server): default sort, sort keys,
#     filter, matrix, trials from live marks, a highlighted drop counter,
#     help, pause, unknown key, resize to 60 columns (columns dropped) and
#     back, and q (process gone, exit 0).
#  3. Bad input: flags and intervals exit 2 with one stderr line; no
#     terminal means batch mode, said in one stderr line.
# Keep the temporary files with T_KEEP=1.
. "$(dirname "$0")/lib.sh"
GEN=$XT_ROOT/build/tests/rategen
CHECK=$XT_ROOT/tests/check_top.py


# wait_file FILE PATTERN SECONDS: until FILE has a line matching PATTERN.
wait_file() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}


# plan_get FILE EXPR: evaluate a Python expression over the plan line `p`.
plan_get() {
	$PY -c 'import json,sys
for l in open(sys.argv[1]):
    p = json.loads(l)
    if p["role"] == "plan":
        print(eval(sys.argv[2])); break' "$1" "$2"
}

if [ ! -x "$XT" ] || [ ! -x "$GEN" ]; then
	t_fail "need $XT and $GEN (make)"
	t_finish
fi

# ---- 3. bad input (fast, first) ----

# expect_usage DESC ARGS...: exit 2, one stderr line, nothing on stdout.
expect_usage() {
	local d=$1 rc n
	shift
	"$XT" top "$@" >"$T_TMP/e.out" 2>"$T_TMP/e.err" </dev/null
	rc=$?
	n=$(awk 'END { print NR }' "$T_TMP/e.err")
	if [ "$rc" -eq 2 ] && [ "$n" -eq 1 ] && [ ! -s "$T_TMP/e.out" ]; then
		t_pass "$d: exit 2, \"$(cat "$T_TMP/e.err")\""
	else
		t_fail "$d: exit $rc, $n stderr lines, $(wc -c <"$T_TMP/e.out") stdout bytes: $(head -c 300 "$T_TMP/e.err" | tr '\n' '|')"
	fi
}
expect_usage "top -d 0" -d 0
expect_usage "top -d abc" -d abc
expect_usage "top -d -1" -d -1
expect_usage "top -d ''" -d ''
expect_usage "top -n 0" -n 0
expect_usage "top -n x" -n x
expect_usage "top --bogus" --bogus
expect_usage "top -Z" -Z
expect_usage "top -d (no value)" -d
expect_usage "top extra argument" -b extra
expect_usage "top --sort nosuch" --sort nosuch
expect_usage "top --filter 'a(*'" --filter 'a(*'
expect_usage "top -b --json" -b --json

# Not a terminal: batch mode, said once on stderr.
"$XT" top -n 1 -d 0.2 >"$T_TMP/nb.out" 2>"$T_TMP/nb.err" </dev/null
rc=$?
t_check "no terminal: exit 0 (got $rc)" [ "$rc" -eq 0 ]
t_check "no terminal: one stderr line saying batch mode: $(head -c 200 "$T_TMP/nb.err")" \
	[ "$(awk 'END { print NR }' "$T_TMP/nb.err")" -eq 1 -a -n "$(grep -i 'batch' "$T_TMP/nb.err")" ]
t_check "no terminal: one plain-text frame on stdout" \
	[ "$(grep -c '^xfertrace top - ' "$T_TMP/nb.out")" -eq 1 -a "$(grep -c '^ *PID ROLE' "$T_TMP/nb.out")" -eq 1 ]
"$XT" top -b -n 1 -d 0.2 >"$T_TMP/b1.out" 2>"$T_TMP/b1.err"
t_check "top -b: exit 0, nothing on stderr" [ $? -eq 0 -a ! -s "$T_TMP/b1.err" ]

# ---- 1. batch and JSON against the rate generator ----

G1=$T_TMP/gen1.jsonl
"$GEN" -r 2,5,10 -c 50 -t 7 -o "$G1" 2>"$T_TMP/gen1.err" &
GPID=$!
t_track "$GPID"
if ! wait_file "$G1" '"plan"' 10; then
	t_fail "rategen did not start: $(head -c 300 "$T_TMP/gen1.err")"
	t_finish
fi
BPID=$(plan_get "$G1" 'p["burner"]["pid"]')
$PY "$CHECK" sample --pid "$BPID" --out "$T_TMP/cpu.txt" &
t_track $!
"$XT" top --json -d 1 -n 10 >"$T_TMP/top.ndjson" 2>"$T_TMP/top.json.err" &
J=$!
t_track "$J"
"$XT" top -b -d 1 -n 10 >"$T_TMP/top.txt" 2>"$T_TMP/top.txt.err" &
B=$!
t_track "$B"
wait "$J"
rcj=$?
wait "$B"
rcb=$?
wait "$GPID"
rcg=$?
t_check "top --json -n 10: exit 0 (got $rcj), stderr empty" [ "$rcj" -eq 0 -a ! -s "$T_TMP/top.json.err" ]
t_check "top -b -n 10: exit 0 (got $rcb), stderr empty" [ "$rcb" -eq 0 -a ! -s "$T_TMP/top.txt.err" ]
t_check "rategen finished cleanly (exit $rcg)" [ "$rcg" -eq 0 ]
t_check "top --json printed 10 frames" [ "$(wc -l <"$T_TMP/top.ndjson")" -eq 10 ]
$PY "$CHECK" check --gen "$G1" --json "$T_TMP/top.ndjson" --text "$T_TMP/top.txt" \
	--cpu "$T_TMP/cpu.txt" --gone >"$T_TMP/check1" 2>&1
rc=$?
t_lines <"$T_TMP/check1"
if [ "$rc" -ne 0 ] && ! grep -q '^FAIL' "$T_TMP/check1"; then
	t_fail "check_top.py failed: $(tail -n 3 "$T_TMP/check1" | tr '\n' ' ')"
fi

# ---- 2. full screen under tmux ----

if ! command -v tmux >/dev/null; then
	t_fail "tmux is not installed"
	t_finish
fi
TM=(tmux -L "xt-top-$$" -f /dev/null)
tm_cleanup() { "${TM[@]}" kill-server 2>/dev/null; t_cleanup; }
trap tm_cleanup EXIT

G2=$T_TMP/gen2.jsonl
"$GEN" -r 2,5,10 -t 50 -o "$G2" 2>"$T_TMP/gen2.err" &
GPID2=$!
t_track "$GPID2"
if ! wait_file "$G2" '"plan"' 10; then
	t_fail "rategen (tmux part) did not start"
	t_finish
fi
P2=$(plan_get "$G2" 'p["receivers"][0]["port"]')
P5=$(plan_get "$G2" 'p["receivers"][1]["port"]')
P10=$(plan_get "$G2" 'p["receivers"][2]["port"]')
S10=$(plan_get "$G2" 'p["senders"][2]["pid"]')
SOCK=$T_TMP/marks.sock
cat >"$T_TMP/run_top.sh" <<EOS
#!/bin/bash
"$XT" top -d 0.5 --marks-socket "$SOCK" 2>"$T_TMP/tui.err"
echo \$? >"$T_TMP/tui.rc"
EOS
chmod +x "$T_TMP/run_top.sh"
"${TM[@]}" new-session -d -s top -x 160 -y 40 "$T_TMP/run_top.sh"
PANE=$("${TM[@]}" display-message -p -t top '#{pane_pid}')
TOP=
for ((i = 0; i < 50; i++)); do
	TOP=$(cat /proc/"$PANE"/task/"$PANE"/children 2>/dev/null | awk '{ print $1 }')
	[ -n "$TOP" ] && break
	sleep 0.1
done
t_track "$TOP"

cap() { "${TM[@]}" capture-pane -p -t top; }
keys() { "${TM[@]}" send-keys -t top "$@"; }
# wait_screen PATTERN SECONDS: until the screen matches (grep -E).
wait_screen() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		cap >"$T_TMP/screen" 2>/dev/null
		grep -Eq -- "$1" "$T_TMP/screen" && return 0
		sleep 0.1
	done
	return 1
}
alive() { kill -0 "$TOP" 2>/dev/null; }
# Table rows of the capture: lines after the column header, before the status line.
rows() { head -n -1 "$T_TMP/screen" | awk '/^ENDPOINT /{ on = 1; next } on && !NF { exit } on'; }
# col TITLE: a right-aligned column's values, cut where its title ends
# (comms may hold blanks, so fields cannot be split on whitespace).
col() {
	head -n -1 "$T_TMP/screen" | awk -v t="$1" '
		/^ENDPOINT / { e = index($0, t) + length(t) - 1; on = 1; next }
		on && !NF { exit }
		on { n = split(substr($0, 1, e), a, " "); print a[n] }'
}
# col_sorted TITLE SORT-FLAGS: at least 3 rows, in that order.
col_sorted() {
	col "$1" >"$T_TMP/col"
	[ "$(grep -c '[0-9]' "$T_TMP/col")" -ge 3 ] && sort -c "$2" "$T_TMP/col" 2>/dev/null
}

if ! wait_screen "tcp://127.0.0.1:$P10 " 15 || ! wait_screen "tcp://127.0.0.1:$P5 " 5; then
	t_fail "full screen never showed the generator's receivers: $(head -c 400 "$T_TMP/screen" | tr '\n' '|') $(cat "$T_TMP/tui.err" 2>/dev/null)"
	t_finish
fi
t_pass "full screen shows the generator's receivers"
# Default sort (total bytes/s): the 10 MB/s receiver above 5 above 2.
wait_screen "tcp://127.0.0.1:$P2 " 5
o10=$(grep -n "tcp://127.0.0.1:$P10 " "$T_TMP/screen" | head -1 | cut -d: -f1)
o5=$(grep -n "tcp://127.0.0.1:$P5 " "$T_TMP/screen" | head -1 | cut -d: -f1)
o2=$(grep -n "tcp://127.0.0.1:$P2 " "$T_TMP/screen" | head -1 | cut -d: -f1)
t_check "default sort is total bytes/s: 10 MB/s row ($o10) above 5 ($o5) above 2 ($o2)" \
	eval '[ -n "$o2" ] && [ "$o10" -lt "$o5" ] && [ "$o5" -lt "$o2" ]'
t_check "header: host, kernel, hooks, totals and every drop counter" \
	grep -q "host .* kernel .* hooks tcp-bytes=" "$T_TMP/screen"
for d in conn_map_full thread_map_full proc_map_full ringbuf_full marks_rejected; do
	grep -q "$d [0-9]" "$T_TMP/screen" || t_fail "header lacks drop counter $d"
done
t_check "header: marks line (a marks socket is in use)" grep -q "^marks 0 live, 0 active trials" "$T_TMP/screen"

keys 2
wait_screen "^sort pid" 5
t_check "key 2 sorts by pid: PID column ascending" col_sorted PID -n
keys 6
wait_screen "^sort cpu" 5
t_check "key 6 sorts by CPU%: CPU% column descending" col_sorted CPU% -rn
keys s
t_check "key s moves to the next sort column (runq)" wait_screen "^sort runq" 5
keys '<'
t_check "key < moves back (cpu)" wait_screen "^sort cpu" 5
keys 0
t_check "key 0 sorts by total again" wait_screen "^sort total" 5

keys / "$P5" Enter
wait_screen "filter '$P5'" 5
wait_screen "rows 1 of 1" 5
t_check "filter by port $P5 leaves only its receiver" \
	[ "$(rows | grep -c .)" -eq 1 -a "$(rows | grep -c "tcp://127.0.0.1:$P5 ")" -eq 1 ]
keys / BSpace BSpace BSpace BSpace BSpace BSpace 'x(*' Enter
t_check "bad filter 'x(*' shows a message" wait_screen "bad filter 'x\(\*'" 5
t_check "bad filter keeps the previous filter and the process" eval "grep -q \"filter '$P5'\" \"$T_TMP/screen\" && alive"
keys / BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace Enter
t_check "empty filter shows a message" wait_screen "empty filter" 5
keys / BSpace BSpace BSpace BSpace BSpace BSpace BSpace 'rg-send' Enter
wait_screen "filter 'rg-send'" 5
t_check "filter by text 'rg-send' leaves the 3 senders" \
	eval '[ "$(rows | grep -c "rg-send")" -eq 3 -a "$(rows | grep -c .)" -eq 3 ]'
keys x
t_check "x clears the filter" wait_screen "filter none" 5

keys m
if wait_screen "^MATRIX" 5 && wait_screen "pid:$S10/rg-send" 5; then
	line=$(grep "pid:$S10/rg-send" "$T_TMP/screen" | head -1)
	cellv=$(echo "$line" | awk '{ for (i = 3; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+$/) print $i }' | sort -rn | head -1)
	t_check "m opens the matrix; the 10 MB/s sender's row shows ${cellv:-nothing} MB/s (9..11)" \
		awk -v v="${cellv:-0}" 'BEGIN { exit !(v >= 9 && v <= 11) }'
else
	t_fail "m did not open the matrix with the 10 MB/s sender: $(head -c 600 "$T_TMP/screen" | tr '\n' '|')"
fi
keys m
t_check "m again returns to the table" wait_screen "^ENDPOINT " 5

# Live marks: a trial begins, a worker reports, garbage is rejected.
$PY - "$SOCK" "$P10" <<'EOP'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for m in ("TRIAL_BEGIN param_id=ptop1",
          "SIM_TIMING: param_id=ptop1 seed=1 duration_ms=5 worker=tcp://127.0.0.1:%s" % sys.argv[2],
          "not a mark at all"):
    s.sendto(m.encode(), sys.argv[1])
EOP
t_check "header counts live marks and the active trial" wait_screen "^marks 2 live, 1 active trial" 5
"${TM[@]}" capture-pane -e -p -t top >"$T_TMP/screen.esc"
t_check "non-zero drop counter (marks_rejected 1) is highlighted" \
	grep -q $'\e\[[0-9;]*m *marks_rejected 1' "$T_TMP/screen.esc"
keys t
t_check "t lists the active trial with its worker and rate" \
	wait_screen "ptop1 .* tcp://127.0.0.1:$P10 \([0-9.]+ MB/s\)" 5
$PY -c 'import socket,sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"TRIAL_END param_id=ptop1", sys.argv[1])' "$SOCK"
t_check "TRIAL_END removes it" wait_screen "no active trials" 5
keys t
wait_screen "^ENDPOINT " 5

keys h
if wait_screen "keys" 5; then
	miss=
	for k in "q  " "h  " "p  " "s  " "<  " "1\.\.9" "r  " "/  " "x  " "m  " "t  " "a  " "Esc"; do
		grep -Eq "^  $k" "$T_TMP/screen" || miss="$miss '$k'"
	done
	t_check "h lists every key${miss:+ (missing$miss)}" [ -z "$miss" ]
else
	t_fail "h did not show the help"
fi
keys h
t_check "any key closes the help" wait_screen "^ENDPOINT " 5

keys z
t_check "unknown key z: message in the status line" wait_screen "unknown key 'z'" 5
t_check "unknown key z: still running" alive

keys p
wait_screen "PAUSED" 5
cap | head -n -1 >"$T_TMP/p1"
sleep 1.6
cap | head -n -1 >"$T_TMP/p2"
t_check "p pauses: the screen stays the same over 3 refresh intervals" cmp -s "$T_TMP/p1" "$T_TMP/p2"
keys p
ok=1
for ((i = 0; i < 50; i++)); do
	cap | head -n -1 >"$T_TMP/p3"
	cmp -s "$T_TMP/p1" "$T_TMP/p3" || { ok=0; break; }
	sleep 0.1
done
t_check "p again resumes refreshing" [ "$ok" -eq 0 ]

"${TM[@]}" resize-window -t top -x 60 -y 30
if wait_screen "^ENDPOINT +PID +RX MB/s" 5; then
	hdr=$(grep "^ENDPOINT" "$T_TMP/screen")
	t_check "60 columns: RUNQ%, ACT%, ROLE and TOP PEER dropped, RX/TX/CPU kept ('$hdr')" \
		eval '! echo "$hdr" | grep -Eq "RUNQ|ACT%|ROLE|TOP PEER" && echo "$hdr" | grep -q "TX MB/s *CPU%"'
	t_check "60 columns: header lines cut, not wrapped" \
		eval 'sed -n 2p "$T_TMP/screen" | grep -q "^total RX" && sed -n 3p "$T_TMP/screen" | grep -q "^drops"'
else
	t_fail "no narrow layout after resize to 60: $(head -c 400 "$T_TMP/screen" | tr '\n' '|')"
fi
t_check "survives the resize" alive
"${TM[@]}" resize-window -t top -x 160 -y 40
t_check "back at 160 columns: TOP PEER returns" wait_screen "^ENDPOINT .*TOP PEER" 5

keys q
wait_gone "$TOP" 10
t_check "q quits: process gone" eval '! alive'
wait_file "$T_TMP/tui.rc" . 5
t_check "q quits with exit 0 (got $(cat "$T_TMP/tui.rc" 2>/dev/null))" [ "$(cat "$T_TMP/tui.rc" 2>/dev/null)" = 0 ]
t_check "full screen wrote nothing on stderr" [ ! -s "$T_TMP/tui.err" ]
t_check "marks socket removed on exit" [ ! -e "$SOCK" ]
kill "$GPID2" 2>/dev/null
t_finish
