#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Boot a Debian kernel package under QEMU and run one command inside it.
#
#   tests/vm/run.sh [-t SECONDS] [-o OUTDIR] PACKAGE COMMAND [ARGS...]
#
# PACKAGE (e.g. linux-image-6.1.0-57-amd64-unsigned) is fetched with
# `apt-get download` into build/vm/cache (never installed), unpacked with
# dpkg-deb -x, and booted (2 vCPUs, 2 GiB; TCG unless XT_VM_KVM=1) with a
# small busybox initramfs that loads the kernel's virtio and 9p modules,
# mounts this machine's root read-only over 9p, chroots into it and runs
# COMMAND from this checkout's top directory. OUTDIR (default
# build/vm/out/PACKAGE) is shared writable and seen inside as $XT_VM_OUT;
# the guest writes its console log to OUTDIR/console.log, the command's
# output to OUTDIR/log and its exit code to OUTDIR/rc. Then it powers off.
#
# Exit: the command's exit code, or 125 with one line "vm: ..." on stderr
# saying what failed (no qemu, no package, boot hang, guest panic, ...).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${XT_VM_CACHE:-$ROOT/build/vm/cache}
TIMEOUT=600
OUT=

die() { echo "vm: $*" >&2; exit 125; }

while getopts t:o: o; do
	case $o in
	t) TIMEOUT=$OPTARG ;;
	o) OUT=$OPTARG ;;
	*) die "usage: $0 [-t SECONDS] [-o OUTDIR] PACKAGE COMMAND [ARGS...]" ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 2 ] || die "usage: $0 [-t SECONDS] [-o OUTDIR] PACKAGE COMMAND [ARGS...]"
PKG=$1
shift
OUT=${OUT:-$ROOT/build/vm/out/$PKG}

command -v qemu-system-x86_64 >/dev/null ||
	die "no qemu-system-x86_64 (apt-get install qemu-system-x86; tools/deps.sh)"
BUSYBOX=$(command -v busybox) || die "no busybox (apt-get install busybox-static)"
ldd "$BUSYBOX" 2>&1 | grep -q 'not a dynamic' ||
	die "$BUSYBOX is not static (apt-get install busybox-static)"
for t in cpio dpkg-deb xz zstd gzip; do
	command -v $t >/dev/null || die "no $t (tools/deps.sh)"
done

# fetch: the package's .deb in the cache, unpacked under $K/x.
K=$CACHE/$PKG
fetch() {
	local deb
	[ -f "$K/x.done" ] && return 0
	mkdir -p "$K" || die "cannot create $K"
	deb=$(ls "$K"/*.deb 2>/dev/null | head -n 1)
	if [ -z "$deb" ]; then
		(cd "$K" && apt-get download "$PKG" >"$K/download.log" 2>&1) ||
			die "no package $PKG: apt-get download failed: $(grep -E '^E:' "$K/download.log" | head -n 1)"
		deb=$(ls "$K"/*.deb 2>/dev/null | head -n 1)
		[ -n "$deb" ] || die "no package $PKG: apt-get download fetched nothing"
	fi
	rm -rf "$K/x"
	dpkg-deb -x "$deb" "$K/x" || die "dpkg-deb -x $deb failed"
	touch "$K/x.done"
}

# The uncompressed kernel boots faster under TCG than vmlinuz (no
# decompression in emulation); QEMU boots the ELF through its PVH note.
kernel_image() {
	local z=$1 v=$2 off magic
	[ -s "$v" ] && return 0
	for magic in '\x28\xb5\x2f\xfd' '\xfd7zXZ\x00'; do
		for off in $(LC_ALL=C grep -obUaP "$magic" "$z" | cut -d: -f1); do
			if [ "$magic" = '\x28\xb5\x2f\xfd' ]; then
				tail -c +$((off + 1)) "$z" | zstd -dcq 2>/dev/null >"$v.tmp"
			else
				tail -c +$((off + 1)) "$z" | xz -dcq 2>/dev/null >"$v.tmp"
			fi
			if [ "$(head -c 4 "$v.tmp" | od -An -c | tr -d ' ')" = '177ELF' ] &&
				grep -qa 'Xen' "$v.tmp"; then
				mv "$v.tmp" "$v"
				return 0
			fi
		done
	done
	rm -f "$v.tmp"
	cp "$z" "$v"	# no PVH ELF found: boot the bzImage
}

# Print module paths (relative to the modules dir) in load order.
mod_index() { find kernel -name '*.ko*' | awk -F/ '{ n = $NF; sub(/\.ko.*/, "", n); gsub(/-/, "_", n); print n, $0 }'; }
mod_deps() {	# path -> "a,b"
	case $1 in
	*.xz) xz -dc "$1" ;;
	*.zst) zstd -dcq "$1" ;;
	*) cat "$1" ;;
	esac | tr '\0' '\n' | sed -n 's/^depends=//p' | head -n 1
}
mod_order() {	# name... (run in the modules dir)
	local idx=$1 n p d
	shift
	for n in "$@"; do
		case " $MOD_DONE " in *" $n "*) continue ;; esac
		p=$(awk -v n="$n" '$1 == n { print $2; exit }' "$idx")
		[ -n "$p" ] || continue	# built in
		for d in $(mod_deps "$p" | tr ',' ' '); do
			mod_order "$idx" "$d"
		done
		MOD_DONE="$MOD_DONE $n"
		echo "$p"
	done
}

