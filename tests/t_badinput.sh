#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Bad input: every misuse gets exactly one non-empty line on stderr,
# nothing on stdout and an exit status in 1..127 (no crash): unknown
# flags and subcommands, contradictory values, missing/empty/random
# files, a damaged file header, and `record` without privilege (user
# nobody). A trace cut at several byte offsets is still reported: exit
# 0, a stderr line with "truncated" and the offset where reading stopped,
# trace.truncated == true, and the same flows/workers as the file cut at
# the last whole chunk. A flipped byte inside a chunk is reported as a
# CRC error. Keep the temporary files with T_KEEP=1.
. "$(dirname "$0")/lib.sh"
GEN=$XT_ROOT/build/tests/xtgen
RAN=$T_TMP/command-ran

# nlines FILE: lines in FILE, counting an unterminated last line.
nlines() { awk 'END { print NR }' "$1"; }

# expect_error DESC CMD...: exit 1..127, one non-empty stderr line, no stdout.
expect_error() {
	local d=$1 rc n
	shift
	(cd "$T_TMP/cwd" && exec "$@") >"$T_TMP/e.out" 2>"$T_TMP/e.err" </dev/null
	rc=$?
	n=$(nlines "$T_TMP/e.err")
	if [ "$rc" -gt 0 ] && [ "$rc" -lt 128 ] && [ "$n" -eq 1 ] &&
	   grep -q '[^[:space:]]' "$T_TMP/e.err" && [ ! -s "$T_TMP/e.out" ]; then
		t_pass "$d: exit $rc, \"$(cat "$T_TMP/e.err")\""
	else
		t_fail "$d: exit $rc, $n stderr lines, $(wc -c <"$T_TMP/e.out") stdout bytes: $(head -c 400 "$T_TMP/e.err" | tr '\n' '|')"
	fi
	if ls "$T_TMP"/cwd/core* >/dev/null 2>&1; then
		t_fail "$d: left a core file"
		rm -f "$T_TMP"/cwd/core*
	fi
}

# record_error DESC ARGS...: like expect_error for `record ARGS -- touch RAN`,
# and the command must not have run.
record_error() {
	local d=$1
	shift
	rm -f "$RAN"
	expect_error "$d" "$XT" record "$@" -- touch "$RAN"
	t_check "$d: command not started" [ ! -e "$RAN" ]
}

# Chunk layout of a trace: prints "HDR_END" then "START END" per chunk.
chunks() {
	$PY - "$1" <<'EOP'
import struct, sys
b = open(sys.argv[1], "rb").read()
jl = struct.unpack_from("<I", b, 16)[0]
off = 24 + jl
print(off)
while off + 16 <= len(b):
    magic, raw, zl, crc = struct.unpack_from("<IIII", b, off)
    if magic != 0x4b435458:
        break
    print(off, off + 16 + zl)
    off += 16 + zl
EOP
}

# same_model A.json B.json: flows and per-process numbers identical.
same_model() {
	$PY - "$1" "$2" <<'EOP'
import json, sys
def key(p):
    try:
        r = json.load(open(p))
    except ValueError as e:
        print("%s: %s" % (p, e))
        sys.exit(1)
    fl = sorted((f["src"], f["dst"], f["bytes"], f["tx_bytes"], f["rx_bytes"])
                for f in r["flows"])
    ws = sorted((w["pid"], w["endpoint"], w["tx_bytes"], w["rx_bytes"], w["cpu_ns"])
                for w in r["workers"])
    return fl, ws
a, b = key(sys.argv[1]), key(sys.argv[2])
if a != b:
    print("flows/workers differ: %d/%d vs %d/%d entries"
          % (len(a[0]), len(a[1]), len(b[0]), len(b[1])))
    sys.exit(1)
EOP
}

differ() { ! cmp -s "$1" "$2"; }

# json_true FILE EXPR: EXPR (Python, over the report r) holds.
json_true() {
	$PY -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2" 2>/dev/null
}

