#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Runs inside a guest (tests/t_kernels.sh boots it with tests/vm/run.sh):
# the accuracy checks for every collection path this kernel offers.
#
#   tests/vm/matrix.sh EXPECTED-HOOKS...
#
# Prints "ok - ..." / "FAIL - ..." lines and, per path, one line
#   row|PATH|FIGURES
# for the kernel x path table. Every socket hook `check` says is ok here
# and every harvest path is run once, paired round-robin (the fewest runs
# that cover them all); an EXPECTED hook that does not load is a failure.
. "$(dirname "$0")/../lib.sh"
GEN=$XT_ROOT/build/tests/xtgen
KS=$XT_ROOT/tests/kstream.py
BR=$XT_ROOT/tests/blockrecv.py
REL=$(uname -r)

row() { echo "row|$1|$2"; }
secs() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# The kernel config: hidden here (a Debian kernel has no /proc/config.gz,
# and this machine's /boot has no config for the guest's kernel), then
# given through a host root (the unpacked package, like /host in a pod).
kconfig_checks() {
	local out
	if [ -e /proc/config.gz ] || [ -e "/boot/config-$REL" ]; then
		t_fail "kconfig: a config is readable in the guest; the hidden case is not tested"
	else
		out=$("$XT" check 2>&1)
		t_check "kconfig hidden: check says none readable and the precise clock" \
			grep -q "^send/recv burst clock: precise (the clock source: CONFIG_HZ unknown)" <<<"$out"
		"$XT" record -o "$T_TMP/nk.xft" -- true >/dev/null 2>"$T_TMP/nk.err"
		t_check "kconfig hidden: record loads (exit $?) and says so in one line" \
			[ "$(grep -c '^xfertrace: no kernel config readable (.*): CONFIG_HZ unknown, bursts timed with the precise clock$' "$T_TMP/nk.err")" -eq 1 ]
		row "kconfig none" "loads; clock precise"
	fi
	out=$(XFERTRACE_HOST_ROOT=$XT_VM_KDIR "$XT" check 2>&1)
	t_check "kconfig under a host root: check names $XT_VM_KDIR/boot/config-$REL" \
		grep -q "^kernel config: CONFIG_HZ=[0-9]* from $XT_VM_KDIR/boot/config-$REL\$" <<<"$out"
	XFERTRACE_HOST_ROOT=$XT_VM_KDIR "$XT" record --clock coarse --strict \
		-o "$T_TMP/hk.xft" -- true >/dev/null 2>"$T_TMP/hk.err"
	t_check "kconfig under a host root: record --clock coarse --strict loads" [ $? -eq 0 ]
	row "kconfig host root" "$(sed -n 's/^kernel config: \(CONFIG_HZ=[0-9]*\) from.*/\1/p' <<<"$out"); clock coarse"
}

