#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Mixed-path equivalence: three recorders run at once over the same
# workload, each on another harvest and discovery path (iter+iter,
# notes+proc, map+iter; without map iterators, notes+proc, map+iter,
# map+proc). They see the same kernel events, so for the workload's
# processes (tests/xtgen's workers and a tests/burn process, all started
# and stopped inside the recordings) bytes per process must be equal and
# CPU within 1%, both against each other and against the generators' own
# counts. Each trace must say it took the path it was forced onto.
. "$(dirname "$0")/lib.sh"
t_need_tracer
XTGEN=$XT_ROOT/build/tests/xtgen
BURN=$XT_ROOT/build/tests/burn

# Three recorders on different paths, from those that load here.
"$XT" check >"$T_TMP/check" 2>&1
DISC=proc
grep -q "^listener discovery at start: iter" "$T_TMP/check" && DISC=iter
if grep -q "^harvest reads: iter" "$T_TMP/check"; then
	PATHS=("iter $DISC" "notes proc" "map $DISC")
else
	PATHS=("notes $DISC" "map proc" "map $DISC")
fi
RPIDS=()
for i in "${!PATHS[@]}"; do
	set -- ${PATHS[$i]}
	"$XT" record --strict --harvest $1 --discovery $2 -o "$T_TMP/r$i.xft" \
		2>"$T_TMP/r$i.err" &
	RPIDS+=($!)
	t_track $!
done
for i in "${!PATHS[@]}"; do
	for ((n = 0; n < 100; n++)); do
		grep -q "recording to" "$T_TMP/r$i.err" && break
		sleep 0.1
	done
	t_check "recorder ${PATHS[$i]} started" grep -q "recording to" "$T_TMP/r$i.err"
done

"$XTGEN" -w 3 -r 10 -s 30 -x 10 -m -o "$T_TMP/truth.json" >/dev/null 2>&1
t_check "xtgen's own counts agree" [ $? -eq 0 ]
"$BURN" -t 3 -m 150 -d 50 -T 30 -o "$T_TMP/burn.json" &
BP=$!
t_track $BP
for ((n = 0; n < 300; n++)); do [ -s "$T_TMP/burn.json" ] && break; sleep 0.1; done
kill -USR1 $BP; wait $BP
sleep 0.3
kill -INT "${RPIDS[@]}"
for p in "${RPIDS[@]}"; do wait_gone $p 20; done
for i in "${!PATHS[@]}"; do
	"$XT" report --format json "$T_TMP/r$i.xft" >"$T_TMP/r$i.json" \
		2>"$T_TMP/r$i.rep.err"
	t_check "report of ${PATHS[$i]}" [ $? -eq 0 ]
done

$PY - "$T_TMP" "${#PATHS[@]}" "${PATHS[@]}" >"$T_TMP/check" <<'PYEOF'
import json, sys
tmp, n = sys.argv[1], int(sys.argv[2])
paths = sys.argv[3:3 + n]
truth = json.load(open(f"{tmp}/truth.json"))
burn = json.load(open(f"{tmp}/burn.json"))
reps = [json.load(open(f"{tmp}/r{i}.json")) for i in range(n)]

def ok(c, d):
    print(("ok   - " if c else "FAIL - ") + d)

for p, r in zip(paths, reps):
    h, d = p.split()
    hk = r["trace"]["hooks"]
    ok(hk.get("harvest") == h and hk.get("discovery") == d,
       f"{p}: trace says harvest={hk.get('harvest')} discovery={hk.get('discovery')}")
    ok(r.get("problems") == [], f"{p}: no problems {r.get('problems')}")

pids = {w["pid"]: w for w in truth["workers"]}
for p, r in zip(paths, reps):
    w = {x["pid"]: x for x in r["workers"]}
    for pid, t in pids.items():
        g = w.get(pid, {})
        ok(g.get("tx_bytes") == t["tx_bytes"] and g.get("rx_bytes") == t["rx_bytes"],
           f"{p}: xtgen worker {pid} tx {g.get('tx_bytes')} rx {g.get('rx_bytes')}"
           f" == generator's {t['tx_bytes']} {t['rx_bytes']}")
    b = w.get(burn["pid"], {})
    own = sum(t["cpu_ns"] for t in burn["threads"])
    ok(b.get("cpu_ns", 0) >= own and b.get("cpu_ns", 0) <= own * 1.01 + 20e6,
       f"{p}: burn CPU {b.get('cpu_ns')} within 1% (+20 ms for its main thread) of its own clocks {own}")

base = {x["pid"]: x for x in reps[0]["workers"]}
for p, r in zip(paths[1:], reps[1:]):
    w = {x["pid"]: x for x in r["workers"]}
    for pid in list(pids) + [burn["pid"]]:
        a, b = base.get(pid, {}), w.get(pid, {})
        ok(a.get("tx_bytes") == b.get("tx_bytes") and a.get("rx_bytes") == b.get("rx_bytes"),
           f"{paths[0]} vs {p}: pid {pid} bytes equal ({a.get('tx_bytes')}, {b.get('tx_bytes')})")
        ca, cb = a.get("cpu_ns", 0), b.get("cpu_ns", 0)
        ok(abs(ca - cb) <= 0.01 * max(ca, cb),
           f"{paths[0]} vs {p}: pid {pid} CPU within 1% ({ca}, {cb})")
PYEOF
t_lines <"$T_TMP/check"
t_finish
