#!/bin/bash
# Dask ground truth: a real scheduler + workers on loopback move numpy
# payloads of known size; the report must name the processes by Dask's own
# addresses and count worker-to-worker bytes within 1% of Dask's
# transfer_outgoing_log (tests/dask/check_dask.py).
#  A: cluster first, then the recorder (sockets found by startup discovery)
#  B: recorder first, then the cluster (sockets learnt from listen events),
#     no nannies, cluster stopped while recording
#  C: the calibration workload (calib.py) checked against its --dask-log
# Also checks tools/xfertrace_marks.py against calib.py's own log lines.
. "$(dirname "$0")/lib.sh"
D=$XT_ROOT/tests/dask
export PYTHONDONTWRITEBYTECODE=1
STATES=()

stop_clusters() {
	local s
	for s in "${STATES[@]}"; do
		[ -f "$s" ] && $PY "$D/cluster.py" stop --state "$s" >/dev/null 2>&1
	done
}
trap 'stop_clusters; t_cleanup' EXIT

# Runs check_dask.py and adds its ok/FAIL lines to our counts.
check_dask() {
	local tag=$1
	shift
	t_checker "$tag" $PY "$D/check_dask.py" "$@"
}

# Marks helper: lines arrive as datagrams, silent when nobody listens.
marks_selftest() {
	$PY - "$XT_ROOT/tools" "$T_TMP/m.sock" <<'EOF'
import socket, sys, time
sys.path.insert(0, sys.argv[1])
import xfertrace_marks as xm
path = sys.argv[2]
assert xm.mark("x", path=path) is False          # no socket: quiet no-op
assert xm.mark("x", path=path) is False          # failure cached
xm._sender.down_until.clear()
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(5)
with xm.trial("abc12345", path=path):
    xm.sim_timing("abc12345", 42, 1234.5, "tcp://10.0.0.1:8786", path=path)
got = [s.recv(65536).decode() for _ in range(3)]
want = ["TRIAL_BEGIN param_id=abc12345",
        "SIM_TIMING: param_id=abc12345 seed=42 duration_ms=1234.5 "
        "worker=tcp://10.0.0.1:8786", "TRIAL_END param_id=abc12345"]
assert got == want, got
EOF
}
t_check "xfertrace_marks: datagrams, silent without listener" marks_selftest

# calib.py on its own: stdout lines == the datagrams it sent (so calib.py
# and xfertrace_marks.py format the plan's lines identically), line counts
# match the trial structure, every line is timestamped.
calib_selftest() {
	local st=$T_TMP/c0.json
	STATES+=("$st")
	$PY "$D/cluster.py" start --workers 2 --state "$st" >/dev/null || return 1
	$PY - "$D" "$st" "$T_TMP" <<'EOF'
import os, re, socket, subprocess, sys, threading
d, st, tmp = sys.argv[1:]
path = os.path.join(tmp, "calib-marks.sock")
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(0.5)
got = []
def rx():
    while True:
        try:
            got.append(s.recv(65536).decode())
        except socket.timeout:
            if done.is_set():
                return
done = threading.Event()
t = threading.Thread(target=rx)
t.start()
p = subprocess.run(["/usr/bin/python3", f"{d}/calib.py", "--state", st,
                    "--trials", "3", "--concurrency", "2", "--sims", "4",
                    "--targets", "2", "--payload-bytes", "30000",
                    "--outputs", "3", "--sim-ms", "5", "--agg-ms", "5",
                    "--marks", path], capture_output=True, text=True)
done.set()
t.join()
assert p.returncode == 0, p.stderr
ts = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6,9}Z ")
lines = p.stdout.splitlines()
assert all(ts.match(l) for l in lines), lines
text = [l.split(" ", 1)[1] for l in lines]
assert sorted(text) == sorted(got), (text, got)
kinds = [l.split()[0] for l in text]
assert kinds.count("TRIAL_BEGIN") == 3 and kinds.count("TRIAL_END") == 3
assert kinds.count("SIM_TIMING:") == 12 and kinds.count("AGG_TIMING:") == 6
agg = [l for l in text if l.startswith("AGG_TIMING:")][0]
assert " n_sim_returns=4 n_outputs=3 total_inline_mb=0.12 " \
       "max_single_kb=10.0 " in agg, agg
EOF
	local rc=$?
	$PY "$D/cluster.py" stop --state "$st" || rc=1
	return $rc
}
t_check "calib.py: plan's lines on stdout and as marks" calib_selftest

t_need_tracer

# report TAG XFT OUT: writes the JSON report; passes/fails TAG.
report() {
	if "$XT" report "$2" --format json >"$3" 2>"$3.err"; then
		t_pass "$1: report --format json"
	else
		t_fail "$1: report --format json: $(tail -n 1 "$3.err")"
		return 1
	fi
}

# A: cluster first, then record known_transfer.py.
A=$T_TMP/a
STATES+=("$A.state")
if $PY "$D/cluster.py" start --workers 4 --state "$A.state" >/dev/null; then
	t_pass "A: cluster (4 workers, nannies) started"
	t_check "A: record known_transfer.py" "$XT" record -o "$A.xft" -- \
		$PY "$D/known_transfer.py" --state "$A.state" --out "$A.kt.json"
	t_check "A: cluster stopped" $PY "$D/cluster.py" stop --state "$A.state"
	if report A "$A.xft" "$A.report.json"; then
		check_dask A --report "$A.report.json" --cluster "$A.state" \
			--dask "$A.kt.json"
	fi
else
	t_fail "A: cluster start (see $A.state.logs)"
fi

# B: recorder first; the cluster starts and stops inside the recording.
B=$T_TMP/b
STATES+=("$B.state")
t_check "B: record cluster start + known_transfer.py + stop" \
	"$XT" record -o "$B.xft" -- /bin/bash -c '
	PY=$1 D=$2 S=$3
	$PY "$D/cluster.py" start --workers 3 --no-nanny --state "$S" \
		>/dev/null || exit 1
	$PY "$D/known_transfer.py" --state "$S" --out "$4" --sizes-mb 6,12
	rc=$?
	$PY "$D/cluster.py" stop --state "$S" || rc=1
	exit $rc' bash "$PY" "$D" "$B.state" "$B.kt.json"
if report B "$B.xft" "$B.report.json"; then
	check_dask B --report "$B.report.json" --cluster "$B.state" \
		--dask "$B.kt.json"
fi

# C: the calibration workload, checked against its own --dask-log.
C=$T_TMP/c
STATES+=("$C.state")
record_calib() {
	"$XT" record -o "$C.xft" -- $PY "$D/calib.py" --state "$C.state" \
		--trials 8 --concurrency 4 --payload-bytes 2000000 --sim-ms 20 \
		--agg-ms 10 --dask-log "$C.dask.json" >"$C.marks.log"
}
if $PY "$D/cluster.py" start --workers 4 --state "$C.state" >/dev/null; then
	t_check "C: record calib.py" record_calib
	t_check "C: cluster stopped" $PY "$D/cluster.py" stop --state "$C.state"
	if report C "$C.xft" "$C.report.json"; then
		check_dask C --report "$C.report.json" --cluster "$C.state" \
			--dask "$C.dask.json"
	fi
else
	t_fail "C: cluster start (see $C.state.logs)"
fi
t_finish
