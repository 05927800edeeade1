#!/bin/sh
# Installs every Debian package that building, testing and benchmarking need.
set -e
PKGS="clang llvm make gcc pkg-config libbpf-dev bpftool libelf-dev zlib1g-dev
libjansson-dev libncurses-dev libmicrohttpd-dev python3 python3-distributed
python3-numpy iproute2 tmux bpftrace procps"
PKGS="$PKGS chromium"		# t_exports.sh: renders the HTML report
PKGS="$PKGS python3-pil"	# t_exports.sh: reads its screenshots
PKGS="$PKGS libcap2-bin"	# capsh, for tests/t_faults.sh
PKGS="$PKGS prometheus"	# agent: a real Prometheus scrapes it (tests/t_agent.sh)
PKGS="$PKGS python3-yaml curl util-linux"	# agent: t_deploy.sh, t_agent.sh (capsh, unshare)
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
# Kernel matrix guests (tests/vm/run.sh, tests/t_kernels.sh): QEMU, a static busybox, cpio, xz, zstd.
KPKGS="qemu-system-x86 busybox-static cpio xz-utils zstd"
missing=""
for p in $KPKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "deps: installing$missing"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
