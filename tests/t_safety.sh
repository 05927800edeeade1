#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Regression tests for issue 11, items 2-5, 7 and 9 (files and sockets):
# - a failed start (bad marks socket, unsafe socket directory) leaves an
#   existing trace byte-identical and no temporary file behind;
# - a symbolic link at -o is refused (its target untouched, a dangling
#   one not created); a new or replaced trace is mode 0640 whatever the
#   umask and the old file's mode;
# - a marks socket directory others can write (1777, group-writable by a
#   foreign group) is refused with one line; the socket is 0660 with no
#   chmod; --marks-group sets its group, and then user nobody's marks
#   arrive; without it nobody's marks are lost, and the helper says so
#   once at once and once at exit with the exact count;
# - a 2000-mark burst from the helper all arrives (counted in the report);
# - the helper is silent when no tracer listens (no socket, stale socket);
# - a damaged record inside a chunk: the warning names that chunk's offset
#   and exactly how many of its records were kept (counted here);
# - control characters in a crafted header's host never reach the output.
. "$(dirname "$0")/lib.sh"
export PYTHONPATH=$XT_ROOT/tools
export PYTHONDONTWRITEBYTECODE=1
D=$T_TMP/d
mkdir -m 0700 "$D"

# t_st $? DESC: pass or fail DESC by the status of the command just run.
t_st() { if [ "$1" -eq 0 ]; then t_pass "$2"; else t_fail "$2"; fi; }
# one_line FILE: exactly one non-empty line.
one_line() { [ "$(awk 'END { print NR }' "$1")" -eq 1 ] && grep -q . "$1"; }
md5() { md5sum <"$1" | cut -d' ' -f1; }
# marks_in TRACE: marks the report found in the trace (live marks).
marks_in() {
	"$XT" report --format json "$1" 2>/dev/null |
		$PY -c 'import json,sys; r=json.load(sys.stdin); print(r.get("marks", {}).get("marks", 0))'
}

t_need_tracer

# --- item 2: a failed start never touches an existing trace ---
"$XT" record -o "$D/old.xft" --duration 0.3 2>"$T_TMP/rec.err"
sum=$(md5 "$D/old.xft")
chmod 0666 "$D/old.xft"
: >"$D/notasocket"
"$XT" record -o "$D/old.xft" --marks-socket "$D/notasocket" -- true 2>"$T_TMP/e1"
rc=$?
[ "$rc" -ne 0 ] && one_line "$T_TMP/e1"
t_st $? "failed start (marks path is a regular file): exit $rc, one line: $(cat "$T_TMP/e1")"
t_check "failed start: existing trace byte-identical" [ "$(md5 "$D/old.xft")" = "$sum" ]
t_check "failed start: no temporary file left ($(ls -A "$D" | tr '\n' ' '))" \
	[ -z "$(ls -A "$D" | grep -v '^old.xft$\|^notasocket$')" ]
mkdir -m 1777 "$D/pub"
"$XT" record -o "$D/old.xft" --marks-socket "$D/pub/m.sock" -- true 2>"$T_TMP/e2"
rc=$?
[ "$rc" -ne 0 ] && [ "$(md5 "$D/old.xft")" = "$sum" ]
t_st $? "failed start (unsafe socket dir): existing trace byte-identical, exit $rc"

# --- item 3: symlinks and modes ---
ln -s old.xft "$D/link.xft"
"$XT" record -o "$D/link.xft" -- true 2>"$T_TMP/e3"
rc=$?
[ "$rc" -ne 0 ] && one_line "$T_TMP/e3" && grep -q "symbolic link" "$T_TMP/e3"
t_st $? "symlink at -o refused: exit $rc, one line: $(cat "$T_TMP/e3")"
t_check "symlink at -o: target untouched" [ "$(md5 "$D/old.xft")" = "$sum" ]
ln -s "$D/created-through-link.xft" "$D/dangling.xft"
"$XT" record -o "$D/dangling.xft" -- true 2>/dev/null
[ $? -ne 0 ] && [ ! -e "$D/created-through-link.xft" ]
t_st $? "dangling symlink at -o: exit non-zero, nothing created through it"
(umask 000 && "$XT" record -o "$D/new.xft" --duration 0.2 2>/dev/null)
t_check "new trace with umask 000: mode $(stat -c %a "$D/new.xft"), want 640" \
	[ "$(stat -c %a "$D/new.xft")" = 640 ]
