# Shared helpers for shell test programs. Source it; call t_pass/t_fail;
# end with t_finish, which prints "N passed, N failed" and sets the exit code.
XT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
XT=${XT:-$XT_ROOT/build/xfertrace}
PY=/usr/bin/python3
T_PASS=0
T_FAIL=0
T_PIDS=()
T_TMP=$(mktemp -d /tmp/xt-test.XXXXXX)

t_pass() { T_PASS=$((T_PASS + 1)); echo "ok   - $*"; }
t_fail() { T_FAIL=$((T_FAIL + 1)); echo "FAIL - $*"; }
# t_check DESC CMD...: passes when CMD exits 0.
t_check() {
	local d=$1; shift
	if "$@"; then t_pass "$d"; else t_fail "$d"; fi
}
# Remember a PID we started so cleanup stops only it.
t_track() { T_PIDS+=("$1"); }
t_cleanup() {
	local p
	for p in "${T_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.2
	for p in "${T_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	[ -n "${T_KEEP:-}" ] || rm -rf "$T_TMP"
}
trap t_cleanup EXIT
# Turn a checker's "ok DESC" / "FAIL DESC: why" lines into t_pass/t_fail.
t_lines() {
	local st rest
	while read -r st rest; do
		case $st in
		ok) t_pass "${rest#- }" ;;
		FAIL) t_fail "${rest#- }" ;;
		esac
	done
}
# t_checker TAG CMD...: run a checker and count its "ok   - " / "FAIL - "
# lines, prefixed with TAG (may be empty); other lines are shown as is.
t_checker() {
	local tag=$1 out line
	shift
	out=$("$@" 2>&1)
	while IFS= read -r line; do
		case $line in
		"ok   - "*) t_pass "${tag:+$tag: }${line#ok   - }" ;;
		"FAIL - "*) t_fail "${tag:+$tag: }${line#FAIL - }" ;;
		*" passed, "*" failed") ;;
		*) echo "     $line" ;;
		esac
	done <<<"$out"
	[ -n "$out" ] || t_fail "${tag:+$tag: }checker printed nothing: $*"
}
# t_need_tracer: stop the program, with one failure, unless the binary is
# built and can trace here.
t_need_tracer() {
	if [ ! -x "$XT" ]; then
		t_fail "no $XT (run make)"
		t_finish
	fi
	if ! "$XT" check >"$T_TMP/check.out" 2>&1; then
		t_fail "xfertrace check: $(tail -n 1 "$T_TMP/check.out")"
		t_finish
	fi
}
# wait_gone PID SECONDS: poll until PID is gone; 1 on timeout.
wait_gone() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}
t_finish() {
	echo "$T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" -eq 0 ]
	exit $?
}
