#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Cluster-wide: three network namespaces on a bridge, each a "node" with
# its own address (agentns1..3, 10.232.0.11..13); a real Dask scheduler in
# agentns1 and one worker in each; one agent per namespace (--netns), and
# beside them one `record` of the whole machine. tests/dask/known_transfer.py
# moves arrays of known size between every pair of workers. Then `report`
# over the three agents' trace files: every cross-node worker flow shows
# the sender's tx (from one agent) and the receiver's rx (from another),
# within 0.5%, each agent saw only its own namespace, and the merged flows
# equal those of the whole-machine recording; tests/dask/check_dask.py
# checks the merged report against Dask's own logs. Keep files with T_KEEP=1.
. "$(dirname "$0")/lib.sh"
t_need_tracer
NS=(agentns1 agentns2 agentns3)
BR=agentbr0
NET=10.232.0

teardown() {
	local n i
	for n in "${NS[@]}"; do
		ip netns pids "$n" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$n" 2>/dev/null
	done
	for i in 1 2 3; do ip link del "agentv$i" 2>/dev/null; done
	ip link del "$BR" 2>/dev/null
	return 0
}
trap 't_cleanup; teardown' EXIT
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		[ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$1")" = 200 ] && return 0
		sleep 0.1
	done
	return 1
}

teardown
ip link add "$BR" type bridge stp_state 0 forward_delay 0 &&
	ip addr add "$NET.1/24" dev "$BR" && ip link set "$BR" up || { t_fail "cannot make bridge $BR"; t_finish; }
for i in 1 2 3; do
	n=${NS[i - 1]}
	ip netns add "$n" && ip -n "$n" link set lo up &&
		ip link add "agentv$i" type veth peer name eth0 netns "$n" &&
		ip -n "$n" addr add "$NET.1$i/24" dev eth0 && ip -n "$n" link set eth0 up &&
		ip link set "agentv$i" master "$BR" && ip link set "agentv$i" up ||
		{ t_fail "cannot make namespace $n"; t_finish; }
done
t_pass "three namespaces on $BR: $NET.11, $NET.12, $NET.13"

# One agent per namespace, and one whole-machine recording.
for i in 1 2 3; do
	P[i]=$(free_port)
	"$XT" agent --listen "127.0.0.1:${P[i]}" --dir "$T_TMP/node$i" --netns "/run/netns/${NS[i - 1]}" \
		--interval 500 --node "node$i" --max-conns 65536 >"$T_TMP/agent$i.out" 2>"$T_TMP/agent$i.err" &
	A[i]=$!; t_track ${A[i]}
done
"$XT" record -o "$T_TMP/whole.xft" --interval 500 --max-conns 65536 >"$T_TMP/whole.out" 2>"$T_TMP/whole.err" &
REC=$!; t_track $REC
for i in 1 2 3; do
	wait_http "http://127.0.0.1:${P[i]}/healthz" 90 || { t_fail "agent $i not ready: $(tail -n 2 "$T_TMP/agent$i.err" | tr '\n' ' ')"; t_finish; }
done
t_pass "three agents attached, each scoped to its namespace"

SP=$(free_port)
SCHED=tcp://$NET.11:$SP
ip netns exec agentns1 $PY -m distributed.cli.dask_scheduler --host "$NET.11" --port "$SP" \
	--no-dashboard >"$T_TMP/sched.log" 2>&1 &
t_track $!; disown $!
for i in 1 2 3; do
	# shellcheck disable=SC2086
	ip netns exec "${NS[i - 1]}" $PY -m distributed.cli.dask_worker "$SCHED" --host "$NET.1$i" \
		--nthreads 1 --no-nanny --no-dashboard --memory-limit 0 >"$T_TMP/worker$i.log" 2>&1 &
	t_track $!; disown $!
done
if $PY - "$SCHED" <<'EOP'
import sys
from distributed import Client
with Client(sys.argv[1], timeout=90) as c:
    c.wait_for_workers(3, timeout=120)
EOP
then t_pass "Dask: scheduler in agentns1, a worker in each namespace"
else t_fail "Dask cluster did not come up: $(tail -n 3 "$T_TMP/worker1.log" | tr '\n' ' ')"; t_finish; fi
ip netns exec agentns1 $PY "$XT_ROOT/tests/dask/known_transfer.py" --scheduler "$SCHED" \
	--out "$T_TMP/truth.json" --sizes-mb 4,8 --pairs all >"$T_TMP/kt.log" 2>&1 &&
	t_pass "known_transfer: every worker pair moved 4 and 8 MB arrays" ||
	t_fail "known_transfer: $(tail -n 3 "$T_TMP/kt.log" | tr '\n' ' ')"