# check_cut NAME FILE GOOD: report of a cut/damaged FILE whose whole
# chunks end at GOOD. WORD must appear in the warning.
check_cut() {
	local name=$1 f=$2 good=$3 word=$4 size rc
	size=$(stat -c %s "$f")
	"$XT" report --format json "$f" >"$f.json" 2>"$f.err"
	rc=$?
	t_check "$name: report exits 0 (got $rc: $(head -n 2 "$f.err" | tr '\n' '|'))" [ "$rc" -eq 0 ]
	if grep -i "$word" "$f.err" | grep -Eq "(^|[^0-9])($good|$size)([^0-9]|$)"; then
		t_pass "$name: stderr says \"$word\" at offset $good"
	else
		t_fail "$name: no \"$word\" line with offset $good or $size: $(head -n 3 "$f.err" | tr '\n' '|')"
	fi
	t_check "$name: JSON parses, trace.truncated == true" \
		json_true "$f.json" 'r["trace"]["truncated"] is True'
	head -c "$good" "$VALID" >"$f.whole"
	if "$XT" report --format json "$f.whole" >"$f.whole.json" 2>/dev/null; then
		t_check "$name: same flows/workers as the file cut at the last whole chunk ($good)" \
			same_model "$f.json" "$f.whole.json"
	else
		t_fail "$name: report of the file cut at $good failed"
	fi
	"$XT" report "$f" >/dev/null 2>&1
	rc=$?
	t_check "$name: text report does not crash (exit $rc)" [ "$rc" -lt 128 ]
}

if [ ! -x "$XT" ]; then
	t_fail "need $XT (make)"
	t_finish
fi
mkdir -p "$T_TMP/cwd"
ulimit -c unlimited 2>/dev/null

# --- command line ---
expect_error "unknown flag" "$XT" --no-such-flag
expect_error "unknown subcommand" "$XT" frobnicate
expect_error "report: unknown flag" "$XT" report --no-such-flag "$T_TMP/x.xft"
record_error "record: unknown flag" --no-such-flag
record_error "record --interval 0" --interval 0
record_error "record --interval abc" --interval abc
record_error "record --interval 10x" --interval 10x
record_error "record --duration -1" --duration -1
record_error "record --hooks bogus" --hooks bogus
record_error "record -o into a missing directory" -o "$T_TMP/no/such/dir/x.xft"

# --- files that are not traces ---
expect_error "report: missing file" "$XT" report "$T_TMP/does-not-exist.xft"
: >"$T_TMP/empty.xft"
expect_error "report: empty file" "$XT" report "$T_TMP/empty.xft"
head -c 65536 /dev/urandom >"$T_TMP/random.xft"
expect_error "report: random bytes" "$XT" report "$T_TMP/random.xft"
expect_error "report: random bytes, json" "$XT" report --format json "$T_TMP/random.xft"
expect_error "report: a directory" "$XT" report "$T_TMP/cwd"

# --- a real trace (several chunks: 4000 short connections), then damaged copies ---
VALID=$T_TMP/valid.xft
if [ -x "$GEN" ]; then
	"$XT" record -o "$VALID" --interval 100 -- "$GEN" -w 3 -b 65536 -r 1 -s 4000 \
		>/dev/null 2>"$T_TMP/valid.err"
else
	"$XT" record -o "$VALID" --interval 100 -- sleep 1 >/dev/null 2>"$T_TMP/valid.err"
fi
rc=$?
if [ "$rc" -ne 0 ] || [ ! -s "$VALID" ]; then
	t_fail "record a valid trace: exit $rc: $(head -n 3 "$T_TMP/valid.err" | tr '\n' '|')"
	t_finish
fi
expect_error "report --format yaml" "$XT" report --format yaml "$VALID"
expect_error "report: several files, one not a trace" "$XT" report "$VALID" "$T_TMP/random.xft"
"$XT" report --format json "$VALID" >"$T_TMP/valid.json" 2>"$T_TMP/valid.rep.err"
t_check "valid trace: report exits 0, trace.truncated == false, no stderr" \
	json_true "$T_TMP/valid.json" 'r["trace"]["truncated"] is False'
