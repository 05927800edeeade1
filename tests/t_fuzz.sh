#!/bin/bash
# libFuzzer targets (tests/fuzz/fuzz_*.c: trace reader+model+report, marks
# line parser, marks datagram handler, option and number parsers), built
# with clang -fsanitize=fuzzer,address,undefined into build/fuzz and run
# briefly each (FUZZ_SECS, 12 s by default) from their seed corpora, which
# hold every crash found so far. Any crash, leak or UB fails. `make fuzz`
# runs them longer.
. "$(dirname "$0")/lib.sh"
if ! make -C "$XT_ROOT" OUTPUT=build/fuzz FUZZ=1 -j2 fuzz-bins >"$T_TMP/build.log" 2>&1; then
	t_fail "build the fuzz targets: $(grep -m1 -E 'error' "$T_TMP/build.log")"
	t_finish
fi
n=$(ls "$XT_ROOT"/build/fuzz/fuzz/fuzz_* 2>/dev/null | wc -l)
t_check "4 fuzz targets built with clang -fsanitize=fuzzer,address,undefined" \
	test "$n" -eq 4
t_checker "" "$XT_ROOT/tests/fuzz/run.sh" "$XT_ROOT/build/fuzz" "${FUZZ_SECS:-12}"
t_finish