sleep 1.5
for i in 1 2 3; do kill -TERM ${A[i]}; done
kill -INT $REC
for i in 1 2 3; do wait_gone ${A[i]} 30; wait ${A[i]} || t_fail "agent $i exit status not 0"; done
wait_gone $REC 30; wait $REC

"$XT" report --format json "$T_TMP"/node1/*.xft "$T_TMP"/node2/*.xft "$T_TMP"/node3/*.xft \
	>"$T_TMP/merged.json" 2>"$T_TMP/merged.err" && t_pass "report over the three nodes' files" ||
	t_fail "report over three nodes: $(head -n 2 "$T_TMP/merged.err" | tr '\n' ' ')"
"$XT" report "$T_TMP"/node1/*.xft "$T_TMP"/node2/*.xft "$T_TMP"/node3/*.xft >"$T_TMP/merged.txt" 2>&1
"$XT" report --format json "$T_TMP/whole.xft" >"$T_TMP/whole.json" 2>"$T_TMP/whole.rep.err"
for i in 1 2 3; do
	"$XT" report --format json --merge "$T_TMP/node$i" >"$T_TMP/node$i.json" 2>/dev/null
done
$PY - "$T_TMP" "$NET" >"$T_TMP/checks.out" 2>&1 <<'EOP' 
import json, os, sys
d, net = sys.argv[1], sys.argv[2]
m = json.load(open(f"{d}/merged.json"))
whole = json.load(open(f"{d}/whole.json"))
truth = json.load(open(f"{d}/truth.json"))
def node(ep):
    return ep.split("//")[1].rsplit(":", 1)[0] if ep.startswith(f"tcp://{net}.") else None
workers = set(truth["workers"])
pairs = [f for f in m["flows"] if f["src"] in workers and f["dst"] in workers]
cross = [f for f in pairs if node(f["src"]) != node(f["dst"])]
print("ok" if len(cross) >= 6 else "FAIL", f"- {len(cross)} cross-node worker flows in the merged report (6 ordered pairs)")
worst = 0.0
for f in cross:
    d_ = abs(f["rx_bytes"] - f["tx_bytes"]) / max(f["tx_bytes"], 1) * 100
    worst = max(worst, d_)
    ok = f["tx_bytes"] > 0 and f["rx_bytes"] > 0 and d_ <= 0.5
    print("ok" if ok else "FAIL", f"- {f['src']} -> {f['dst']}: sender tx {f['tx_bytes']} receiver rx {f['rx_bytes']} ({d_:.3f}%)")
print("ok" if cross and worst <= 0.5 else "FAIL", f"- worst cross-node reconciliation {worst:.4f}% (<= 0.5%)")
# Each agent saw only its namespace: a node's own trace has the sender side
# of its workers' flows and never the other nodes' workers as senders.
for i in (1, 2, 3):
    r = json.load(open(f"{d}/node{i}.json"))
    own = {w["endpoint"] for w in r["workers"] if w["endpoint"] in workers}
    okn = all(node(e) == f"{net}.1{i}" for e in own) and len(own) == 1
    print("ok" if okn else "FAIL", f"- node{i}'s traces hold only its own worker: {sorted(own)}")
# The merged flows equal a whole-machine recording's.
wf = {(f["src"], f["dst"]): f for f in whole["flows"]}
bad = [(f["src"], f["dst"], f["tx_bytes"], wf.get((f["src"], f["dst"]), {}).get("tx_bytes"))
       for f in cross if wf.get((f["src"], f["dst"]), {}).get("tx_bytes") != f["tx_bytes"]]
print("ok" if cross and not bad else "FAIL", f"- merged cross-node tx equals the whole-machine recording's" + (f": {bad}" if bad else ""))
srcs = m.get("sources", [])
print("ok" if len(srcs) >= 3 and len({s["run"] for s in srcs}) == 3 else "FAIL", f"- three agent runs merged ({len(srcs)} files)")
EOP
t_lines <"$T_TMP/checks.out"
grep -q Traceback "$T_TMP/checks.out" && t_fail "checker: $(tail -n 1 "$T_TMP/checks.out")"
# Dask's own view (roles, flows against transfer_outgoing_log) of the merged report.
$PY -c '
import json, sys
t = json.load(open(sys.argv[1]))
json.dump({"complete": True, "scheduler": t["scheduler"],
           "workers": [{"address": a, "pid": p} for a, p in t["workers"].items()]},
          open(sys.argv[2], "w"))' "$T_TMP/truth.json" "$T_TMP/cluster.json"
t_checker "merged vs Dask" $PY "$XT_ROOT/tests/dask/check_dask.py" --report "$T_TMP/merged.json" \
	--cluster "$T_TMP/cluster.json" --dask "$T_TMP/truth.json"
grep -q "RECONCILED FLOWS" "$T_TMP/merged.txt" && t_pass "text report shows sender tx against receiver rx" || t_fail "no reconciliation section in the text report"
t_finish
