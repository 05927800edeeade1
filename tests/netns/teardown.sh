#!/bin/bash
# Removes what setup.sh creates, and nothing else: namespaces named
# xtns<digits> (deleting a namespace destroys its eth0 and, with it, the
# veth peer xtv<digits>), any leftover xtv<digits> link, and bridge xtbr0.
# Processes still running inside a namespace keep it alive (ip only
# removes its name); stop them first. Always exits 0 unless ip is missing.
command -v ip >/dev/null || { echo "netns/teardown.sh: no ip" >&2; exit 1; }
for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
	[[ $ns =~ ^xtns[0-9]+$ ]] && ip netns del "$ns"
done
for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}'); do
	l=${l%@*}
	[[ $l =~ ^xtv[0-9]+$ ]] && ip link del "$l" 2>/dev/null
done
ip link show xtbr0 >/dev/null 2>&1 && ip link del xtbr0
exit 0