# One recording through HOOK and HARVEST: xtgen (IPv4+IPv6, bulk,
# short-lived, reset), the known streams that end at close, and 40 threads
# blocked in recv at once (a kretprobe's instances), all at once.
bytes_run() {
	local h=$1 v=$2 n=$3 d=$T_TMP/run$3 t0 rc fig
	t0=$(date +%s.%N)
	"$XT" record --strict --hooks "$h" --harvest "$v" -o "$d.xft" --interval 100 -- \
		/bin/sh -c "'$GEN' -w 4 -m -s 60 -x 60 -o '$d.truth.json' & \
			'$KS' run -n 5 -o '$d.ks.json' & '$KS' run -n 2 --reset -o '$d.ksr.json' & \
			'$BR' run -o '$d.br.json' & wait" \
		>"$d.out" 2>"$d.err"
	rc=$?
	if [ $rc -ne 0 ]; then
		t_fail "$h/$v: record exit $rc: $(tail -n 2 "$d.err" | tr '\n' ' ')"
		row "tcp-bytes=$h harvest=$v" "FAILED (record exit $rc)"
		return
	fi
	"$XT" report --format json "$d.xft" >"$d.json" 2>"$d.rep.err" ||
		{ t_fail "$h/$v: report: $(head -n 1 "$d.rep.err")"; return; }
	# kprobe programs are skipped on a CPU while a BPF map syscall runs
	# there (bpf_prog_active), our own harvest reads included: counted as
	# prog_misses; the bytes must still be exact.
	local allow=()
	[ "$h" = kprobe ] && allow=(--allow-drop prog_misses)
	$PY "$XT_ROOT/tests/check_bytes.py" --truth "$d.truth.json" --report "$d.json" \
		--label "$h/$v xtgen" --hook "$h" "${allow[@]}" >"$d.check" 2>&1
	t_lines <"$d.check"
	t_checker "" $PY "$KS" check --truth "$d.ks.json" --report "$d.json" --label "$h/$v kstream" "${allow[@]}"
	t_checker "" $PY "$KS" check --truth "$d.ksr.json" --report "$d.json" --label "$h/$v kstream reset" "${allow[@]}"
	t_checker "" $PY "$BR" check --truth "$d.br.json" --report "$d.json" --label "$h/$v blocked receivers"
	t_check "$h/$v: trace says harvest=$v" $PY -c "
import json, sys; sys.exit(json.load(open('$d.json'))['trace']['hooks']['harvest'] != '$v')"
	fig=$($PY - "$d" <<'EOF'
import json, sys
d = sys.argv[1]
r = json.load(open(d + ".json")); t = json.load(open(d + ".truth.json"))
fl = {(f["src"], f["dst"]): f for f in r["flows"]}
def exact(f):
    g = fl.get((f["src"], f["dst"]))
    return g is not None and (g["bytes"], g["tx_bytes"], g["rx_bytes"]) == (f["sent_bytes"], f["sent_bytes"], f["received_bytes"])
ex = sum(1 for f in t.get("flows", []) if exact(f))
tot = sum(f["sent_bytes"] for f in t.get("flows", []))
def ks(p):
    k = json.load(open(p)); n = 0; good = 0
    for x in k["pairs"]:
        for s, dd, tx, rx in ((x["server"], "pid:%d/" % x["client_pid"], x["reply_sent"], x["reply_read"]),
                              ("pid:%d/" % x["client_pid"], x["server"], x["request_sent"], x["request_read"])):
            n += 1
            f = [v for (a, b), v in fl.items() if a.startswith(s) and b.startswith(dd)]
            good += len(f) == 1 and (f[0]["bytes"], f[0]["tx_bytes"], f[0]["rx_bytes"]) == (tx, tx, rx)
    return "%d/%d" % (good, n)
b = json.load(open(d + ".br.json")); bf = [f for f in r["flows"] if f["dst"] == b["server"]]
blk = "%d/%d B" % (bf[0]["rx_bytes"] if len(bf) == 1 else 0, b["read"])
print("xtgen %d/%d flows exact in bytes, tx, rx (%d B); kstream %s; reset %s; 40 blocked receivers %s" % (ex, len(t.get("flows", [])), tot, ks(d + ".ks.json"), ks(d + ".ksr.json"), blk))
EOF
)
	row "tcp-bytes=$h harvest=$v" "$fig; $(secs "$t0") s"
}

if [ ! -x "$XT" ] || [ ! -x "$GEN" ]; then
	t_fail "need $XT and $GEN (make)"
	t_finish
fi
echo "uname|$REL"
kconfig_checks

# Which socket hooks load here, by xfertrace's own probe.
"$XT" check >"$T_TMP/check" 2>&1
hooks=$(awk '$1 == "tcp-bytes" && $NF == "ok" { print $2 }' "$T_TMP/check" | xargs)
for h in tp_btf raw_tp fexit kprobe; do
	grep -E "^tcp-bytes +$h " "$T_TMP/check" | grep -q ' ok$' ||
		row "tcp-bytes=$h" "not here: $(awk -v h=$h '$1 == "tcp-bytes" && $2 == h { $1 = $2 = $3 = ""; print }' "$T_TMP/check" | xargs)"
done
echo "loads|$hooks"
for h in "$@"; do
	t_check "expected hook $h loads here (check: ok)" grep -qw "$h" <<<"$hooks"
done
read -ra H <<<"$hooks"
V=(iter notes map)
n=${#H[@]}
[ ${#V[@]} -gt "$n" ] && n=${#V[@]}
[ ${#H[@]} -gt 0 ] || { t_fail "no socket hook loads here"; t_finish; }
for ((i = 0; i < n; i++)); do
	bytes_run "${H[i % ${#H[@]}]}" "${V[i % ${#V[@]}]}" $i
done

# CPU against schedstat, and listener discovery (iter and proc).
for t in cpu discovery; do
	t0=$(date +%s.%N)
	out=$("$XT_ROOT/tests/t_$t.sh" 2>&1)
	res=$(tail -n 1 <<<"$out")
	t_lines < <(grep -E '^(ok|FAIL) ' <<<"$out" | sed 's/^\(ok\|FAIL\) *- /\1 - '$t': /')
	grep -Eq '^[0-9]+ passed, 0 failed$' <<<"$res" || t_fail "t_$t.sh: $res"
	case $t in
	cpu) row "cpu=$(awk '/^will use for cpu:/ { print $NF }' "$T_TMP/check")" "t_cpu.sh $res (per-thread cpu_ns within 1% of schedstat); $(secs "$t0") s" ;;
	discovery) row "discovery=iter,proc" "t_discovery.sh $res (IPv4+IPv6 each); $(secs "$t0") s" ;;
	esac
done
t_finish
