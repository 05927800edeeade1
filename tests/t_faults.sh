#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Faults with real processes (issue 11), each checked against ground truth
# that the workload (tests/faultgen.py) or the kernel (bpftool, /proc)
# gives:
# 1. a worker SIGKILLed mid-transfer: its bytes up to death equal what the
#    receiver got, its connection-map entries are freed (bpftool dump of
#    record's own map), top shows its endpoint as gone;
# 2. port and pid reuse: a second process on the same port (and, where
#    ns_last_pid allows, with the same pid) is a second identity with its
#    own bytes;
# 3. 20,000 concurrent connections and 5,000 short-lived threads: maps
#    stay within max_entries, conservation holds exactly, every byte the
#    workload moved is in the report or in a drop counter, an entry left
#    behind is covered by prog_misses (a close the kernel never ran our
#    program for), and with
#    --max-conns large enough every byte is in the report; map memory
#    (bytes_memlock) and record's peak RSS are printed; with 10,000
#    connections still open when record stops, every byte is in the trace;
# 4. record SIGKILLed: none of its programs, links or maps remain, a new
#    tracer starts, the killed trace reads up to its last whole chunk;
# 5. the disk fills (2 MB tmpfs): one error line, non-zero exit, the
#    earlier chunks read back;
# 6. without CAP_BPF/CAP_PERFMON/CAP_SYS_ADMIN: one line naming them; with
#    RLIMIT_MEMLOCK 0 and no CAP_SYS_RESOURCE, record works with no warning.
. "$(dirname "$0")/lib.sh"
FG="$PY $XT_ROOT/tests/faultgen.py"
BO="$PY $XT_ROOT/tests/bpfobjs.py"
export PYTHONDONTWRITEBYTECODE=1
MNT=

cleanup_all() {
	[ -n "$MNT" ] && umount "$MNT" 2>/dev/null
	t_cleanup
}
trap cleanup_all EXIT

