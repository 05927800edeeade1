#!/bin/bash
# The user code under AddressSanitizer (with LeakSanitizer) and UBSan, and
# `report` under valgrind. Builds build/asan (`make OUTPUT=build/asan
# SAN=1 CC=clang`: clang's UBSan also flags NULL + 0), records a short real trace (xtgen: 3 workers with known bytes,
# plus live marks over the marks socket), then runs the sanitized binary's
# report as text and JSON, with a marks file, --compare (also on paths
# that are not UTF-8) and the unit tests: any sanitizer report fails.
# Finally valgrind --leak-check=full on the normal binary's report.
. "$(dirname "$0")/lib.sh"
ASAN=$XT_ROOT/build/asan/xfertrace
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

t_need_tracer
if ! make -C "$XT_ROOT" OUTPUT=build/asan SAN=1 CC=clang -j2 all >"$T_TMP/build.log" 2>&1; then
	t_fail "build with SAN=1: $(grep -m1 -E 'error' "$T_TMP/build.log")"
	t_finish
fi
t_pass "user code and unit tests build (clang) with -fsanitize=address,undefined"

# A short real trace with live marks (sent while xtgen runs).
cat >"$T_TMP/send.py" <<'EOF'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for l in ["TRIAL_BEGIN param_id=s1 run_id=r1",
          "SIM_TIMING: param_id=s1 seed=1 duration_ms=5.0 worker=tcp://127.0.0.1:1",
          "AGG_TIMING: run_id=r1 param_id=s1 target=t0 n_sim_returns=1 n_outputs=1 total_inline_mb=0.01 max_single_kb=5.0 duration_ms=2.0 worker=tcp://127.0.0.1:1",
          "TRIAL_END param_id=s1", "not a mark"]:
    for _ in range(50):
        try:
            s.sendto(l.encode(), sys.argv[1])
            break
        except OSError:
            time.sleep(0.05)
EOF
record_it() {
	"$XT" record -o "$T_TMP/a.xft" --interval 100 \
		--marks-socket "$T_TMP/m.sock" -- bash -c \
		"$PY '$T_TMP/send.py' '$T_TMP/m.sock' && '$XT_ROOT/build/tests/xtgen' -w 3 -o '$T_TMP/truth.txt'" \
		>"$T_TMP/rec.out" 2>&1
}
t_check "record a short trace (xtgen, 3 workers, live marks)" record_it
"$XT" report "$T_TMP/a.xft" --format json >"$T_TMP/a.json" 2>/dev/null
read -r S D W < <($PY - "$T_TMP/a.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
w = [x["endpoint"] for x in r["workers"] if x["role"] == "worker"]
print(r["trace"]["start_unix"], r["trace"]["duration_ns"], " ".join(w))
EOF
)
# shellcheck disable=SC2086
$PY "$XT_ROOT/tests/gen_marks.py" mixed 600 "$S" "$D" $W >"$T_TMP/m.log"
# shellcheck disable=SC2086
$PY "$XT_ROOT/tests/gen_marks.py" oneid 200 "$S" "$D" $W >"$T_TMP/begin-end.log"
t_check "a marks file for the trace's workers" test -s "$T_TMP/m.log"
# Paths that are not UTF-8: the JSON must still hold them.
NU=$T_TMP/$(printf 'nu\xff\xfe')
mkdir -p "$NU" && cp "$T_TMP/a.xft" "$NU/b.xft" && cp "$T_TMP/m.log" "$NU/m.log"

# san NAME ARGS...: the sanitized binary exits 0 (san_err: 1, a clean
# error) and its stderr holds no sanitizer report.
WANT_RC=0
san() {
	local name=$1 rc
	shift
	"$ASAN" "$@" >"$T_TMP/san.out" 2>"$T_TMP/san.err"
	rc=$?
	if [ $rc -eq "$WANT_RC" ] && ! grep -qE 'Sanitizer|runtime error' "$T_TMP/san.err"; then
		t_pass "ASan+UBSan: $name"
	else
		t_fail "ASan+UBSan: $name (exit $rc): $(grep -m1 -E 'ERROR|runtime error|error:' "$T_TMP/san.err")"
	fi
}
san "report (text)" report "$T_TMP/a.xft"
san "report --format json (live marks)" report "$T_TMP/a.xft" --format json
san "report --marks FILE" report "$T_TMP/a.xft" --marks "$T_TMP/m.log"
san "report --marks FILE (TRIAL_BEGIN/END only: no task claims CPU)" \
	report "$T_TMP/a.xft" --marks "$T_TMP/begin-end.log" --format json
san "report --marks FILE --format json" report "$T_TMP/a.xft" --marks "$T_TMP/m.log" --format json
san "report --compare A B" report --compare "$T_TMP/a.xft" "$NU/b.xft" --marks-b "$NU/m.log"
san "report --compare A B --format json (paths not UTF-8)" \
	report --compare "$T_TMP/a.xft" "$NU/b.xft" --marks-b "$NU/m.log" --format json
t_check "--compare JSON keeps a path that is not UTF-8 (U+FFFD)" \
	$PY -c 'import json,sys; r=json.load(open(sys.argv[1])); assert "\ufffd" in r["compare"]["b"]["file"], r' "$T_TMP/san.out"
WANT_RC=1 san "report of an empty file: an error, nothing else" report /dev/null
san "report --marks /dev/null" report "$T_TMP/a.xft" --marks /dev/null

for u in "$XT_ROOT"/build/asan/tests/unit_*; do
	[ -x "$u" ] || continue
	if "$u" >"$T_TMP/unit.out" 2>&1 && ! grep -qE 'Sanitizer|runtime error' "$T_TMP/unit.out"; then
		t_pass "ASan+UBSan: $(basename "$u"): $(tail -n 1 "$T_TMP/unit.out")"
	else
		t_fail "ASan+UBSan: $(basename "$u"): $(grep -m1 -E 'ERROR|runtime error|FAIL' "$T_TMP/unit.out")"
	fi
done

# valgrind on the normal binary (ASan and valgrind do not mix).
if command -v valgrind >/dev/null; then
	vg() {
		# shellcheck disable=SC2086
		valgrind -q --leak-check=full --error-exitcode=1 "$XT" $1 \
			>/dev/null 2>"$T_TMP/vg.err"
	}
	for args in "report $T_TMP/a.xft" "report $T_TMP/a.xft --marks $T_TMP/m.log --format json"; do
		t_check "valgrind --leak-check=full: $args" vg "$args"
		[ -s "$T_TMP/vg.err" ] && head -n 5 "$T_TMP/vg.err"
	done
else
	t_fail "valgrind not installed (tools/deps.sh)"
fi
t_finish
