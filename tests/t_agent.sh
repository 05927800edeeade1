#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# The agent with the real parts: a loopback stream of known size between
# two processes in synthetic pod cgroups (v2 systemd/containerd shape and
# v1 cgroupfs shape); a real Prometheus scrapes /metrics and the byte
# counters it stored must equal the stream's bytes; promtool checks the
# exposition; pod labels; /summary; HTTP edge cases (404, 405, 413, an
# idle client); CapEff after attaching; SIGTERM leaves readable traces.
# Then the agent as the pod runs it (capsh with the manifest's
# capabilities, /sys read-only): rotation under a total cap, and SIGKILL
# leaves nothing attached. Then a full disk. Keep files with T_KEEP=1.
. "$(dirname "$0")/lib.sh"
t_need_tracer
STREAM=$XT_ROOT/tests/agent_stream.py
N=23456789
POD_UID=4f1e2d3c-b5a6-4978-8a9b-0c1d2e3f4a5b
CID=$(printf 'agent%.0s' 1 2 3 4 5 6 7 8 9 10 11 12 13 | sha256sum | cut -c1-64)
CG2=/sys/fs/cgroup/unified
[ -d "$CG2" ] || CG2=/sys/fs/cgroup
SRV_CG=$CG2/kubepods.slice/kubepods-pod${POD_UID//-/_}.slice/cri-containerd-$CID.scope
CLI_CG=
if [ -d /sys/fs/cgroup/pids ]; then	# a v1 hierarchy: the cgroupfs shape
	CLI_CG=/sys/fs/cgroup/pids/kubepods/besteffort/pod$POD_UID/$CID
fi

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http_code() { curl -s -o /dev/null -m 5 -w '%{http_code}' "$@"; }
cleanup_cgroups() {
	local d
	for d in "$SRV_CG" "${SRV_CG%/*}" "${SRV_CG%/*/*}" ${CLI_CG:+"$CLI_CG" "${CLI_CG%/*}" "${CLI_CG%/*/*}" "${CLI_CG%/*/*/*}"}; do
		[ -d "$d" ] && rmdir "$d" 2>/dev/null
	done
}
trap 'cleanup_cgroups; t_cleanup' EXIT
# wait_http URL CODE SECONDS
wait_http() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		[ "$(http_code "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
# metric NAME LABEL-MATCH: the value of the first matching series, else empty
metric() { curl -s -m 5 "http://$AADDR/metrics" | grep "^$1{" | grep -F -- "$2" | head -n 1 | awk '{print $NF}'; }

mkdir -p "$SRV_CG" ${CLI_CG:+"$CLI_CG"} || { t_fail "cannot make synthetic pod cgroups"; t_finish; }

# ---- 1. the agent, a stream, Prometheus ----
APORT=$(free_port); AADDR=127.0.0.1:$APORT
"$XT" agent --listen "$AADDR" --dir "$T_TMP/traces" --interval 500 --node agent-node-1 \
	--marks-socket "$T_TMP/marks.sock" \
	>"$T_TMP/agent.out" 2>"$T_TMP/agent.err" &
APID=$!; t_track $APID
if ! wait_http "http://$AADDR/healthz" 200 60; then
	t_fail "agent: /healthz never 200: $(tail -n 2 "$T_TMP/agent.err" | tr '\n' ' ')"
	t_finish
fi
t_pass "agent: /healthz 200 once attached"
capeff=$(awk '/^CapEff/ {print $2}' /proc/$APID/status)
if [ "$capeff" = "0000000000080004" ]; then
	t_pass "agent: CapEff after attaching is cap_dac_read_search,cap_sys_ptrace only ($capeff)"
else
	t_fail "agent: CapEff after attaching is $capeff, want 0000000000080004"
fi

SPORT=$(free_port)
HOSTNAME=agent-pod-recv POD_NAMESPACE=agent-ns $PY "$STREAM" $N "$SPORT" \
	--server-cgroup "$SRV_CG" ${CLI_CG:+--client-cgroup "$CLI_CG"} \
	--client-env HOSTNAME=agent-pod-send >"$T_TMP/stream.out" 2>&1
read -r _ got cpid <"$T_TMP/stream.out"
if [ "$got" = "$N" ]; then t_pass "stream: $N bytes received"; else t_fail "stream: received '$got' of $N: $(cat "$T_TMP/stream.out")"; fi
DST="tcp://127.0.0.1:$SPORT"
for ((i = 0; i < 40; i++)); do
	v=$(metric xfertrace_pair_received_bytes_total "dst=\"$DST\"")
	[ "$v" = "$N" ] && break
	sleep 0.25
done
sent=$(metric xfertrace_pair_sent_bytes_total "dst=\"$DST\"")
[ "$sent" = "$N" ] && [ "$v" = "$N" ] && t_pass "/metrics: pair sent and received bytes = $N" ||
	t_fail "/metrics: pair sent '$sent' received '$v', want $N"
T_DONE=$(date +%s)

curl -s -m 5 "http://$AADDR/metrics" >"$T_TMP/metrics.txt"
if promtool check metrics <"$T_TMP/metrics.txt" >"$T_TMP/promtool.out" 2>&1; then
	t_pass "promtool check metrics passes on /metrics ($(grep -c '^[a-z]' "$T_TMP/metrics.txt") samples)"
else
	t_fail "promtool check metrics: $(head -n 3 "$T_TMP/promtool.out" | tr '\n' ' ')"
fi
for h in HELP TYPE; do
	n_fam=$(grep -c "^# $h " "$T_TMP/metrics.txt")
	[ "$n_fam" -ge 30 ] && t_pass "/metrics: $n_fam $h lines" || t_fail "/metrics: only $n_fam $h lines"
done
for c in xfertrace_kernel_conn_map_full_total xfertrace_kernel_ringbuf_full_total \
	xfertrace_kernel_thread_map_full_total xfertrace_user_marks_rejected_total \
	xfertrace_user_harvest_overruns_total xfertrace_agent_cpu_seconds_total \
	xfertrace_agent_resident_memory_bytes xfertrace_agent_series_folded; do
	grep -q "^$c{node=\"agent-node-1\"} [0-9]" "$T_TMP/metrics.txt" && t_pass "/metrics has $c" || t_fail "/metrics lacks $c"
done
# Pod identity of the receiver: v2 systemd containerd shape plus environ.
line=$(grep "^xfertrace_endpoint_received_bytes_total{.*endpoint=\"$DST\"" "$T_TMP/metrics.txt")
want="pod=\"agent-pod-recv\",namespace=\"agent-ns\",container=\"${CID:0:12}\""
case $line in
*"$want"*" $N") t_pass "receiver labels from cgroup v2 + environ: $want, bytes $N" ;;
*) t_fail "receiver series '$line' lacks $want or $N bytes" ;;
esac
if [ -n "$CLI_CG" ]; then
	line=$(grep "^xfertrace_endpoint_sent_bytes_total{.*pod=\"agent-pod-send\"" "$T_TMP/metrics.txt")
	case $line in
	*"container=\"${CID:0:12}\""*" $N") t_pass "sender labels from a v1 cgroupfs path: pod agent-pod-send, bytes $N" ;;
	*) t_fail "sender series with pod=agent-pod-send: '$line'" ;;
	esac