initramfs() {
	local rel=$1 img=$2 d p m list
	# Cached, unless the guest init changed since.
	[ -s "$img" ] && [ "$img" -nt "$ROOT/tests/vm/init" ] && return 0
	d=$(mktemp -d /tmp/xt-vm-initrd.XXXXXX)
	mkdir -p "$d"/{bin,dev,proc,sys,mods,newroot}
	cp "$BUSYBOX" "$d/bin/busybox"
	cd "$K/x/lib/modules/$rel" || die "no modules in $PKG"
	mod_index >"$d/index"
	MOD_DONE=
	# virtio, netfs, fscache, 9pnet, 9pnet_virtio, 9p (those not built in),
	# each after what it depends on.
	list=$(mod_order "$d/index" virtio virtio_ring virtio_pci netfs fscache \
		9pnet 9pnet_virtio 9p)
	for p in $list; do
		m=$(basename "$p")
		case $m in
		*.xz) xz -dc "$p" >"$d/mods/${m%.xz}" ;;
		*.zst) zstd -dcq "$p" >"$d/mods/${m%.zst}" ;;
		*) cp "$p" "$d/mods/$m" ;;
		esac
		echo "${m%.ko*}.ko" >>"$d/mods/order"
	done
	cd - >/dev/null || exit 125
	grep -q '^9p.ko$' "$d/mods/order" || [ -n "$(awk '$1=="9p"' "$d/index")" ] ||
		grep -q '9p' "$K/x/lib/modules/$rel/modules.builtin" 2>/dev/null ||
		die "$PKG has no 9p module"
	rm -f "$d/index"
	cp "$ROOT/tests/vm/init" "$d/init"
	chmod +x "$d/init"
	(cd "$d" && find . | cpio -o -H newc --quiet | gzip -1) >"$img.tmp" &&
		mv "$img.tmp" "$img"
	rm -rf "$d"
}

fetch
REL=$(ls "$K/x/lib/modules" | head -n 1)
[ -n "$REL" ] && [ -f "$K/x/boot/vmlinuz-$REL" ] || die "$PKG holds no kernel"
kernel_image "$K/x/boot/vmlinuz-$REL" "$K/vmlinux"
initramfs "$REL" "$K/initramfs.gz"

mkdir -p "$OUT" || die "cannot create $OUT"
rm -f "$OUT/log" "$OUT/rc" "$OUT/console.log"
# The command, run by the guest's init inside the chroot.
{
	echo "cd '$ROOT' || exit 125"
	printf 'export XT_VM_PKG=%q XT_VM_KDIR=%q\n' "$PKG" "$K/x"
	printf '%q ' "$@"
	echo
} >"$OUT/cmd"

# One host thread for all vCPUs: with a thread per vCPU, a vCPU can run
# stale translated code while the kernel patches its text (attaching BPF
# flips static keys) and die on the int3 (seen on 6.12: "Oops: int3" in
# __schedule). KVM hangs under nested virtualization here: opt in.
ACCEL=tcg,thread=single
[ "${XT_VM_KVM:-0}" = 1 ] && [ -w /dev/kvm ] && ACCEL=kvm
T0=$(date +%s.%N)
timeout --foreground -k 5 "$TIMEOUT" qemu-system-x86_64 -accel "$ACCEL" \
	-cpu max -smp 2 -m 2G -nographic -no-reboot -nodefaults \
	-serial "file:$OUT/console.log" -monitor none \
	-kernel "$K/vmlinux" -initrd "$K/initramfs.gz" \
	-append "console=ttyS0 quiet panic=-1 oops=panic xt_out=$OUT xt_src=$ROOT" \
	-fsdev "local,id=root,path=/,security_model=none,readonly=on,multidevs=remap" \
	-device virtio-9p-pci,fsdev=root,mount_tag=xtroot \
	-fsdev "local,id=src,path=$ROOT,security_model=none,readonly=on,multidevs=remap" \
	-device virtio-9p-pci,fsdev=src,mount_tag=xtsrc \
	-fsdev "local,id=out,path=$OUT,security_model=none" \
	-device virtio-9p-pci,fsdev=out,mount_tag=xtout \
	</dev/null >"$OUT/qemu.log" 2>&1
QRC=$?
SECS=$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "$SECS" >"$OUT/seconds"
grep -q 'Kernel panic' "$OUT/console.log" 2>/dev/null &&
	die "guest panic ($PKG): $(grep -m 1 -A 1 'Kernel panic' "$OUT/console.log" | tr -s '\r\n' ' ')"
if [ ! -f "$OUT/rc" ]; then
	[ "$QRC" -eq 124 ] || [ "$QRC" -eq 137 ] &&
		die "boot hang or command still running after ${TIMEOUT}s ($PKG); see $OUT/console.log: $(grep -a 'xt-vm:' "$OUT/console.log" | tail -n 1)"
	die "guest stopped without a result ($PKG, qemu exit $QRC): $(tail -n 1 "$OUT/qemu.log") $(grep -a 'xt-vm:' "$OUT/console.log" | tail -n 1)"
fi
exit "$(cat "$OUT/rc")"
