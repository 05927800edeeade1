#!/bin/bash
# Run every libFuzzer target in DIR (built by `make OUTPUT=DIR/.. FUZZ=1
# fuzz-bins`) for SECONDS each, from its seed corpus tests/fuzz/corpus/NAME
# (replayed first, so every past crash is tried again). New inputs go to a
# scratch corpus; a crash leaves its input in DIR/crashes/ and fails.
# usage: run.sh BUILD_DIR SECONDS   Prints "ok/FAIL - NAME" lines.
here=$(cd "$(dirname "$0")" && pwd)
dir=$1
secs=${2:-12}
fail=0
mkdir -p "$dir/crashes"
for bin in "$dir"/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	name=${bin##*/fuzz_}
	seeds=$here/corpus/$name
	work=$(mktemp -d /tmp/xt-fuzz-$name.XXXXXX)
	log=$dir/fuzz_$name.log
	# -close_fd_mask=3: the targets' own output is noise; libFuzzer and
	# the sanitizers keep their (duplicated) stderr for reports.
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	ASAN_OPTIONS=detect_leaks=1 \
	"$bin" "$work" "$seeds" -max_total_time="$secs" -max_len=65536 \
		-timeout=10 -rss_limit_mb=2048 -close_fd_mask=3 \
		-artifact_prefix="$dir/crashes/$name-" >"$log" 2>&1
	rc=$?
	runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -n 1)
	if [ $rc -eq 0 ]; then
		echo "ok   - fuzz $name: ${runs:-done} in ${secs}s, no crash"
	else
		fail=1
		echo "FAIL - fuzz $name: exit $rc, see $log and $dir/crashes/"
		grep -m 3 -E 'ERROR|runtime error|SUMMARY|abort' "$log" | sed 's/^/     /'
	fi
	rm -rf "$work"
done
exit $fail
