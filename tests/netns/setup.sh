#!/bin/bash
# Rate-limited test network: setup.sh N RATE   (e.g. setup.sh 4 200mbit)
#
# Creates, in this order (teardown.sh first, so it is idempotent):
#   bridge xtbr0 in the root namespace, 10.231.0.1/24, up;
#   for i in 1..N: namespace xtns<i> with lo up and a veth pair whose
#     namespace end is eth0 = 10.231.0.(10+i)/24 and whose root end
#     xtv<i> is a port of xtbr0;
#   a tbf qdisc at RATE on BOTH directions of every link: root qdisc of
#     eth0 inside xtns<i> (what the namespace sends) and of xtv<i> (what
#     it receives, from the bridge: other namespaces or the root).
# So any byte a namespace sends or receives crosses one RATE-limited queue
# in each direction; namespace-to-namespace traffic crosses two (sender's
# eth0, receiver's xtv), both at RATE.
#
# tbf parameters: burst = 2 ms of RATE (at least 16 KiB, above any GSO
# segment tbf has to split), latency 50 ms (queue = 50 ms of RATE + burst).
# tbf counts L2 bytes (Ethernet + IP + TCP headers), so TCP payload
# goodput is RATE * MSS / (MTU + 14): about 0.956 * RATE at MTU 1500.
#
# Only these private names and 10.231.0.0/24 are used; nothing else is
# touched. Needs root and iproute2 (ip, tc); no modprobe (veth, bridge,
# tbf must be built in or already loaded).
# Note: with br_netfilter loaded and bridge-nf-call-iptables=1, bridged
# IPv4 goes through iptables FORWARD; a DROP policy there (Docker) would
# block namespace-to-namespace traffic: setup checks connectivity and fails.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3

die() { echo "netns/setup.sh: $*" >&2; exit 1; }

[ $# -eq 2 ] || die "usage: setup.sh N RATE (e.g. 4 200mbit)"
N=$1
RATE=$2
[[ $N =~ ^[0-9]+$ ]] && [ "$N" -ge 1 ] && [ "$N" -le 200 ] ||
	die "N must be 1..200, not '$N'"
# RATE -> bit/s, accepting tc's decimal units (bit, kbit, mbit, gbit).
rate_bps() {
	local v u
	[[ ${1,,} =~ ^([0-9]+)(bit|kbit|mbit|gbit)$ ]] || return 1
	v=${BASH_REMATCH[1]} u=${BASH_REMATCH[2]}
	case $u in
	bit) echo "$v" ;;
	kbit) echo $((v * 1000)) ;;
	mbit) echo $((v * 1000000)) ;;
	gbit) echo $((v * 1000000000)) ;;
	esac
}
BPS=$(rate_bps "$RATE") || die "RATE must be like 200mbit, not '$RATE'"
[ "$BPS" -ge 1000000 ] || die "RATE below 1mbit is not useful"
for t in ip tc; do
	command -v $t >/dev/null || die "$t not found (install iproute2)"
done
[ "$(id -u)" -eq 0 ] || die "needs root"

BURST=$((BPS / 8 / 500))		# 2 ms worth of bytes
[ "$BURST" -ge 16384 ] || BURST=16384

"$HERE/teardown.sh"
trap 'echo "netns/setup.sh: failed, tearing down" >&2; "$HERE/teardown.sh"' ERR

# Keep our links quiet: no IPv6 (no DAD, router solicitations, MLD).
noipv6() { # [netns] IFACE
	local f
	if [ $# -eq 2 ]; then
		ip netns exec "$1" sh -c \
			"echo 1 > /proc/sys/net/ipv6/conf/$2/disable_ipv6" \
			2>/dev/null || true
	else
		f=/proc/sys/net/ipv6/conf/$1/disable_ipv6
		[ -w "$f" ] && echo 1 >"$f" || true
	fi
}

tbf() { # [netns] DEV
	local pre=()
	[ $# -eq 2 ] && pre=(ip netns exec "$1") && shift
	"${pre[@]}" tc qdisc replace dev "$1" root tbf rate "$BPS"bit \
		burst "$BURST" latency 50ms
}

ip link add xtbr0 type bridge stp_state 0 forward_delay 0
noipv6 xtbr0
ip addr add 10.231.0.1/24 dev xtbr0
ip link set xtbr0 up

for i in $(seq 1 "$N"); do
	ns=xtns$i
	ip netns add "$ns"
	ip link add "xtv$i" type veth peer name "xtp$i"
	ip link set "xtp$i" netns "$ns"
	ip -n "$ns" link set "xtp$i" name eth0
	noipv6 "xtv$i"
	noipv6 "$ns" eth0
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "10.231.0.$((10 + i))/24" dev eth0
	ip -n "$ns" link set eth0 up
	ip link set "xtv$i" master xtbr0
	ip link set "xtv$i" up
	tbf "$ns" eth0
	tbf "xtv$i"
done

# Connectivity: every namespace reaches the root address over TCP.
$PY - "$N" <<'PYEOF' || { echo "netns/setup.sh: no connectivity" >&2; false; }
import socket, subprocess, sys
n = int(sys.argv[1])
srv = socket.create_server(("10.231.0.1", 0))
srv.settimeout(10)
port = srv.getsockname()[1]
code = ("import socket,sys;socket.create_connection(('10.231.0.1',%d),"
        "timeout=10,source_address=(sys.argv[1],0)).sendall(b'x')" % port)
for i in range(1, n + 1):
    p = subprocess.Popen(["ip", "netns", "exec", f"xtns{i}", "/usr/bin/python3",
                          "-c", code, f"10.231.0.{10 + i}"])
    c, addr = srv.accept()
    assert addr[0] == f"10.231.0.{10 + i}", addr
    assert c.recv(1) == b"x"
    c.close()
    assert p.wait(timeout=10) == 0
PYEOF
trap - ERR
echo "netns/setup.sh: $N namespaces on xtbr0, tbf $RATE ($BPS bit/s, burst $BURST B, latency 50ms) both directions"