"$XT" record -o "$D/old.xft" --duration 0.2 2>/dev/null
[ "$(stat -c %a "$D/old.xft")" = 640 ] && "$XT" report "$D/old.xft" >/dev/null 2>&1
t_st $? "replacing a 0666 trace: new file is mode $(stat -c %a "$D/old.xft"), want 640, and reads"
"$XT" record -o /dev/null --duration 0.2 2>"$T_TMP/e4"
rc=$?
[ "$rc" -ne 0 ] && [ -c /dev/null ] && one_line "$T_TMP/e4"
t_st $? "-o /dev/null refused (exit $rc), /dev/null still a device: $(cat "$T_TMP/e4")"

# --- item 4: socket directory and mode ---
"$XT" record -o "$D/x.xft" --marks-socket "$D/pub/m.sock" -- true 2>"$T_TMP/e5"
one_line "$T_TMP/e5" && grep -q "written by other users" "$T_TMP/e5"
t_st $? "socket dir 1777 refused in one line: $(cat "$T_TMP/e5")"
mkdir -m 0770 "$D/grp" && chgrp nogroup "$D/grp"
"$XT" record -o "$D/x.xft" --marks-socket "$D/grp/m.sock" -- true 2>"$T_TMP/e6"
t_check "socket dir group-writable by group nogroup refused: $(cat "$T_TMP/e6")" \
	one_line "$T_TMP/e6"
# Users other than root must reach the socket directory to use it.
chmod 0711 "$T_TMP" "$D"
mkdir -m 0750 "$D/s" && chgrp nogroup "$D/s"
SOCK=$D/s/m.sock
NOBODY="setpriv --reuid=nobody --regid=nogroup --clear-groups"
send_as_nobody() {
	$NOBODY env PYTHONPATH="$PYTHONPATH" $PY -c '
import sys, xfertrace_marks as xm
for i in range(int(sys.argv[2])):
    xm.mark("TRIAL_BEGIN param_id=n%d" % i, sys.argv[1])
print(xm.dropped())' "$SOCK" "$1"
}
export -f send_as_nobody
export SOCK NOBODY PY
"$XT" record -o "$D/grp.xft" --marks-socket "$SOCK" --marks-group nogroup \
	-- bash -c 'stat -c "%A %G" "$SOCK" >"$1"; send_as_nobody 5 >"$1.sent" 2>"$1.err"' _ "$T_TMP/sockstat" \
	2>/dev/null
t_check "--marks-group nogroup: socket is $(cat "$T_TMP/sockstat"), want srw-rw---- nogroup" \
	[ "$(cat "$T_TMP/sockstat")" = "srw-rw---- nogroup" ]
n=$(marks_in "$D/grp.xft")
[ "$n" = 5 ] && [ "$(cat "$T_TMP/sockstat.sent")" = 0 ]
t_st $? "--marks-group: user nobody's 5 marks all in the trace (got $n, helper lost $(cat "$T_TMP/sockstat.sent"))"
"$XT" record -o "$D/nogrp.xft" --marks-socket "$SOCK" \
	-- bash -c 'send_as_nobody 7 >"$1.sent" 2>"$1.err"' _ "$T_TMP/nogrp" 2>/dev/null
n=$(marks_in "$D/nogrp.xft")
[ "$n" = 0 ] && [ "$(cat "$T_TMP/nogrp.sent")" = 7 ]
t_st $? "no --marks-group: nobody's marks not in the trace (got $n), helper counted 7 lost ($(cat "$T_TMP/nogrp.sent"))"
[ "$(wc -l <"$T_TMP/nogrp.err")" -eq 2 ] && head -n 1 "$T_TMP/nogrp.err" | grep -q "Permission denied" &&
	tail -n 1 "$T_TMP/nogrp.err" | grep -q "^xfertrace_marks: 7 marks could not be sent"
t_st $? "no --marks-group: helper stderr is 2 lines, first names the error, last the count: $(tr '\n' '|' <"$T_TMP/nogrp.err")"

"$XT" top -b -n 6 -d 0.5 --marks-socket "$D/s/top.sock" --marks-group nogroup >/dev/null 2>&1 &
TOPPID=$!
t_track "$TOPPID"
for ((i = 0; i < 100; i++)); do
	[ -S "$D/s/top.sock" ] && break
	sleep 0.1
