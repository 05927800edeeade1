#!/bin/bash
# make demo: a local Dask cluster (scheduler + 4 workers with nannies) runs
# the calibration-shaped workload of the throughput diagnostic plan (16
# trials, 8 concurrent client threads, 10 simulations + 2 aggregations per
# trial) while xfertrace records it; then prints the report.
# Run from the repository root after `make all`. Writes demo.xft,
# demo-marks.log (the plan's SIM_TIMING:/AGG_TIMING: lines, timestamped, for
# `report --marks`) and demo-dask.json (Dask's own transfer logs); the
# cluster's state and logs go to build/demo/. Knobs: DEMO_TRIALS,
# DEMO_PAYLOAD (bytes per simulation), DEMO_SIM_MS, DEMO_AGG_MS, DEMO_MULTI=1.
set -u
cd "$(dirname "$0")/.." || exit 1
XT=build/xfertrace
PY=/usr/bin/python3
DIR=build/demo
STATE=$DIR/cluster.json
export PYTHONDONTWRITEBYTECODE=1

if [ ! -x "$XT" ]; then
	echo "demo: $XT missing; run make all" >&2
	exit 1
fi
if ! "$XT" check >/dev/null; then
	echo "demo: xfertrace check failed: tracing cannot run here" >&2
	exit 1
fi
mkdir -p "$DIR"
stop_cluster() {
	[ -f "$STATE" ] && $PY tests/dask/cluster.py stop --state "$STATE"
}
trap stop_cluster EXIT
trap 'exit 130' INT TERM

echo "demo: starting scheduler + 4 workers (1 thread each, nannies)"
$PY tests/dask/cluster.py start --workers 4 --state "$STATE" >/dev/null || exit 1
$PY - "$STATE" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"  scheduler {s['scheduler']['address']} pid {s['scheduler']['pid']}")
for w in s["workers"]:
    print(f"  worker    {w['address']} pid {w['pid']} "
          f"(nanny {w['nanny_address']} pid {w['nanny_pid']})")
EOF

multi=()
[ "${DEMO_MULTI:-0}" = 1 ] && multi=(--multi-target)
echo "demo: recording calib.py (marks -> demo-marks.log)"
"$XT" record -o demo.xft -- $PY tests/dask/calib.py --state "$STATE" \
	--trials "${DEMO_TRIALS:-16}" --concurrency 8 --sims 10 --targets 2 \
	--payload-bytes "${DEMO_PAYLOAD:-500000}" --outputs 5 \
	--sim-ms "${DEMO_SIM_MS:-100}" --agg-ms "${DEMO_AGG_MS:-30}" \
	"${multi[@]}" --dask-log demo-dask.json >demo-marks.log
rc=$?
if [ $rc -ne 0 ]; then
	echo "demo: record failed ($rc)" >&2
	exit $rc
fi
stop_cluster >/dev/null

"$XT" report demo.xft --marks demo-marks.log || exit 1

echo
echo "Dask's own view (transfer_outgoing_log, MB = 1e6 bytes sent src -> dst):"
$PY - demo-dask.json <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
ws = sorted(d["workers"])
m = {}
for src, w in d["workers"].items():
    for e in w["transfer_outgoing_log"]:
        dst = e["who"] or "client"
        m[(src, dst)] = m.get((src, dst), 0) + e["total"]
cols = ws + ["client"]
print("  %-22s" % "src \\ dst" + "".join("%10s" % c.rsplit(":", 1)[-1]
                                         for c in cols))
for s in ws:
    print("  %-22s" % s + "".join("%10.2f" % (m.get((s, c), 0) / 1e6)
                                  for c in cols))
aggs = [t["aggs"] for t in d["trials"]]
split = sum(1 for a in aggs if len({g["worker"] for g in a}) > 1)
print(f"  trials whose aggregations ran on different workers: "
      f"{split}/{len(aggs)}")
EOF
echo "demo: trace demo.xft, marks demo-marks.log, Dask log demo-dask.json"
