#!/bin/bash
# Listeners that exist before record starts are found at start, by the
# BPF file iterator and by the /proc fallback (--discovery proc, the path
# kernels before 5.11 take), each forced with --strict, and named by their endpoint even
# if the process only moves bytes later.
. "$(dirname "$0")/lib.sh"

start_server() {	# family addr -> prints "pid port"
	$PY - "$1" "$2" <<'PYEOF' &
import socket, sys, time
fam = socket.AF_INET6 if sys.argv[1] == "6" else socket.AF_INET
s = socket.socket(fam); s.bind((sys.argv[2], 0)); s.listen()
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
n = 0
while True:
    d = c.recv(65536)
    if not d:
        break
    n += len(d)
c.sendall(b"k" * 4321)
c.close()	# the client reads to EOF; the listener stays open
time.sleep(30)
PYEOF
}

for mode in ${XT_DISCOVERY_MODES:-iter proc}; do
	for fam in 4 6; do
		addr=127.0.0.1; [ $fam = 6 ] && addr=::1
		start_server $fam $addr > "$T_TMP/port" ; SP=$!
		t_track $SP
		for i in $(seq 50); do [ -s "$T_TMP/port" ] && break; sleep 0.1; done
		port=$(cat "$T_TMP/port")
		ep="tcp://$addr:$port"; [ $fam = 6 ] && ep="tcp://[$addr]:$port"
		# The server idles until after record has started.
		"$XT" record --discovery $mode --strict -o "$T_TMP/d.xft" -- $PY -c "
import socket, sys
c = socket.create_connection(('$addr', $port)); c.sendall(b'q' * 123456); c.shutdown(socket.SHUT_WR)
n = 0
while n < 4321:  # the server keeps the connection open: no EOF to wait for
    d = c.recv(65536)
    if not d: break
    n += len(d)
assert n == 4321, n
" 2>"$T_TMP/rec.err"
		t_check "$mode/ipv$fam: record ok" [ $? -eq 0 ]
		"$XT" report "$T_TMP/d.xft" --format json > "$T_TMP/d.json"
		$PY - "$T_TMP/d.json" "$SP" "$ep" $mode > "$T_TMP/res" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1])); pid = int(sys.argv[2]); ep = sys.argv[3]
mode = sys.argv[4]
d = r["trace"]["hooks"].get("discovery")
print("ok" if d == mode else "FAIL", "trace says discovery", mode, "got", d)
w = [x for x in r["workers"] if x["pid"] == pid]
print("ok" if len(w) == 1 and w[0]["endpoint"] == ep else "FAIL",
      "server named", ep, "got", [x["endpoint"] for x in w])
f = [x for x in r["flows"] if x["dst"] == ep]
print("ok" if len(f) == 1 and f[0]["bytes"] == 123456 else "FAIL",
      "client -> server flow of 123456 bytes", f)
f = [x for x in r["flows"] if x["src"] == ep]
print("ok" if len(f) == 1 and f[0]["bytes"] == 4321 else "FAIL",
      "server -> client flow of 4321 bytes", f)
PYEOF
		t_lines < <(awk -v p="$mode/ipv$fam:" '{ $1 = $1 " " p; print }' "$T_TMP/res")
		kill $SP 2>/dev/null; wait $SP 2>/dev/null
		rm -f "$T_TMP/port"
	done
done
t_finish
