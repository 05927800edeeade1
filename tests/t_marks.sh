#!/bin/bash
# Live marks against log-file marks. One recording of calib.py on a local
# Dask cluster: calib.py prints the plan's timestamped log lines on stdout
# AND sends the same lines (no timestamp) through tools/xfertrace_marks.py
# to `record --marks-socket`, from the client (TRIAL_*) and from inside the
# workers' tasks (SIM/AGG). `report` with no --marks uses the MARK records
# (stamped on receipt); `report --marks LOG` uses the log's own times. Both
# must give the same trials: same ids, counts, placement, split, transfer
# bytes (within 1%: a receipt can land a few ms later than the task's own
# clock), CPU (within 10%), and the same verdict. Also: every line sent is
# recorded, and junk sent to the socket is rejected and counted.
. "$(dirname "$0")/lib.sh"
D=$XT_ROOT/tests/dask
ST=$T_TMP/cluster.json
SOCK=$T_TMP/marks.sock
export PYTHONDONTWRITEBYTECODE=1

stop_cluster() {
	[ -f "$ST" ] && $PY "$D/cluster.py" stop --state "$ST" >/dev/null 2>&1
	rm -f "$ST"
}
trap 'stop_cluster; t_cleanup' EXIT

t_need_tracer
if ! $PY "$D/cluster.py" start --workers 3 --state "$ST" >/dev/null; then
	t_fail "cluster start (see $ST.logs)"
	t_finish
fi
t_pass "cluster: scheduler + 3 workers with nannies"

# The workload, plus junk datagrams the recorder must reject.
workload() {
	$PY - "$XT_ROOT/tools" "$SOCK" <<'EOF'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for junk in (b"SIM_TIMING: param_id=x duration_ms=oops", b"\x00\x01\x02",
             b"A" * 8000, b"not a mark at all"):
    for _ in range(50):             # the recorder may not be bound yet
        try:
            s.sendto(junk, sys.argv[2])
            break
        except OSError:
            time.sleep(0.1)
EOF
	$PY "$D/calib.py" --state "$ST" --trials 12 --concurrency 6 --sims 10 \
		--targets 2 --payload-bytes 300000 --sim-ms 20 --agg-ms 10 \
		--marks "$SOCK" --dask-log "$T_TMP/dask.json"
}
export -f workload
export PY D ST SOCK XT_ROOT T_TMP
t_check "record --marks-socket with calib.py --marks" \
	bash -c '"$1" record -o "$2/live.xft" --marks-socket "$3" -- bash -c workload >"$2/calib.log" 2>"$2/rec.err"' \
	bash "$XT" "$T_TMP" "$SOCK"
stop_cluster

"$XT" report "$T_TMP/live.xft" --format json >"$T_TMP/live.json" 2>"$T_TMP/l.err"
t_check "report with live marks (no --marks)" test -s "$T_TMP/live.json"
"$XT" report "$T_TMP/live.xft" --marks "$T_TMP/calib.log" --format json \
	>"$T_TMP/file.json" 2>"$T_TMP/f.err"
t_check "report with the same marks from the log file" test -s "$T_TMP/file.json"

t_check "live marks: every line calib.py printed was received, junk rejected" \
	$PY - "$T_TMP/live.json" "$T_TMP/calib.log" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
n = sum(1 for l in open(sys.argv[2]) if l.strip())
m = r["marks"]
assert m["source"] == "trace", m
assert m["marks"] == n, (m["marks"], n)
assert m["rejected_live"] >= 3, m     # the junk datagrams (one is a non-mark)
assert m["bad"] == 0, m
EOF

t_check "live and file marks give the same per-trial numbers" \
	$PY - "$T_TMP/live.json" "$T_TMP/file.json" "$T_TMP/dask.json" <<'EOF'
import json, sys
live, file, dask = (json.load(open(p)) for p in sys.argv[1:4])
a = {t["id"]: t for t in live["trials"]}
b = {t["id"]: t for t in file["trials"]}
want = {t["param_id"] for t in dask["trials"]}
assert set(a) == set(b) == want, (set(a) ^ set(b), want ^ set(b))
worst = {"bytes": 0.0, "cpu": 0.0}
for k in a:
    x, y = a[k], b[k]
    for f in ("n_sims", "n_aggs", "split", "attribution", "agg_workers"):
        assert x[f] == y[f], (k, f, x[f], y[f])
    wx = sorted((s["kind"], s["worker"]) for s in x["tasks"])
    wy = sorted((s["kind"], s["worker"]) for s in y["tasks"])
    assert wx == wy, (k, wx, wy)
    db = abs(x["transfer_bytes"] - y["transfer_bytes"]) / \
        max(y["transfer_bytes"], 1)
    dc = abs(x["compute_cpu_ns"] - y["compute_cpu_ns"]) / \
        max(y["compute_cpu_ns"], 1)
    worst["bytes"] = max(worst["bytes"], db)
    worst["cpu"] = max(worst["cpu"], dc)
    assert db <= 0.01, (k, x["transfer_bytes"], y["transfer_bytes"])
    assert dc <= 0.10, (k, x["compute_cpu_ns"], y["compute_cpu_ns"])
dl, df = live["diagnostics"], file["diagnostics"]
for f in ("split_rate", "locality", "sim_ms_p50", "agg_ms_p50"):
    assert dl[f] == df[f], (f, dl[f], df[f])
assert dl["transfer_dominates"] == df["transfer_dominates"]
print(f"     worst per-trial difference: bytes {worst['bytes']:.3%}, "
      f"compute CPU {worst['cpu']:.3%}")
EOF

"$XT" report "$T_TMP/live.xft" >"$T_TMP/live.txt" 2>&1
t_check "text report from live marks has trials and a verdict" \
	grep -qE "^VERDICT: (transfer|compute) dominates" "$T_TMP/live.txt"

# Marks from another machine: the header's wall clock lines them up; a
# log whose clock is hours off is caught, not silently misattributed.
$PY - "$T_TMP/calib.log" "$T_TMP/skewed.log" <<'EOF'
import sys
with open(sys.argv[2], "w") as f:
    for l in open(sys.argv[1]):
        ts, rest = l.split(" ", 1)
        f.write(f"{ts[:11]}{(int(ts[11:13]) + 3) % 24:02d}{ts[13:]} {rest}")
EOF
"$XT" report "$T_TMP/live.xft" --marks "$T_TMP/skewed.log" --format json \
	>"$T_TMP/skewed.json" 2>&1
t_check "a log 3 hours off: every mark reported outside the trace, no attribution" \
	$PY - "$T_TMP/skewed.json" "$T_TMP/calib.log" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
n = sum(1 for l in open(sys.argv[2]) if l.strip())
m = r["marks"]
assert m["outside_trace"] == n, (m["outside_trace"], n)
assert m["trials_outside_trace"] == 12, m
assert r["trials"] == [], len(r["trials"])
assert "cannot weigh" in r["diagnostics"]["verdict"]
assert "dominates" not in r["diagnostics"]["verdict"]
EOF
t_finish