t_check "valid trace: report writes nothing on stderr" [ ! -s "$T_TMP/valid.rep.err" ]

mapfile -t LAYOUT < <(chunks "$VALID")
HDR_END=${LAYOUT[0]}
NCH=$((${#LAYOUT[@]} - 1))
SIZE=$(stat -c %s "$VALID")
read -r _ LAST_END <<<"${LAYOUT[$NCH]}"
t_check "valid trace: $NCH whole chunks end exactly at the file end" \
	[ "$NCH" -ge 1 -a "${LAST_END:-0}" -eq "$SIZE" ]
[ "$NCH" -ge 2 ] || echo "# note: only $NCH chunk(s); fewer truncation points"

# Cut inside the file header and inside the JSON header: nothing usable.
head -c 10 "$VALID" >"$T_TMP/cut-filehdr.xft"
expect_error "report: cut inside the file header (10 bytes)" "$XT" report "$T_TMP/cut-filehdr.xft"
head -c $(((24 + HDR_END) / 2)) "$VALID" >"$T_TMP/cut-json.xft"
expect_error "report: cut inside the header JSON" "$XT" report "$T_TMP/cut-json.xft"
cp "$VALID" "$T_TMP/flip-json.xft"
printf '\x01' | dd of="$T_TMP/flip-json.xft" bs=1 seek=$(((24 + HDR_END) / 2)) conv=notrunc status=none
expect_error "report: header JSON with a flipped byte" "$XT" report "$T_TMP/flip-json.xft"

# Cuts inside the chunk area: (chunk index, offset within the chunk).
n=0
for c in $(printf '%s\n' 1 $(((NCH + 1) / 2)) "$NCH" | sort -un); do
	read -r s e <<<"${LAYOUT[$c]}"
	for cut in $((s + 7)) $(((s + 16 + e) / 2)) $((e - 1)); do
		[ "$cut" -gt "$s" ] && [ "$cut" -lt "$e" ] || continue
		n=$((n + 1))
		head -c "$cut" "$VALID" >"$T_TMP/cut$n.xft"
		check_cut "cut at byte $cut (chunk $c of $NCH, $s..$e)" \
			"$T_TMP/cut$n.xft" "$s" truncated
	done
done

# One flipped byte inside a chunk's compressed body: a CRC error.
c=$(((NCH + 1) / 2))
read -r s e <<<"${LAYOUT[$c]}"
pos=$(((s + 16 + e) / 2))
cp "$VALID" "$T_TMP/flip.xft"
old=$(od -An -tu1 -j "$pos" -N1 "$VALID" | tr -d ' ')
printf "\\$(printf '%03o' $((old ^ 0x5a)))" |
	dd of="$T_TMP/flip.xft" bs=1 seek="$pos" conv=notrunc status=none
t_check "flip: byte $pos changed" differ "$VALID" "$T_TMP/flip.xft"
check_cut "flipped byte $pos (chunk $c of $NCH)" "$T_TMP/flip.xft" "$s" crc

# --- no privilege ---
NB=$T_TMP/nobody
mkdir -p "$NB"
chmod 755 "$T_TMP"
chmod 777 "$NB"
XTNB=$XT
if ! setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$XT"; then
	cp "$XT" "$NB/xfertrace"
	chmod 755 "$NB/xfertrace"
	XTNB=$NB/xfertrace
fi
rm -f "$RAN"
expect_error "record as nobody" setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$XTNB" record -o "$NB/nobody.xft" -- touch "$RAN"
if grep -Eiq 'root|CAP_BPF' "$T_TMP/e.err"; then
	t_pass "record as nobody: message mentions root/CAP_BPF"
else
	t_fail "record as nobody: message does not mention root or CAP_BPF: $(head -c 300 "$T_TMP/e.err")"
fi
t_check "record as nobody: command not started" [ ! -e "$RAN" ]
expect_error "check as nobody" setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$XTNB" check
t_finish
