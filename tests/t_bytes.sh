#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Byte counts: record tests/xtgen (loopback TCP with exactly known byte
# counts) and check the report's flows, workers and totals against the
# generator's own counts (tests/check_bytes.py), for IPv4, IPv6, mixed
# families, short-lived connections, connections the server resets
# (SO_LINGER 0; the client reads the queued reply after TCP_CLOSE) and
# with the raw_tp socket hooks.
# Keep the temporary files with T_KEEP=1.
. "$(dirname "$0")/lib.sh"
GEN=$XT_ROOT/build/tests/xtgen


# run_case NAME HOOKS XTGEN-ARGS...: record one generator run and check it.
run_case() {
	local name=$1 hooks=$2 d=$T_TMP/$1 rc hk=()
	shift 2
	[ -n "$hooks" ] && hk=(--hooks "$hooks")
	"$XT" record -o "$d.xft" --interval 100 "${hk[@]}" -- \
		"$GEN" "$@" -o "$d.truth.json" >"$d.rec.out" 2>"$d.rec.err"
	rc=$?
	if [ "$rc" -ne 0 ] || [ ! -s "$d.truth.json" ]; then
		t_fail "$name: record -- xtgen $* exit $rc: $(tail -n 3 "$d.rec.err" | tr '\n' ' ')"
		return
	fi
	t_pass "$name: record -- xtgen $* exits 0"
	if ! "$XT" report --format json "$d.xft" >"$d.json" 2>"$d.rep.err"; then
		t_fail "$name: report --format json: $(head -n 3 "$d.rep.err" | tr '\n' ' ')"
		return
	fi
	$PY "$XT_ROOT/tests/check_bytes.py" --truth "$d.truth.json" \
		--report "$d.json" --label "$name" ${hooks:+--hook "$hooks"} \
		>"$d.check" 2>&1
	rc=$?
	t_lines <"$d.check"
	if [ "$rc" -ne 0 ] && ! grep -q '^FAIL' "$d.check"; then
		t_fail "$name: check_bytes.py failed: $(tail -n 2 "$d.check" | tr '\n' ' ')"
	fi
}

if [ ! -x "$XT" ] || [ ! -x "$GEN" ]; then
	t_fail "need $XT and $GEN (make)"
	t_finish
fi

run_case ipv4 "" -w 4
run_case ipv6 "" -w 4 -6
run_case mixed "" -w 4 -m -s 60
run_case short "" -w 4 -b 0 -s 200
run_case short6 "" -w 3 -6 -b 0 -s 100
run_case abort "" -w 4 -b 0 -x 200
run_case raw_tp raw_tp -w 4 -m -s 60

# The documented order, options after the file, gives the same report.
if "$XT" report "$T_TMP/ipv4.xft" --format json >"$T_TMP/order.json" 2>"$T_TMP/order.err"; then
	t_check "report FILE --format json equals report --format json FILE" \
		cmp -s "$T_TMP/order.json" "$T_TMP/ipv4.json"
else
	t_fail "report FILE --format json: $(head -n 1 "$T_TMP/order.err")"
fi
t_finish
