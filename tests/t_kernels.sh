#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# The kernel matrix: boot Debian 12's newest 6.1 and newest 6.12 kernels
# under QEMU (tests/vm/run.sh) and run tests/vm/matrix.sh in each: the
# kernel config hidden and given, exact bytes through every socket hook
# the kernel offers and every harvest path, per-thread CPU against
# schedstat, listener discovery. Writes the kernel x path table to
# build/kernel-matrix.md (docs/kernels.md shows it).
#
# XT_KERNELS_DASK=1 also runs the calibration-like Dask workload in the
# first kernel's guest (tests/vm/dask.sh: flows within 0.5% of Dask's
# transfer_outgoing_log; about 7 minutes under TCG, so not by default).
# XT_KERNELS="pkg:expected-hooks ..." overrides the kernels, e.g.
#   XT_KERNELS="linux-image-6.1.0-57-amd64-unsigned:fexit,kprobe"
. "$(dirname "$0")/lib.sh"
RUN=$XT_ROOT/tests/vm/run.sh
TABLE=$XT_ROOT/build/kernel-matrix.md

# newest PATTERN: the newest linux-image-PATTERN-amd64-unsigned package.
newest() {
	apt-cache search --names-only "^linux-image-$1-amd64-unsigned\$" 2>/dev/null |
		awk '{ print $1 }' | sort -V | tail -n 1
}

kernels() {
	local k61 k612
	if [ -n "${XT_KERNELS:-}" ]; then
		echo "$XT_KERNELS"
		return
	fi
	k61=$(newest '6\.1\.0-[0-9]+')
	k612=$(newest '6\.12\.[0-9]+\+deb12')
	if [ -z "$k61" ] || [ -z "$k612" ]; then
		apt-get update -qq >/dev/null 2>&1
		k61=$(newest '6\.1\.0-[0-9]+')
		k612=$(newest '6\.12\.[0-9]+\+deb12')
	fi
	echo "${k61:-linux-image-6.1-none}:fexit,kprobe ${k612:-linux-image-6.12-none}:tp_btf,raw_tp"
}

