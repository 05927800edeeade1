#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Loading never needs a readable kernel config. In a private mount
# namespace (unshare -m) with /boot hidden under a tmpfs and an empty file
# over /proc/config.gz: check says none is readable and the precise clock,
# record loads and says so in one line, a forced coarse clock with --strict
# is refused in one line. Then the config is given by XFERTRACE_KCONFIG
# (gzip) and under XFERTRACE_HOST_ROOT, and check names each file.
. "$(dirname "$0")/lib.sh"
t_need_tracer
REL=$(uname -r)
: >"$T_TMP/empty"
mkdir -p "$T_TMP/host/boot"
printf '# test\nCONFIG_HZ_300=y\nCONFIG_HZ=300\n' >"$T_TMP/host/boot/config-$REL"
gzip -c "$T_TMP/host/boot/config-$REL" >"$T_TMP/config.gz"

# hidden CMD...: run CMD with no config readable.
hidden() {
	unshare -m /bin/sh -c 'mount -t tmpfs none /boot &&
		{ [ ! -e /proc/config.gz ] || mount --bind "$0" /proc/config.gz; } &&
		{ [ ! -d /host ] || mount -t tmpfs none /host; } && exec "$@"' \
		"$T_TMP/empty" "$@"
}

if ! hidden true 2>"$T_TMP/unshare.err"; then
	t_fail "unshare -m with tmpfs over /boot: $(head -n 1 "$T_TMP/unshare.err")"
	t_finish
fi
hidden "$XT" check >"$T_TMP/check" 2>&1
t_check "hidden: check says no config is readable" \
	grep -q "^kernel config: none readable (tried /proc/config.gz, /boot/config-$REL" "$T_TMP/check"
t_check "hidden: check says the precise clock will be used" \
	grep -q "^send/recv burst clock: precise (the clock source: CONFIG_HZ unknown)$" "$T_TMP/check"
hidden "$XT" record -o "$T_TMP/a.xft" -- /bin/true >/dev/null 2>"$T_TMP/a.err"
t_check "hidden: record loads and exits 0" [ $? -eq 0 ]
t_check "hidden: exactly one line says the config is unreadable and the precise clock is used" \
	[ "$(grep -c '^xfertrace: no kernel config readable (.*): CONFIG_HZ unknown, bursts timed with the precise clock$' "$T_TMP/a.err")" -eq 1 ]
"$XT" report "$T_TMP/a.xft" --format json >"$T_TMP/a.json" 2>/dev/null
t_check "hidden: the trace says clock precise" \
	$PY -c "import json,sys; sys.exit(json.load(open('$T_TMP/a.json'))['trace']['hooks']['clock'] != 'precise')"
hidden "$XT" record --clock coarse --strict -o "$T_TMP/b.xft" -- /bin/true >/dev/null 2>"$T_TMP/b.err"
t_check "hidden: --clock coarse --strict is refused (exit $?) in one error line" \
	grep -q '^xfertrace: error: clock: the coarse clock needs CONFIG_HZ' "$T_TMP/b.err"

XFERTRACE_KCONFIG=$T_TMP/config.gz hidden "$XT" check >"$T_TMP/check2" 2>&1
t_check "XFERTRACE_KCONFIG (gzip): check names it with CONFIG_HZ=300" \
	grep -qx "kernel config: CONFIG_HZ=300 from $T_TMP/config.gz" "$T_TMP/check2"
XFERTRACE_HOST_ROOT=$T_TMP/host hidden "$XT" check >"$T_TMP/check3" 2>&1
t_check "XFERTRACE_HOST_ROOT: check names its boot/config-$REL" \
	grep -qx "kernel config: CONFIG_HZ=300 from $T_TMP/host/boot/config-$REL" "$T_TMP/check3"
t_check "a host root's config: the coarse clock" \
	grep -qx "send/recv burst clock: coarse (jiffies)" "$T_TMP/check3"
XFERTRACE_HOST_ROOT=$T_TMP/host hidden "$XT" record --clock coarse --strict \
	-o "$T_TMP/c.xft" -- /bin/true >/dev/null 2>"$T_TMP/c.err"
t_check "a host root's config: record --clock coarse --strict loads" [ $? -eq 0 ]
t_check "a host root's config: the recording says clock=coarse" \
	grep -q "clock=coarse)" "$T_TMP/c.err"
t_finish