# t_st $? DESC: pass or fail DESC by the status of the command just run.
t_st() { if [ "$1" -eq 0 ]; then t_pass "$2"; else t_fail "$2"; fi; }
one_line() { [ "$(awk 'END { print NR }' "$1")" -eq 1 ] && grep -q . "$1"; }
port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# jq_py FILE EXPR: print EXPR over the JSON in FILE (as r).
jq_py() { $PY -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# start_record FILE ARGS...: record in the background into FILE; sets REC.
start_record() {
	local f=$1 i
	shift
	"$XT" record -o "$f" "$@" 2>"$f.err" &
	REC=$!
	t_track "$REC"
	for ((i = 0; i < 300; i++)); do
		grep -q "recording to" "$f.err" 2>/dev/null && return 0
		kill -0 "$REC" 2>/dev/null || break
		sleep 0.1
	done
	t_fail "record $f did not start: $(tr '\n' '|' <"$f.err")"
	return 1
}
stop_record() {
	kill -INT "$REC" 2>/dev/null
	wait "$REC"
}
# live_sockets TRUTH: TCP sockets (not TIME-WAIT) on the workload's ports.
live_sockets() {
	local ports
	ports=$(jq_py "$1" '" ".join(map(str, r["ports"]))')
	ss -tanH 2>/dev/null | $PY -c '
import sys
ports = set(sys.argv[1:])
n = 0
for l in sys.stdin:
    f = l.split()
    if len(f) < 5 or f[0] == "TIME-WAIT":
        continue
    if f[3].rsplit(":", 1)[-1] in ports or f[4].rsplit(":", 1)[-1] in ports:
        n += 1
print(n)' $ports
}
# whole_chunks FILE: "N END SIZE": whole chunks (magic, length in the
# file), the offset where they end, the file size.
whole_chunks() {
	$PY - "$1" <<'EOP'
import struct, sys
b = open(sys.argv[1], "rb").read()
off = 24 + struct.unpack_from("<I", b, 16)[0]
n = 0
while off + 16 <= len(b):
    magic, raw, zl, crc = struct.unpack_from("<IIII", b, off)
    if magic != 0x4b435458 or off + 16 + zl > len(b):
        break
    off += 16 + zl
    n += 1
print(n, off, len(b))
EOP
}
# wait_file FILE SECONDS
wait_file() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		[ -s "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

t_need_tracer

# --- 1. a worker SIGKILLed mid-transfer ---
P=$(port)
L=$(port)
start_record "$T_TMP/kill.xft" --interval 100 || t_finish
$FG sink "$P" "$T_TMP/sink.json" &
t_track $!
sleep 0.3
"$XT" top --json -d 0.3 >"$T_TMP/top.json" 2>"$T_TMP/top.err" &
TOP=$!
t_track "$TOP"
coproc SRC { exec $FG source "$P" "$L" 8; }
SRCPID=$SRC_PID
t_track "$SRCPID"
read -r -t 20 _ _ <&"${SRC[0]}"
sleep 1.5
read -r _ during _ < <($BO entries "$REC" conns "$SRCPID")
kill -9 "$SRCPID"
wait "$SRCPID" 2>/dev/null
wait_file "$T_TMP/sink.json" 30
sleep 1.5
read -r _ after max < <($BO entries "$REC" conns "$SRCPID")
[ "${during:-0}" -ge 8 ] && [ "${after:-1}" -eq 0 ]
t_st $? "SIGKILLed worker: its entries in record's conns map: $during while sending, $after after death"
kill -INT "$TOP"
wait "$TOP"
stop_record
"$XT" report --format json "$T_TMP/kill.xft" >"$T_TMP/kill.json" 2>/dev/null
truth=$(jq_py "$T_TMP/sink.json" 'r["rx_bytes"]')
got=$(jq_py "$T_TMP/kill.json" '[(f["tx_bytes"], f["rx_bytes"]) for f in r["flows"] if f["src"] == "tcp://127.0.0.1:'"$L"'" and f["dst"] == "tcp://127.0.0.1:'"$P"'"]')
t_check "SIGKILLed worker: flow tcp://127.0.0.1:$L -> :$P (tx, rx) = $got, receiver got $truth" \
	[ "$got" = "[($truth, $truth)]" ]
t_check "SIGKILLed worker: its main thread is marked exited in the report" \
	[ "$(jq_py "$T_TMP/kill.json" '[t["exited"] for w in r["workers"] if w["pid"] == '"$SRCPID"' for t in w["threads"] if t["tid"] == '"$SRCPID"']')" = "[True]" ]
gone=$($PY - "$T_TMP/top.json" "$SRCPID" <<'EOP'
import json, sys
seen = []
for line in open(sys.argv[1]):
    f = json.loads(line)
    for r in f["rows"]:
        if r["pid"] == int(sys.argv[2]):
            seen.append("%s%s" % (r["endpoint"], " gone" if r["gone"] else ""))
print(" -> ".join(dict.fromkeys(seen)))
EOP
)
t_check "SIGKILLed worker: top shows its endpoint, then gone: $gone" \
	[ "$gone" = "tcp://127.0.0.1:$L -> tcp://127.0.0.1:$L gone" ]

# --- 2. port and pid reuse ---
P=$(port)
start_record "$T_TMP/reuse.xft" --interval 50 || t_finish
$FG reuse "$P" >"$T_TMP/reuse.truth"
sleep 0.3
stop_record
"$XT" report --format json "$T_TMP/reuse.xft" >"$T_TMP/reuse.json" 2>/dev/null
$PY - "$T_TMP/reuse.truth" "$T_TMP/reuse.json" "$P" <<'EOP' >"$T_TMP/lines.out"
import json, sys
truth = json.load(open(sys.argv[1]))
rep = json.load(open(sys.argv[2]))
ep = "tcp://127.0.0.1:" + sys.argv[3]
same = truth[0]["pid"] == truth[1]["pid"]
ws = [w for w in rep["workers"] if ep in w["endpoints"] or w["endpoint"] == ep]
got = sorted((w["pid"], w["rx_bytes"]) for w in ws)
want = sorted((t["pid"], t["rx_bytes"]) for t in truth)
print("%s - %s reused%s: two identities with their own bytes: report %s, truth %s"
      % ("ok" if got == want and len(ws) == 2 else "FAIL", ep,
         " by the same pid %d" % truth[0]["pid"] if same else " (pid differed)",
         got, want))
EOP
t_lines <"$T_TMP/lines.out"

# --- 3. 20,000 connections and 5,000 threads ---
# Each of G server and G client processes holds n/G sockets: keep that
# under RLIMIT_NOFILE (raised to its hard limit; no CAP_SYS_RESOURCE here).
ulimit -n "$(ulimit -Hn)" 2>/dev/null
NOFILE=$(ulimit -n)
[ "$NOFILE" = unlimited ] && NOFILE=1048576
groups_for() { echo $(( ($1 + NOFILE - 200) / (NOFILE - 200) > 4 ? ($1 + NOFILE - 200) / (NOFILE - 200) : 4 )); }
scale() {
	local tag=$1 n=$2
	shift 2
	start_record "$T_TMP/$tag.xft" --interval 100 "$@" || return
	# top beside it (default map sizes), with its own maps: it must count
	# its own drops too.
	local top=
	if [ "$tag" = scale-16k ]; then
		"$XT" top --json -d 1 >"$T_TMP/$tag.top" 2>/dev/null &
		top=$!
		t_track "$top"
		sleep 2
	fi
	FAULTGEN_HOLD=2 $FG conns "$n" "$(groups_for "$n")" >"$T_TMP/$tag.truth" &
	local fg=$! i
	for ((i = 0; i < 600; i++)); do
		[ -s "$T_TMP/$tag.truth" ] && break
		sleep 0.1
	done
	sleep 0.5
	local pids
	pids=$(jq_py "$T_TMP/$tag.truth" '" ".join(map(str, r["servers"] + r["clients"]))')
	read -r total mine max < <($BO entries "$REC" conns $pids)
	local topmax=0
	[ -n "$top" ] && read -r _ _ topmax < <($BO entries "$top" conns)
	read -r memlock nmaps < <($BO memlock "$REC")
	wait "$fg"
	$FG threads 5000 >"$T_TMP/$tag.threads"
	# Closed sockets leave the map through the ring buffer, or a later
	# lookup-and-delete when the ring was full. A socket the kernel still
	# has (a FIN retransmitted after a drop on a loaded loopback, say)
	# keeps its entry: count those from ss as the ground truth.
	local t0=$SECONDS left=-1 live=0
	while [ $((SECONDS - t0)) -lt 20 ]; do
		read -r _ left _ < <($BO entries "$REC" conns $pids)
		live=$(live_sockets "$T_TMP/$tag.truth")
		[ "$left" -le "$live" ] && break
		sleep 0.5
	done
	local thpid
	thpid=$(jq_py "$T_TMP/$tag.threads" 'r["pid"]')
	read -r _ thleft thmax < <($BO entries "$REC" threads "$thpid")
	local rss misses
	rss=$(awk '/VmHWM/ { print $2 }' "/proc/$REC/status")
	misses=$($BO misses "$REC")
	stop_record
	local topdrops=
	if [ -n "$top" ]; then
		kill -INT "$top"
		wait "$top"
		topdrops=$(tail -n 1 "$T_TMP/$tag.top" | $PY -c 'import json,sys; d=json.load(sys.stdin)["drops"]; print(d["conn_map_full"], d["conn_map_full_bytes"], d["prog_misses"])')
	fi
	echo "     $tag: conns map $total of $max entries with $n connections open ($mine theirs); $nmaps maps, bytes_memlock $((memlock / 1024)) KiB; record peak RSS $((rss / 1024)) MiB; map emptied of them within $((SECONDS - t0)) s; program runs the kernel skipped (recursion_misses): $misses"
	"$XT" report --format json "$T_TMP/$tag.xft" >"$T_TMP/$tag.json" 2>/dev/null
	local pm
	pm=$(jq_py "$T_TMP/$tag.json" 'r["drops"]["prog_misses"]')
	# An entry stays only when its close was never seen, and each such
	# close is a counted prog_misses (a state change nested in another).
	[ "$total" -le "$max" ] && [ "$left" -le $((live + pm)) ]
	t_st $? "$tag: conns map within max_entries ($total <= $max); after the workload closed its sockets, $left entries left for $live sockets the kernel still has (+ prog_misses $pm)"
	t_check "$tag: threads map emptied of the 5000 threads' process after it exited ($thleft left)" \
		[ "$thleft" -eq 0 ]
	if [ -n "$top" ]; then
		read -r tfull tbytes tmiss <<<"$topdrops"
		# top sizes its map itself: 2 sockets per connection beyond it are drops.
		if [ $((2 * n)) -gt "${topmax:-0}" ]; then
			[ "${tfull:-0}" -gt 0 ] && [ "${tbytes:-0}" -gt 0 ]
		else
			[ -n "$tfull" ]
		fi
		t_st $? "$tag: top (conns map of $topmax) counts its own drops in its last frame: conn_map_full $tfull ($tbytes B), prog_misses $tmiss"
	fi
	$PY - "$T_TMP/$tag.truth" "$T_TMP/$tag.threads" "$T_TMP/$tag.json" "$tag" <<'EOP' >"$T_TMP/lines.out"
import json, sys
truth = json.load(open(sys.argv[1]))
th = json.load(open(sys.argv[2]))
r = json.load(open(sys.argv[3]))
tag = sys.argv[4]
t, d = r["totals"], r["drops"]
ws = {w["pid"]: w for w in r["workers"]}
B = truth["bytes"]
tx = sum(ws.get(p, {}).get("tx_bytes", 0) for p in truth["clients"])
rx = sum(ws.get(p, {}).get("rx_bytes", 0) for p in truth["servers"])
lhs = t["tx_bytes"] + t["rx_bytes"] + d["conn_map_full_bytes"]
rhs = t["kernel_tx_bytes"] + t["kernel_rx_bytes"]
def out(ok, msg):
    print("%s - %s: %s" % ("ok" if ok else "FAIL", tag, msg))
# Exact, or a skipped close (prog_misses) flags that a socket's bytes
# may have been misplaced (see the closing note of issue 11).
out(lhs == rhs or d["prog_misses"] > 0,
    "conservation: flows tx+rx + conn_map_full_bytes %d vs kernel tx+rx %d: diff %d (other traffic on the node: %d B; ringbuf_full %d, prog_misses %d)"
    % (lhs, rhs, lhs - rhs, rhs - 2 * B, d["ringbuf_full"], d["prog_misses"]))
missing = (B - tx) + (B - rx)
out(tx <= B and rx <= B and missing <= d["conn_map_full_bytes"],
    "workload sent %d B on %d connections; report has %d B sent, %d B received; the %d B missing are within conn_map_full_bytes %d (conn_map_full %d events)"
    % (B, truth["conns"], tx, rx, missing, d["conn_map_full_bytes"], d["conn_map_full"]))
if d["conn_map_full"] == 0:
    out(tx == B and rx == B, "no map drops, so every byte is in the report (%d, %d of %d)" % (tx, rx, B))
w = ws.get(th["pid"])
n = len(w["threads"]) if w else 0
ex = sum(1 for x in w["threads"] if x["exited"]) if w else 0
out(w is not None and n == th["threads"] + 1 and ex >= th["threads"] and d["thread_map_full"] == 0,
    "%d threads started: report has %d threads (%d exited) for pid %d, thread_map_full %d"
    % (th["threads"], n, ex, th["pid"], d["thread_map_full"]))
EOP
	t_lines <"$T_TMP/lines.out"
}
scale scale-16k 20000 --max-conns 16384
scale scale-64k 20000 --max-conns 65536

# --- 3b. connections still open when record stops: each byte in the trace ---
# (a harvest iterator record that does not fit the kernel's buffer is shown
# again; its "changed" mark must survive that, or idle open connections
# lose their last bytes).
start_record "$T_TMP/open.xft" --interval 100 --max-conns 65536 || t_finish
FAULTGEN_HOLD=6 $FG conns 10000 "$(groups_for 10000)" >"$T_TMP/open.truth" &
FGP=$!
t_track "$FGP"
wait_file "$T_TMP/open.truth" 60
sleep 1.5
stop_record
"$XT" report --format json "$T_TMP/open.xft" >"$T_TMP/open.json" 2>/dev/null
wait "$FGP"
$PY - "$T_TMP/open.truth" "$T_TMP/open.json" <<'EOP' >"$T_TMP/lines.out"
import json, sys
truth = json.load(open(sys.argv[1]))
r = json.load(open(sys.argv[2]))
ws = {w["pid"]: w for w in r["workers"]}
B = truth["bytes"]
tx = sum(ws.get(p, {}).get("tx_bytes", 0) for p in truth["clients"])
rx = sum(ws.get(p, {}).get("rx_bytes", 0) for p in truth["servers"])
d = r["drops"]
print("%s - %d connections still open at the end: %d B sent, %d B received in the report, workload %d B (conn_map_full %d)"
      % ("ok" if tx == B and rx == B else "FAIL", truth["conns"], tx, rx, B, d["conn_map_full"]))
EOP
t_lines <"$T_TMP/lines.out"

# --- 4. record SIGKILLed ---
start_record "$T_TMP/killed.xft" --interval 50 || t_finish
$FG threads 3000 >/dev/null
sleep 2.2
read -r ids < <($BO ids "$REC")
kill -9 "$REC"
wait "$REC" 2>/dev/null
sleep 0.5
left=$(for k in prog map link; do
	$BO alive "$k" $($PY -c 'import json,sys; print(" ".join(map(str, json.loads(sys.argv[1])[sys.argv[2]])))' "$ids" "$k") | sed "s/^/$k /"
done)
t_check "record SIGKILLed: none of its $(echo "$ids" | tr -d '"{}[]') left ($left)" [ -z "$left" ]
"$XT" record -o "$T_TMP/after.xft" --duration 0.5 2>"$T_TMP/after.err"
rc=$?
[ "$rc" -eq 0 ] && "$XT" report "$T_TMP/after.xft" >/dev/null 2>&1
t_st $? "a new tracer starts cleanly after the kill (exit $rc, $(tr '\n' '|' <"$T_TMP/after.err"))"
whole=$(whole_chunks "$T_TMP/killed.xft")
read -r nwhole wend size <<<"$whole"
"$XT" report --format json "$T_TMP/killed.xft" >"$T_TMP/killed.json" 2>"$T_TMP/killed.rep"
rc=$?
got=$(jq_py "$T_TMP/killed.json" '(r["trace"]["chunks"], r["trace"]["truncated_at"] if r["trace"]["truncated"] else '"$size"')')
[ "$rc" -eq 0 ] && [ "$nwhole" -ge 1 ] && [ "$got" = "($nwhole, $wend)" ]
t_st $? "killed trace ($size bytes) reads up to its last whole chunk: report exit $rc, (chunks, end) $got, file has $nwhole whole chunks ending at $wend"
t_check "killed trace: no temporary file left beside it ($(ls -A "$T_TMP" | grep -c '\.tmp$'))" \
	[ "$(ls -A "$T_TMP" | grep -c '\.tmp$')" -eq 0 ]

# --- 5. the disk fills ---
MNT=$T_TMP/mnt
mkdir "$MNT"
if mount -t tmpfs -o size=2m xfertrace-safety "$MNT"; then
	dd if=/dev/zero of="$MNT/filler" bs=1k count=1900 status=none 2>/dev/null
	# A quiet second first (a small chunk lands), then a burst fills the disk.
	"$XT" record -o "$MNT/full.xft" --interval 50 -- \
		bash -c 'sleep 1.5; exec "$@"' _ $FG conns 6000 "$(groups_for 6000)" >/dev/null 2>"$T_TMP/full.err"
	rc=$?
	[ "$rc" -ne 0 ] && [ "$(grep -vc 'recording to' "$T_TMP/full.err")" -eq 1 ] &&
		grep -q "No space left on device" "$T_TMP/full.err"
	t_st $? "disk full: exit $rc, one error line: $(grep -v 'recording to' "$T_TMP/full.err" | tr '\n' '|')"
	"$XT" report --format json "$MNT/full.xft" >"$T_TMP/full.json" 2>"$T_TMP/full.rep"
	rc=$?
	read -r nwhole wend size < <(whole_chunks "$MNT/full.xft")
	got=$(jq_py "$T_TMP/full.json" 'r["trace"]["chunks"]')
	[ "$rc" -eq 0 ] && [ "$nwhole" -ge 1 ] && [ "$got" = "$nwhole" ]
	t_st $? "disk full: the trace reads (exit $rc), $got chunks reported, the file has $nwhole whole chunks ($wend of $size bytes): $(tr '\n' '|' <"$T_TMP/full.rep")"
	umount "$MNT" && MNT=
else
	t_fail "cannot mount a tmpfs for the disk-full test"
fi

# --- 6. privileges ---
capsh --drop=cap_bpf,cap_perfmon,cap_sys_admin -- -c \
	"exec '$XT' record -o '$T_TMP/nocap.xft' -- true" >/dev/null 2>"$T_TMP/nocap.err"
rc=$?
[ "$rc" -ne 0 ] && one_line "$T_TMP/nocap.err" && grep -q "CAP_BPF and CAP_PERFMON" "$T_TMP/nocap.err"
t_st $? "no CAP_BPF/CAP_PERFMON/CAP_SYS_ADMIN: exit $rc, one line naming both: $(cat "$T_TMP/nocap.err")"
capsh --drop=cap_perfmon,cap_sys_admin -- -c \
	"exec '$XT' record -o '$T_TMP/nocap.xft' -- true" >/dev/null 2>"$T_TMP/noperf.err"
one_line "$T_TMP/noperf.err" && grep -q "CAP_PERFMON is missing" "$T_TMP/noperf.err"
t_st $? "no CAP_PERFMON/CAP_SYS_ADMIN: one line naming CAP_PERFMON only: $(cat "$T_TMP/noperf.err")"
t_check "the nocap trace was never created" [ ! -e "$T_TMP/nocap.xft" ]
capres=$(( (0x$(awk '/CapEff/ { print $2 }' /proc/self/status) >> 24) & 1 ))
prlimit --memlock=0:0 "$XT" record -o "$T_TMP/memlock.xft" --duration 0.3 2>"$T_TMP/memlock.err"
rc=$?
[ "$rc" -eq 0 ] && one_line "$T_TMP/memlock.err" && grep -q "recording to" "$T_TMP/memlock.err"
t_st $? "RLIMIT_MEMLOCK 0 (CAP_SYS_RESOURCE held: $capres): record exits $rc with only its start line: $(tr '\n' '|' <"$T_TMP/memlock.err")"
t_finish