done
st=$(stat -c "%A %G" "$D/s/top.sock" 2>/dev/null)
wait "$TOPPID"
[ "$st" = "srw-rw---- nogroup" ]
t_st $? "top --marks-group nogroup: socket is '$st'"

# --- item 5: a burst of 2000 marks, non-blocking sender loop ---
"$XT" record -o "$D/burst.xft" --marks-socket "$SOCK" -- $PY -c '
import sys, xfertrace_marks as xm
for i in range(2000):
    xm.mark("TRIAL_BEGIN param_id=b%d" % i, sys.argv[1])
print(xm.dropped())' "$SOCK" >"$T_TMP/burst.out" 2>"$T_TMP/burst.err"
n=$(marks_in "$D/burst.xft")
[ "$n" = 2000 ] && [ "$(cat "$T_TMP/burst.out")" = 0 ]
t_st $? "2000-mark burst: $n marks in the trace, helper lost $(cat "$T_TMP/burst.out")"
# For the record, what a raw non-blocking sender loses with the receiver thread alone.
"$XT" record -o "$D/raw.xft" --marks-socket "$SOCK" -- $PY -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.setblocking(False)
lost = 0
for i in range(2000):
    try:
        s.sendto(b"TRIAL_BEGIN param_id=r%d" % i, sys.argv[1])
    except BlockingIOError:
        lost += 1
print(lost)' "$SOCK" >"$T_TMP/raw.out" 2>/dev/null
echo "     (raw non-blocking sendto, no waiting: $(marks_in "$D/raw.xft") arrived, sender saw $(cat "$T_TMP/raw.out") EAGAIN)"

# --- the helper is silent when no tracer listens ---
$PY -c '
import sys, xfertrace_marks as xm
for i in range(50):
    xm.mark("TRIAL_BEGIN param_id=1", sys.argv[1])
print(xm.dropped())' "$D/s/absent.sock" >"$T_TMP/q.out" 2>"$T_TMP/q.err"
[ ! -s "$T_TMP/q.err" ] && [ "$(cat "$T_TMP/q.out")" = 0 ]
t_st $? "helper, socket absent: silent, 0 counted ($(cat "$T_TMP/q.out"))"
$PY -c 'import socket,sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).bind(sys.argv[1])' "$D/s/stale.sock"
$PY -c '
import sys, xfertrace_marks as xm
for i in range(50):
    xm.mark("TRIAL_BEGIN param_id=1", sys.argv[1])
print(xm.dropped())' "$D/s/stale.sock" >"$T_TMP/q.out" 2>"$T_TMP/q.err"
[ ! -s "$T_TMP/q.err" ] && [ "$(cat "$T_TMP/q.out")" = 0 ]
t_st $? "helper, stale socket (nobody bound): silent, 0 counted"

# --- a tracer restarted on the same path; marks just after start and just before SIGINT ---
$PY - "$XT" "$D/s/r.sock" "$D/ra.xft" "$D/rb.xft" >"$T_TMP/restart.out" 2>"$T_TMP/restart.err" <<'EOP'
import os, subprocess, sys, time
import xfertrace_marks as xm
xt, sock = sys.argv[1], sys.argv[2]
def rec(out):
    p = subprocess.Popen([xt, "record", "-o", out, "--marks-socket", sock],
                         stderr=subprocess.DEVNULL)
    while not os.path.exists(sock):
        time.sleep(0.01)
    return p
a = rec(sys.argv[3])
for i in range(5):
    xm.mark("TRIAL_BEGIN param_id=a%d" % i, sock)
a.send_signal(2); a.wait()
for i in range(3):
    xm.mark("TRIAL_BEGIN param_id=x%d" % i, sock)    # nobody listens
b = rec(sys.argv[4])
for i in range(7):
    xm.mark("TRIAL_BEGIN param_id=b%d" % i, sock)
b.send_signal(2); b.wait()
print(xm.dropped(), a.returncode, b.returncode)
EOP
na=$(marks_in "$D/ra.xft")
nb=$(marks_in "$D/rb.xft")
[ "$na" = 5 ] && [ "$nb" = 7 ] && [ "$(cat "$T_TMP/restart.out")" = "0 0 0" ] && [ ! -s "$T_TMP/restart.err" ]
t_st $? "tracer restarted: 5 and 7 marks sent at once after start and SIGINT right after arrive ($na, $nb); 3 with no tracer silent (helper: $(cat "$T_TMP/restart.out"), stderr $(wc -c <"$T_TMP/restart.err") B)"

