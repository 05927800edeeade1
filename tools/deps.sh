#!/bin/sh
# Installs every Debian package that building, testing and benchmarking need.
set -e
PKGS="clang llvm make gcc pkg-config libbpf-dev bpftool libelf-dev zlib1g-dev
libjansson-dev libncurses-dev libmicrohttpd-dev python3 python3-distributed
python3-numpy iproute2 tmux bpftrace procps"
# Fuzzing (libFuzzer runtime), sanitizer checks and peak-RSS measurement.
PKGS="$PKGS libclang-rt-dev valgrind time"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "deps: installing$missing"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