# One guest: boot, run the matrix, collect its results.
guest() {
	local pkg=$1 hooks=$2 out

	out=$XT_ROOT/build/vm/out/$pkg
	"$RUN" -t "${XT_VM_TIMEOUT:-600}" -o "$out" "$pkg" \
		tests/vm/matrix.sh ${hooks//,/ } 2>"$out.err"
	echo $? >"$out.rc"
}

# One line per kernel for README, from the table's own rows.
summary() {
	awk -F' [|] ' -v d="$(date -u +%Y-%m-%d)" '
	/^\| [0-9]/ {
		k = $1; sub(/^\| /, "", k)
		if (!(k in seen)) { seen[k] = 1; order[n++] = k }
		if ($2 ~ /^tcp-bytes=[a-z_]+ harvest=/ && $3 ~ /^xtgen /) {
			split($2, a, /[= ]/)
			if (index(hooks[k], a[2]) == 0) hooks[k] = hooks[k] (hooks[k] ? ", " : "") a[2]
			if (index(harv[k], a[4]) == 0) harv[k] = harv[k] (harv[k] ? ", " : "") a[4]
		}
		if ($2 ~ /^cpu=/) { cpu[k] = substr($2, 5) }
	}
	END {
		for (i = 0; i < n; i++) {
			k = order[i]
			printf "- Linux %s: tcp-bytes through %s (harvest %s), cpu through %s, listener discovery iter and /proc; loads with and without a readable kernel config (tests/t_kernels.sh, %s).\n", k, hooks[k], harv[k], cpu[k], d
		}
	}' "$TABLE"
}

# put_block FILE CONTENT: replace what is between the kernel-matrix markers.
put_block() {
	awk -v f="$2" '
	BEGIN { while ((getline l < f) > 0) c = c l "\n" }
	/<!-- kernel-matrix:begin -->/ { print; printf "%s", c; skip = 1; next }
	/<!-- kernel-matrix:end -->/ { skip = 0 }
	!skip' "$1" >"$1.tmp" && mv "$1.tmp" "$1"
}

if [ ! -x "$XT" ] || [ ! -x "$XT_ROOT/build/tests/xtgen" ]; then
	t_fail "need $XT and build/tests/xtgen (make)"
	t_finish
fi
read -ra KS <<<"$(kernels)"
T0=$(date +%s)
# Each guest is one host thread (TCG): two run side by side on 2 cores.
for k in "${KS[@]}"; do
	mkdir -p "$XT_ROOT/build/vm/out"
	guest "${k%%:*}" "${k#*:}" &
done
if [ "${XT_KERNELS_DASK:-0}" = 1 ]; then
	k=${KS[0]%%:*}
	"$RUN" -t 1500 -o "$XT_ROOT/build/vm/out/dask-$k" "$k" tests/vm/dask.sh \
		2>"$XT_ROOT/build/vm/out/dask-$k.err" &
fi
wait

{
	echo "| kernel | path | figures |"
	echo "|---|---|---|"
} >"$TABLE.tmp"
for k in "${KS[@]}"; do
	pkg=${k%%:*}
	out=$XT_ROOT/build/vm/out/$pkg
	rc=$(cat "$out.rc" 2>/dev/null)
	if [ "$rc" = 125 ] || [ ! -s "$out/log" ]; then
		t_fail "$pkg: $(tail -n 1 "$out.err" 2>/dev/null)"
		echo "| $pkg | - | did not run: $(tail -n 1 "$out.err" 2>/dev/null) |" >>"$TABLE.tmp"
		continue
	fi
	rel=$(sed -n 's/^uname|//p' "$out/log")
	t_lines < <(grep -E '^(ok|FAIL) ' "$out/log" | awk -v r="$rel" '{ $2 = "- " r ":"; print }')
	grep -Eq '^[0-9]+ passed, 0 failed$' "$out/log" || t_fail "$rel: $(tail -n 1 "$out/log")"
	# Every hook that loads and every harvest path has a row with figures.
	for p in $(sed -n 's/^loads|//p' "$out/log") iter notes map; do
		grep -Eq "^row\|tcp-bytes=($p harvest=[a-z]+|[a-z_]+ harvest=$p)\|xtgen " "$out/log" ||
			t_fail "$rel: path $p loads here but was not run"
	done
	boot=$(sed -n 's/.*xt-vm: booted .* in \([0-9.]*\) s.*/\1/p' "$out/console.log")
	echo "$rel: boot ${boot:-?} s, whole guest $(cat "$out/seconds") s"
	echo "| $rel | boot | ${boot:-?} s to init (TCG, 2 vCPUs, 2 GiB); whole guest run $(cat "$out/seconds") s |" >>"$TABLE.tmp"
	awk -F'|' -v r="$rel" '$1 == "row" { print "| " r " | " $2 " | " $3 " |" }' "$out/log" >>"$TABLE.tmp"
done
if [ "${XT_KERNELS_DASK:-0}" = 1 ]; then
	out=$XT_ROOT/build/vm/out/dask-${KS[0]%%:*}
	if [ -s "$out/log" ]; then
		t_lines < <(grep -E '^(ok|FAIL) ' "$out/log" | awk -v r="${KS[0]%%:*}" '{ $2 = "- " r ":"; print }')
		grep -Eq '^[0-9]+ passed, 0 failed$' "$out/log" || t_fail "dask: $(tail -n 1 "$out/log")"
		awk -F'|' -v r="$(sed -n 's/^uname|//p' "$XT_ROOT/build/vm/out/${KS[0]%%:*}/log")" \
			'$1 == "row" { print "| " r " | " $2 " | " $3 " |" }' "$out/log" >>"$TABLE.tmp"
	else
		t_fail "dask guest: $(tail -n 1 "$out.err" 2>/dev/null)"
	fi
fi
mv "$TABLE.tmp" "$TABLE"
summary >"$XT_ROOT/build/kernel-matrix-summary.md"
if [ "${XT_UPDATE_DOCS:-0}" = 1 ] && [ "$T_FAIL" -eq 0 ]; then
	put_block "$XT_ROOT/docs/kernels.md" "$TABLE"
	put_block "$XT_ROOT/README.md" "$XT_ROOT/build/kernel-matrix-summary.md"
fi
echo "matrix (also in $TABLE), $(($(date +%s) - T0)) s:"
cat "$TABLE"
t_finish