fi

# Marks on the same socket as record: one good line, one rejected.
$PY -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"TRIAL_BEGIN param_id=abc12345", sys.argv[1])
s.sendto(b"bad\0mark", sys.argv[1])' "$T_TMP/marks.sock"
for ((i = 0; i < 20; i++)); do
	[ "$(metric xfertrace_user_marks_received_total node)" = 1 ] && break
	sleep 0.25
done
[ "$(metric xfertrace_user_marks_received_total node)" = 1 ] && [ "$(metric xfertrace_user_marks_rejected_total node)" = 1 ] &&
	t_pass "marks socket: 1 mark received, 1 rejected and counted" ||
	t_fail "marks: received '$(metric xfertrace_user_marks_received_total node)' rejected '$(metric xfertrace_user_marks_rejected_total node)'"

# A real Prometheus scrapes the agent.
PPORT=$(free_port)
cat >"$T_TMP/prom.yml" <<EOC
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: xfertrace
    static_configs:
      - targets: ['$AADDR']
EOC
prometheus --config.file="$T_TMP/prom.yml" --storage.tsdb.path="$T_TMP/tsdb" \
	--web.listen-address="127.0.0.1:$PPORT" >"$T_TMP/prom.log" 2>&1 &
t_track $!
if ! wait_http "http://127.0.0.1:$PPORT/-/ready" 200 60; then
	t_fail "prometheus never ready: $(tail -n 2 "$T_TMP/prom.log" | tr '\n' ' ')"
