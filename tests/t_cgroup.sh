#!/bin/bash
# CPU throttling: a listening process that burns CPU in a cgroup with a
# CPU quota; the report's cgroup_cpu figures must match the cgroup's own
# cpu.stat read over the same span.
. "$(dirname "$0")/lib.sh"

CG=""
for root in /sys/fs/cgroup/cpu /sys/fs/cgroup/cpu,cpuacct; do
	[ -f "$root/cpu.cfs_quota_us" ] && { CG=$root/xt-test-$$; V=1; break; }
done
if [ -z "$CG" ]; then
	for root in /sys/fs/cgroup /sys/fs/cgroup/unified; do
		if [ -f "$root/cgroup.controllers" ] && grep -qw cpu "$root/cgroup.controllers"; then
			echo +cpu > "$root/cgroup.subtree_control" 2>/dev/null
			CG=$root/xt-test-$$; V=2; break
		fi
	done
fi
if [ -z "$CG" ] || ! mkdir "$CG" 2>/dev/null; then
	t_fail "no writable cgroup CPU controller (v1 cpu or v2 cpu) to test throttling"
	t_finish
fi
cleanup_cg() { [ -n "$BP" ] && kill "$BP" 2>/dev/null; wait "$BP" 2>/dev/null; rmdir "$CG" 2>/dev/null; }
trap 'cleanup_cg; t_cleanup' EXIT
if [ "$V" = 1 ]; then
	echo 100000 > "$CG/cpu.cfs_period_us"; echo 20000 > "$CG/cpu.cfs_quota_us"
else
	echo "20000 100000" > "$CG/cpu.max"
fi
stat_throttled() {
	if [ "$V" = 1 ]; then awk '$1=="throttled_time"{print $2}' "$CG/cpu.stat"
	else awk '$1=="throttled_usec"{print $2*1000}' "$CG/cpu.stat"; fi
}
# A "worker": listens, talks to itself once, then burns CPU under a 20% quota.
$PY - "$CG" <<'PYEOF' &
import os, socket, sys, time
open(sys.argv[1] + "/cgroup.procs", "w").write(str(os.getpid()))
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
c = socket.create_connection(l.getsockname()); s, _ = l.accept()
c.sendall(b"x" * 1000); s.recv(1000)
end = time.time() + 3.5
while time.time() < end:
    pass
time.sleep(30)
PYEOF
BP=$!
sleep 0.3
"$XT" record -o "$T_TMP/cg.xft" --duration 4 2>"$T_TMP/rec.err" &
RP=$!
t_track $RP
sleep 1.2
a=$(stat_throttled)
wait $RP
rc=$?
b=$(stat_throttled)
t_check "record exits 0" [ "$rc" -eq 0 ]
"$XT" report "$T_TMP/cg.xft" --format json > "$T_TMP/cg.json"
$PY - "$T_TMP/cg.json" "$BP" "$a" "$b" > "$T_TMP/checks" <<'PYEOF'
import json, sys
rep = json.load(open(sys.argv[1])); pid = int(sys.argv[2]); a = int(sys.argv[3]); b = int(sys.argv[4])
w = [x for x in rep["workers"] if x["pid"] == pid]
ok = lambda c, m: print(("ok   - " if c else "FAIL - ") + m)
ok(len(w) == 1, "burner in report")
cg = w[0].get("cgroup_cpu") if w else None
ok(cg is not None, f"burner has cgroup_cpu ({cg})")
if cg:
    ok(cg["quota_us"] == 20000 and cg["period_us"] == 100000, "quota 20000/100000 us read from the cgroup")
    ok(cg["nr_throttled"] > 0 and cg["throttled_ns"] > 0, "throttling seen")
    # The report spans the recorder's first and last cgroup reads; the
    # shell read cpu.stat 1.2 s after start and after stop: the report's
    # figure lies between (b - a) and the total.
    ok(cg["throttled_ns"] >= (b - a) * 0.9, f"throttled_ns {cg['throttled_ns']} >= 90% of {b - a} seen by cpu.stat over a sub-span")
    ok(cg["throttled_ns"] <= b, f"throttled_ns {cg['throttled_ns']} <= cpu.stat total {b}")
PYEOF
t_lines < "$T_TMP/checks"
t_check "python checks ran" [ -s "$T_TMP/checks" ]
t_finish
