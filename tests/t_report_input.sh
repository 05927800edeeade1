#!/bin/bash
# `report` on awkward input (issue 11): paths that are not UTF-8 keep the
# JSON whole (marks section, --compare), TRIAL_END before its TRIAL_BEGIN
# is warned about once and counted, and --marks from /dev/zero or a FIFO
# that never ends stops at the size cap with one line instead of hanging.
# Uses a real trace kept with the fuzz seeds (3 xtgen workers, 0.4 s).
. "$(dirname "$0")/lib.sh"
TR=$XT_ROOT/tests/fuzz/corpus/trace/xtgen-3workers.xft
[ -x "$XT" ] || { t_fail "no $XT (run make)"; t_finish; }

"$XT" report "$TR" --format json >"$T_TMP/base.json" 2>/dev/null
read -r S D W < <($PY - "$T_TMP/base.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
w = [x["endpoint"] for x in r["workers"] if x["role"] == "worker"]
print(r["trace"]["start_unix"], r["trace"]["duration_ns"], " ".join(w))
EOF
)
t_check "the stored trace reads, with workers" test -n "$W"
# shellcheck disable=SC2086
$PY "$XT_ROOT/tests/gen_marks.py" mixed 120 "$S" "$D" $W >"$T_TMP/m.log"

# Not UTF-8: a directory named with bytes 0xff 0xfe.
NU=$T_TMP/$(printf 'nu\xff\xfe')
mkdir -p "$NU" && cp "$TR" "$NU/t.xft" && cp "$T_TMP/m.log" "$NU/m.log"
"$XT" report "$NU/t.xft" --marks "$NU/m.log" --format json >"$T_TMP/nu.json" 2>"$T_TMP/nu.err"
t_check "report --marks on a non-UTF-8 path: exit 0" test $? -eq 0
t_check "... the marks section is there, its path with U+FFFD, and 10 trials" \
	$PY -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["marks"]["path"].endswith("nu\ufffd\ufffd/m.log"), r["marks"]["path"]
assert r["marks"]["marks"] == 120, r["marks"]
assert len(r["trials"]) == 10, len(r["trials"])' "$T_TMP/nu.json"
"$XT" report --compare "$NU/t.xft" "$NU/t.xft" --marks-a "$NU/m.log" \
	--marks-b "$NU/m.log" --format json >"$T_TMP/cmp.json" 2>"$T_TMP/cmp.err"
t_check "report --compare on non-UTF-8 paths: exit 0" test $? -eq 0
t_check "... JSON with both sides and ratio 1 for bytes per trial" \
	$PY -c '
import json, sys
r = json.load(open(sys.argv[1]))["compare"]
assert "\ufffd" in r["a"]["file"] and "\ufffd" in r["b"]["marks"], r
assert r["a"]["trials"] == 10 and r["b"]["trials"] == 10, r
assert r["ratios"]["trials_per_min"] == 1.0, r["ratios"]' "$T_TMP/cmp.json"

# TRIAL_END logged before TRIAL_BEGIN: two instances, warned once, counted.
ts() { $PY -c "import sys,time; t=float(sys.argv[1])+float(sys.argv[2]); print(time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(int(t))) + '.%06dZ' % int((t % 1) * 1e6))" "$S" "$1"; }
{
	echo "$(ts 0.05) TRIAL_END param_id=x1"
	echo "$(ts 0.10) TRIAL_BEGIN param_id=x1"
	echo "$(ts 0.15) TRIAL_END param_id=x1"
	echo "$(ts 0.16) TRIAL_END param_id=x2"
	echo "$(ts 0.20) TRIAL_BEGIN param_id=x2"
	echo "$(ts 0.25) TRIAL_BEGIN param_id=x3"
	echo "$(ts 0.30) TRIAL_END param_id=x3"
} >"$T_TMP/order.log"
"$XT" report "$TR" --marks "$T_TMP/order.log" --format json >"$T_TMP/order.json" 2>"$T_TMP/order.err"
t_check "TRIAL_END before TRIAL_BEGIN: one warning line for both" \
	test "$(grep -c 'TRIAL_END marks came before' "$T_TMP/order.err")" -eq 1
t_check "... counted (end_before_begin 2) and listed with line numbers" \
	$PY -c '
import json, sys
r = json.load(open(sys.argv[1]))
m = r["marks"]
assert m["end_before_begin"] == 2, m
lines = [p["line"] for p in m["problems"] if "after a TRIAL_END" in p["reason"]]
assert lines == [2, 5], m["problems"]
ids = sorted(t["id"] for t in r["trials"])
assert ids == ["x1", "x1#2", "x2", "x2#2", "x3"], ids' "$T_TMP/order.json"

# Inputs that never end: stopped at the cap, said in one line, exit 0.
# (timeout only guards against the old hang; it asserts no speed.)
timeout 300 "$XT" report "$TR" --marks /dev/zero >"$T_TMP/z.out" 2>"$T_TMP/z.err"
t_check "--marks /dev/zero: stops, exit 0" test $? -eq 0
t_check "... one line saying it stopped at the cap" \
	test "$(grep -c 'stopped after 512 MiB' "$T_TMP/z.err")" -eq 1
mkfifo "$T_TMP/fifo"
(yes "INFO worker heartbeat, not a mark" >"$T_TMP/fifo" 2>/dev/null) &
t_track $!
timeout 300 "$XT" report "$TR" --marks "$T_TMP/fifo" --format json >"$T_TMP/f.json" 2>"$T_TMP/f.err"
t_check "--marks from a FIFO that never ends: stops, exit 0" test $? -eq 0
t_check "... said in one line; the lines before the cap were read" \
	$PY -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["marks"]["ignored"] > 1000000 and r["marks"]["marks"] == 0, r["marks"]
assert sum(1 for l in open(sys.argv[2]) if "stopped after 512 MiB" in l) == 1' \
	"$T_TMP/f.json" "$T_TMP/f.err"
t_finish