# --- item 7: a damaged record inside a chunk ---
"$XT" record -o "$D/multi.xft" --interval 50 --duration 2.5 2>/dev/null
$PY - "$D/multi.xft" "$D/badrec.xft" >"$T_TMP/badrec.truth" <<'EOP'
import struct, sys, zlib
b = bytearray(open(sys.argv[1], "rb").read())
off = 24 + struct.unpack_from("<I", b, 16)[0]
chunks = []
while off + 16 <= len(b):
    magic, raw, zl, crc = struct.unpack_from("<IIII", b, off)
    chunks.append((off, zl))
    off += 16 + zl
k = len(chunks) // 2            # damage a middle chunk
start, zl = chunks[k]
raw = bytearray(zlib.decompress(bytes(b[start + 16:start + 16 + zl])))
recs, pos = [], 0
while pos < len(raw):
    recs.append(pos)
    pos += struct.unpack_from("<I", raw, pos + 4)[0]
j = len(recs) // 2              # this record gets an impossible length
struct.pack_into("<I", raw, recs[j] + 4, 12)
z = zlib.compress(bytes(raw), 1)
hdr = struct.pack("<IIII", 0x4b435458, len(raw), len(z), zlib.crc32(z))
open(sys.argv[2], "wb").write(bytes(b[:start]) + hdr + z + bytes(b[start + 16 + zl:]))
print(start, k, j, len(chunks))
EOP
read -r START K J NCH <"$T_TMP/badrec.truth"
"$XT" report --format json "$D/badrec.xft" >"$T_TMP/badrec.json" 2>"$T_TMP/badrec.err"
one_line "$T_TMP/badrec.err" && grep -q "byte $START " "$T_TMP/badrec.err" &&
	grep -q "first $J records" "$T_TMP/badrec.err"
t_st $? "damaged record $((J + 1)) of chunk $K (of $NCH) at byte $START: one warning line naming byte $START and $J records kept: $(cat "$T_TMP/badrec.err")"
t_check "damaged record: JSON truncated_at $START, chunks $K, truncated_records_kept $J" \
	$PY -c 'import json,sys; t=json.load(open(sys.argv[1]))["trace"]; sys.exit(0 if (t["truncated_at"], t["chunks"], t["truncated_records_kept"]) == tuple(map(int, sys.argv[2:])) else 1)' \
	"$T_TMP/badrec.json" "$START" "$K" "$J"

# --- item 9: control characters in a crafted header ---
$PY - "$D/old.xft" "$D/evil.xft" <<'EOP'
import json, struct, sys, zlib
b = open(sys.argv[1], "rb").read()
jl = struct.unpack_from("<I", b, 16)[0]
h = json.loads(b[24:24 + jl])
h["host"] = "evil\x1b]0;pwned\x07\x1b[2J\u009b31m\r\n"
h["kernel"] = "k\x1b[5m"
js = json.dumps(h).encode()
open(sys.argv[2], "wb").write(b[:16] + struct.pack("<II", len(js), zlib.crc32(js)) + js + b[24 + jl:])
EOP
"$XT" report "$D/evil.xft" >"$T_TMP/evil.txt" 2>&1
"$XT" report --format json "$D/evil.xft" >"$T_TMP/evil.json" 2>&1
t_check "crafted host/kernel: text report has no ESC, BEL, CR or C1 byte" \
	$PY -c 'import sys; b=open(sys.argv[1],"rb").read(); sys.exit(1 if any(c in b for c in (b"\x1b", b"\x07", b"\r", b"\xc2\x9b")) else 0)' "$T_TMP/evil.txt"
t_check "crafted host: JSON host is \"$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["trace"]["host"])' "$T_TMP/evil.json")\" (controls as ?)" \
	$PY -c 'import json,sys; h=json.load(open(sys.argv[1]))["trace"]["host"]; sys.exit(0 if h.startswith("evil?]0;pwned??[2J?31m") and all(ord(c) >= 32 and not 0x7f <= ord(c) <= 0x9f for c in h) else 1)' "$T_TMP/evil.json"
"$XT" report "$D" >/dev/null 2>"$T_TMP/dir.err"
t_check "a directory as trace: \"$(cat "$T_TMP/dir.err")\"" grep -q "is a directory" "$T_TMP/dir.err"
t_finish