else
	q() { curl -s -m 5 -G "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$1" |
		$PY -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'; }
	for ((i = 0; i < 120; i++)); do
		secs=$(($(date +%s) - T_DONE + 1))
		n=$(q "count_over_time(up{job=\"xfertrace\"}[${secs}s])")
		[ "${n:-0}" -ge 2 ] && break
		sleep 0.5
	done
	[ "${n:-0}" -ge 2 ] && t_pass "prometheus scraped the agent $n times after the stream" ||
		t_fail "prometheus scrapes after the stream: '${n}'"
	for m in xfertrace_pair_sent_bytes_total xfertrace_pair_received_bytes_total; do
		pv=$(q "$m{dst=\"$DST\"}")
		[ "$pv" = "$N" ] && t_pass "prometheus stored $m = $N exactly" || t_fail "prometheus stored $m = '$pv', want $N"
	done
	pv=$(q "xfertrace_endpoint_received_bytes_total{endpoint=\"$DST\",pod=\"agent-pod-recv\"}")
	[ "$pv" = "$N" ] && t_pass "prometheus stored the receiver's endpoint bytes with its pod label = $N" ||
		t_fail "prometheus endpoint received bytes '$pv', want $N"
fi

# /summary: report's JSON over the trace files of the last minutes.
curl -s -m 20 "http://$AADDR/summary?minutes=5" >"$T_TMP/summary.json"
$PY - "$T_TMP/summary.json" "$DST" "$N" >"$T_TMP/summary.chk" 2>&1 <<'EOP' 
import json, sys
r = json.load(open(sys.argv[1]))
ok = r.get("schema") == "xfertrace.report/1"
print(("ok" if ok else "FAIL"), "- /summary schema is xfertrace.report/1" + ("" if ok else f": {r.get('schema')}"))
f = [f for f in r.get("flows", []) if f["dst"] == sys.argv[2]]
ok = len(f) == 1 and f[0]["tx_bytes"] == int(sys.argv[3]) == f[0]["rx_bytes"]
print(("ok" if ok else "FAIL"), f"- /summary flow to {sys.argv[2]}: tx and rx = {sys.argv[3]}" + ("" if ok else f": {f}"))
EOP
t_lines <"$T_TMP/summary.chk"
grep -q '^ok' "$T_TMP/summary.chk" || t_fail "/summary checker: $(tail -n 1 "$T_TMP/summary.chk")"
[ "$(http_code "http://$AADDR/summary?minutes=abc")" = 400 ] && t_pass "/summary?minutes=abc: 400" || t_fail "/summary?minutes=abc not 400"

# HTTP edge cases.
[ "$(http_code "http://$AADDR/nope")" = 404 ] && t_pass "unknown path: 404" || t_fail "unknown path not 404"
[ "$(http_code -X POST -d x=1 "http://$AADDR/metrics")" = 405 ] && t_pass "POST: 405" || t_fail "POST not 405"
[ "$(http_code -X DELETE "http://$AADDR/healthz")" = 405 ] && t_pass "DELETE: 405" || t_fail "DELETE not 405"
head -c 200000 /dev/zero >"$T_TMP/big"
[ "$(http_code -X GET --data-binary @"$T_TMP/big" "http://$AADDR/metrics")" = 413 ] && t_pass "200 kB request body: 413" || t_fail "big body not 413"
c=$($PY -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n")
print(s.recv(64).split()[1].decode())' "$APORT" 2>&1)
case $c in 413 | 431) t_pass "40 kB of headers: $c" ;; *) t_fail "40 kB of headers: '$c'" ;; esac
# Idle clients (connected, half a request, then silence) do not block others.
for k in 1 2 3; do
	$PY -c 'import socket,sys,time; s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); s.send(b"GET /metr"); time.sleep(30)' "$APORT" &
	t_track $!
done
sleep 0.5
[ "$(http_code "http://$AADDR/healthz")" = 200 ] && t_pass "three idle clients: /healthz still served" || t_fail "idle clients block the server"

# SIGTERM: a clean exit, readable trace files holding the stream.
kill -TERM $APID
wait_gone $APID 30
wait $APID; rc=$?
[ "$rc" = 0 ] && t_pass "SIGTERM: agent exits 0" || t_fail "SIGTERM: exit $rc: $(tail -n 2 "$T_TMP/agent.err" | tr '\n' ' ')"
"$XT" report --format json --merge "$T_TMP/traces" >"$T_TMP/final.json" 2>"$T_TMP/final.err"
if grep -q truncated "$T_TMP/final.err"; then t_fail "trace after SIGTERM truncated: $(cat "$T_TMP/final.err")"; else t_pass "trace after SIGTERM: whole"; fi
t_lines < <($PY -c '
import json, sys
r = json.load(open(sys.argv[1])); n = int(sys.argv[3])
f = [f for f in r["flows"] if f["dst"] == sys.argv[2]]
print(("ok" if f and f[0]["tx_bytes"] == n == f[0]["rx_bytes"] else "FAIL"), "- report --merge over the trace files: the stream tx and rx =", n, f)
' "$T_TMP/final.json" "$DST" $N 2>&1)

# Clocks: the same trace as if from a node whose wall clock runs 60 s
# ahead (header mono_to_wall_ns + 60 s, another run). Merged, its records
# move 60 s later: the span grows by exactly 60 s, the bytes count twice.
f1=$(ls "$T_TMP/traces/"*.xft | head -n 1)
$PY - "$f1" "$T_TMP/shifted.xft" <<'EOP'
import json, struct, sys, zlib
b = open(sys.argv[1], "rb").read()
magic, ver, bo, jl, jc = struct.unpack("<8sIIII", b[:24])
h = json.loads(b[24:24 + jl])
h["mono_to_wall_ns"] += 60 * 10**9
h["agent"]["run"] += "-shifted"
j = json.dumps(h, separators=(",", ":"), sort_keys=True).encode()
open(sys.argv[2], "wb").write(struct.pack("<8sIIII", magic, ver, bo, len(j), zlib.crc32(j)) + j + b[24 + jl:])
EOP
"$XT" report --format json "$f1" >"$T_TMP/one.json" 2>/dev/null
"$XT" report --format json "$f1" "$T_TMP/shifted.xft" >"$T_TMP/two.json" 2>"$T_TMP/two.err"
t_lines < <($PY -c '
import json, sys
a, b, dst, n = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3], int(sys.argv[4])
da, db = a["trace"]["duration_ns"], b["trace"]["duration_ns"]
print("ok" if db == da + 60 * 10**9 else "FAIL", f"- merged with a copy 60 s ahead: span {da} -> {db} ns (+60 s exactly)")
f = [x for x in b["flows"] if x["dst"] == dst]
print("ok" if f and f[0]["tx_bytes"] == 2 * n == f[0]["rx_bytes"] else "FAIL", f"- two runs of the same stream: tx and rx {2 * n}", f[:1])
' "$T_TMP/one.json" "$T_TMP/two.json" "$DST" $N 2>&1)

# ---- 2. as the pod runs it: the manifest's capabilities, /sys read-only ----
# Exactly the capabilities deploy/xfertrace-agent.yaml adds (it drops ALL).
POD_CAPS=$($PY -c '
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d.get("kind") == "DaemonSet":
        c = d["spec"]["template"]["spec"]["containers"][0]
        print(",".join("cap_" + x.lower() for x in c["securityContext"]["capabilities"]["add"]))
' "$XT_ROOT/deploy/xfertrace-agent.yaml")
[ -n "$POD_CAPS" ] || t_fail "cannot read the capabilities from deploy/xfertrace-agent.yaml"
all_caps=$(capsh --print | sed -n 's/^Bounding set =//p' | tr ',' '\n')
drop=$(echo "$all_caps" | grep -v -x -E "$(echo "$POD_CAPS" | tr ',' '|')" | paste -sd,)
APORT2=$(free_port); AADDR=127.0.0.1:$APORT2
cat >"$T_TMP/pod.sh" <<EOS
set -e
mount --make-rprivate /
for m in \$(findmnt -R -n -l -o TARGET /sys | sort); do mount -o remount,bind,ro "\$m"; done
exec capsh --drop=$drop -- -c 'exec "\$0" "\$@"' "$XT" agent --listen "$AADDR" --dir "$T_TMP/pod" \
	--interval 500 --max-file-s 1 --max-file-mb 1 --max-total-mb 1 --node agent-pod-node
EOS
unshare -m bash "$T_TMP/pod.sh" >"$T_TMP/pod.out" 2>"$T_TMP/pod.err" &
PPID2=$!; t_track $PPID2; disown $PPID2
if ! wait_http "http://$AADDR/healthz" 200 60; then
	t_fail "pod run: /healthz never 200: $(tail -n 3 "$T_TMP/pod.err" | tr '\n' ' ')"
else
	t_pass "pod run ($POD_CAPS, /sys read-only): attached, /healthz 200"
	APID2=$(pgrep -P $PPID2 -x xfertrace || echo $PPID2)
	grep -q ' /sys .*\bro\b' /proc/$APID2/mountinfo 2>/dev/null && t_pass "pod run: /sys is read-only in its mount namespace" ||
		t_fail "pod run: /sys not read-only: $(grep ' /sys ' /proc/$APID2/mountinfo)"
	SPORT2=$(free_port)
	$PY "$STREAM" 3000000 "$SPORT2" --delay 0.7 >"$T_TMP/stream2.out" 2>&1
	for ((i = 0; i < 80; i++)); do
		v=$(metric xfertrace_pair_received_bytes_total "dst=\"tcp://127.0.0.1:$SPORT2\"")
		[ "$v" = 3000000 ] && break
		sleep 0.25
	done
	[ "$v" = 3000000 ] && t_pass "pod run: records a 3000000-byte stream exactly" ||
		t_fail "pod run: stream bytes '$v' ($(cat "$T_TMP/stream2.out"); $(curl -s -m 5 "http://$AADDR/metrics" | grep -c "$SPORT2") series)"
	# Rotation every second under a 1 MiB cap: the oldest files go.
	for ((i = 0; i < 120; i++)); do
		rm_n=$(metric xfertrace_agent_trace_files_removed_total node)
		[ "${rm_n:-0}" -ge 1 ] && break
		sleep 0.5
	done
	[ "${rm_n:-0}" -ge 1 ] && t_pass "rotation: $rm_n oldest files removed under the 1 MiB cap" || t_fail "rotation: none removed"
	[ ! -e "$T_TMP/pod/"*-000001.xft ] && t_pass "rotation: the first file is gone" || t_fail "rotation: the first file is still there"
	bad=0; n=0
	for f in "$T_TMP/pod/"*.xft; do
		n=$((n + 1))
		"$XT" report "$f" >/dev/null 2>"$T_TMP/one.err" || bad=$((bad + 1))
	done
	[ $bad = 0 ] && [ $n -ge 2 ] && t_pass "rotation: each of the $n files reads on its own" || t_fail "rotation: $bad of $n files unreadable"
	# What it holds, from its fds (this bpftool build shows no owner pids).
	ids=$(for f in /proc/$APID2/fdinfo/*; do sed -n 's/^prog_id:[[:space:]]*//p' "$f" 2>/dev/null; done | sort -u)
	lids=$(for f in /proc/$APID2/fdinfo/*; do sed -n 's/^link_id:[[:space:]]*//p' "$f" 2>/dev/null; done | sort -u)
	[ -n "$ids" ] && [ -n "$lids" ] && bpftool prog show id ${ids%%$'\n'*} >/dev/null 2>&1 &&
		t_pass "SIGKILL: before, the agent holds $(echo $ids | wc -w) programs and $(echo $lids | wc -w) links (bpftool shows them)" ||
		t_fail "SIGKILL: no BPF programs or links held by pid $APID2"
	kill -KILL "$APID2"
	wait_gone "$APID2" 10
	for ((i = 0; i < 50; i++)); do
		left=""
		for id in $ids; do bpftool prog show id "$id" >/dev/null 2>&1 && left="$left prog$id"; done
		for id in $lids; do bpftool link show id "$id" >/dev/null 2>&1 && left="$left link$id"; done
		[ -z "$left" ] && break
		sleep 0.2
	done
	[ -n "$ids" ] && [ -z "$left" ] && t_pass "SIGKILL: none of its programs or links stays attached" || t_fail "SIGKILL: programs left:$left"
fi

# ---- 3. a full disk ----
mkdir -p "$T_TMP/full"
if mount -t tmpfs -o size=256k agenttmp "$T_TMP/full" 2>/dev/null; then
	APORT3=$(free_port); AADDR=127.0.0.1:$APORT3
	"$XT" agent --listen "$AADDR" --dir "$T_TMP/full" --interval 200 --max-file-s 1 \
		>"$T_TMP/full.out" 2>"$T_TMP/full.err" &
	FPID=$!; t_track $FPID
	for ((i = 0; i < 240; i++)); do
		grep -q "trace recording stopped" "$T_TMP/full.err" && break
		kill -0 $FPID 2>/dev/null || break
		sleep 0.5
	done
	n=$(grep -c "trace recording stopped" "$T_TMP/full.err")
	[ "$n" = 1 ] && t_pass "full disk: one log line: $(grep "recording stopped" "$T_TMP/full.err" | cut -c1-150)" ||
		t_fail "full disk: $n 'recording stopped' lines"
	sleep 1
	[ "$(http_code "http://$AADDR/healthz")" = 200 ] && [ "$(metric xfertrace_agent_recording node)" = 0 ] &&
		t_pass "full disk: still serving, recording gauge 0" || t_fail "full disk: not serving or still recording"
	bad=0; n=0
	for f in "$T_TMP/full/"*.xft; do
		n=$((n + 1))
		"$XT" report "$f" >/dev/null 2>"$T_TMP/one.err" && ! grep -q truncated "$T_TMP/one.err" || bad=$((bad + 1))
	done
	[ $bad = 0 ] && [ $n -ge 1 ] && t_pass "full disk: all $n files read whole" || t_fail "full disk: $bad of $n files unreadable or truncated"
	kill -TERM $FPID; wait_gone $FPID 30; wait $FPID
	[ $? = 0 ] && t_pass "full disk: SIGTERM exits 0" || t_fail "full disk: SIGTERM exit not 0"
	umount "$T_TMP/full"
else
	t_fail "cannot mount a small tmpfs for the full-disk case"
fi
t_finish
