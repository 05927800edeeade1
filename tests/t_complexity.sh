#!/bin/bash
# `report --marks` grows no faster than N log N in time and N in memory
# (issue 11). Marks files of 10k, 100k and 1M lines in the worst shapes
# found (tests/gen_marks.py):
#   oneid    TRIAL_BEGIN/END pairs all with one param_id (once 12.7 s at 100k)
#   agg1     every AGG line in one trial (once 23.3 s at 100k)
#   aggeach  each AGG line its own trial and worker (once 1.48 GB at 10k)
# against a small real trace (stored with the fuzz seeds). CPU time
# (user+sys) and peak RSS come from /usr/bin/time -v in this same run;
# only their ratios between sizes are checked, with generous slack: from
# N to 10N, CPU at most SLACK x 10 x log(10N)/log(N), RSS at most
# SLACK x 10. The figures are printed; no absolute speed is asserted.
. "$(dirname "$0")/lib.sh"
TR=$XT_ROOT/tests/fuzz/corpus/trace/xtgen-3workers.xft
SLACK=2.5
[ -x "$XT" ] || { t_fail "no $XT (run make)"; t_finish; }
[ -x /usr/bin/time ] || { t_fail "/usr/bin/time missing (package time)"; t_finish; }

"$XT" report "$TR" --format json >"$T_TMP/base.json" 2>/dev/null
read -r S D W < <($PY - "$T_TMP/base.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
w = [x["endpoint"] for x in r["workers"] if x["role"] == "worker"]
print(r["trace"]["start_unix"], r["trace"]["duration_ns"], " ".join(w))
EOF
)
t_check "the stored trace reads, with workers" test -n "$W"

# measure SHAPE N: prints "cpu_s rss_kb" and checks every mark was read.
measure() {
	local shape=$1 n=$2 f=$T_TMP/$1.$2 cpu rss
	# shellcheck disable=SC2086
	$PY "$XT_ROOT/tests/gen_marks.py" "$shape" "$n" "$S" "$D" $W >"$f"
	/usr/bin/time -v "$XT" report "$TR" --marks "$f" >"$f.out" \
		2>"$f.time" || echo "report exit $?" >>"$f.out"
	grep -q "MARKS from file .*: $n lines, $n marks" "$f.out" ||
		echo "BADCOUNT" >>"$f.out"
	cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { print s }' "$f.time")
	rss=$(awk -F': ' '/Maximum resident/ { print $2 }' "$f.time")
	rm -f "$f"
	echo "$cpu $rss"
}

for shape in oneid agg1 aggeach; do
	declare -A cpu=() rss=()
	for n in 10000 100000 1000000; do
		read -r cpu[$n] rss[$n] < <(measure "$shape" "$n")
		echo "     $shape $n marks: cpu ${cpu[$n]} s, max RSS ${rss[$n]} KB"
		t_check "$shape $n: report read all $n marks" \
			bash -c "! grep -qE 'BADCOUNT|report exit' '$T_TMP/$shape.$n.out'"
	done
	for pair in "10000 100000" "100000 1000000"; do
		read -r a b <<<"$pair"
		t_check "$shape ${a}->${b}: CPU grows at most N log N (x$SLACK)" \
			$PY - "${cpu[$a]}" "${cpu[$b]}" "$a" "$b" "$SLACK" <<'EOF'
import math, sys
ta, tb, a, b, slack = map(float, sys.argv[1:])
ta = max(ta, 0.05)          # below the clock's resolution
limit = slack * (b / a) * math.log(b) / math.log(a)
print(f"     cpu ratio {tb / ta:.1f} (limit {limit:.1f})")
sys.exit(0 if tb / ta <= limit else 1)
EOF
		t_check "$shape ${a}->${b}: memory grows at most N (x$SLACK)" \
			$PY - "${rss[$a]}" "${rss[$b]}" "$a" "$b" "$SLACK" <<'EOF'
import sys
ra, rb, a, b, slack = map(float, sys.argv[1:])
limit = slack * b / a
print(f"     RSS ratio {rb / ra:.1f} (limit {limit:.1f})")
sys.exit(0 if rb / ra <= limit else 1)
EOF
	done
	unset cpu rss
done
t_finish
