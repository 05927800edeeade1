#!/bin/bash
# The fallback ladder: every socket hook path that can load here passes the
# verifier (record --dry-run --hooks X), a path that is unavailable is
# reported in one line and the next one is used, and the bytes counted
# through the chosen path are exact.
. "$(dirname "$0")/lib.sh"

for h in tp_btf raw_tp kprobe; do
	"$XT" record --dry-run --hooks $h >/dev/null 2>"$T_TMP/$h.err"
	t_check "$h programs load and pass the verifier" [ $? -eq 0 ]
done
# fexit is refused on some kernels (EPERM here): a clean error, never a crash.
"$XT" record --dry-run --hooks fexit >/dev/null 2>"$T_TMP/fexit.err"
rc=$?
t_check "fexit dry run: exit 0 or 1 (got $rc)" [ $rc -le 1 ]
[ $rc -ne 0 ] && t_check "fexit dry run failure names the step" grep -q "^xfertrace: error: loading BPF programs failed" "$T_TMP/fexit.err"

# A forced path that cannot attach: one line saying so, then the next path.
for h in fexit kprobe; do
	if "$XT" check | grep -Eq "^tcp-bytes +$h .* ok$"; then
		t_pass "$h attaches here: nothing to fall back from"
		continue
	fi
	"$XT" record --hooks $h -o "$T_TMP/$h.xft" -- $PY -c "
import socket
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen()
c = socket.create_connection(l.getsockname()); s, _ = l.accept()
c.sendall(b'z' * 54321); c.close()
n = 0
while True:
    d = s.recv(65536)
    if not d: break
    n += len(d)
assert n == 54321
" 2>"$T_TMP/$h.err"
	t_check "record --hooks $h falls back and succeeds" [ $? -eq 0 ]
	t_check "exactly one line says $h is unavailable and what is tried next" \
		[ "$(grep -c "tcp-bytes: $h unavailable (.*), trying " "$T_TMP/$h.err")" -eq 1 ]
	"$XT" report "$T_TMP/$h.xft" --format json > "$T_TMP/$h.json"
	t_check "bytes through the fallback path are exact (54321)" $PY -c "
import json, sys
r = json.load(open('$T_TMP/$h.json'))
f = [x for x in r['flows'] if x['bytes'] == 54321 and x['tx_bytes'] == 54321 and x['rx_bytes'] == 54321]
sys.exit(0 if f and r['trace']['hooks']['sock'] != '$h' else 1)"
done
t_finish
