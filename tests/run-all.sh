#!/bin/bash
# Runs every test program (C unit tests in build/tests/unit_*, shell tests
# tests/t_*.sh), then prints the grand total as "N passed, N failed".
cd "$(dirname "$0")/.." || exit 1
total_pass=0
total_fail=0
failed=()
run_one() {
	local name=$1; shift
	local log out p f
	log=$(mktemp /tmp/xt-run.XXXXXX)
	echo "=== $name"
	"$@" 2>&1 | tee "$log"
	local rc=${PIPESTATUS[0]}
	out=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
	rm -f "$log"
	if [ -z "$out" ]; then
		echo "$name: no result line (exit $rc)"
		total_fail=$((total_fail + 1)); failed+=("$name"); return
	fi
	p=${out%% passed*}; f=${out#*passed, }; f=${f%% failed*}
	total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		total_fail=$((total_fail + 1))
	fi
	[ "$rc" -ne 0 ] || [ "$f" -ne 0 ] && failed+=("$name")
	return 0
}
for t in build/tests/unit_*; do
	[ -x "$t" ] && run_one "$(basename "$t")" "$t"
done
for t in tests/t_*.sh; do
	[ -x "$t" ] && run_one "$(basename "$t")" "$t"
done
echo
[ ${#failed[@]} -gt 0 ] && echo "failed programs: ${failed[*]}"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
