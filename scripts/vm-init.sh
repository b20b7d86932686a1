#!/bin/busybox sh
# shellcheck shell=sh
# vm-init.sh: /init of the throw-away VM that scripts/vm-run.sh boots (see docs/vm.md).
# It runs in a busybox-static initramfs: loads the kernel modules listed in /etc/vm-modules
# (already in dependency order; one line each, "NAME [PARAM=VALUE...]" with the parameters
# for insmod), mounts the host's / read-only over 9p, builds the usual pseudo filesystems
# inside it, mounts the writable shares, chroots to run the command that vm-run.sh wrote
# into the control share, reports its exit status and powers off.
# Lines it prints that start with @@VM-...-NONCE@@ are read by vm-run.sh; everything the
# command prints goes to the console unchanged.

/bin/busybox mkdir -p /proc /sys /dev /mnt /usr/bin /usr/sbin /sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/null >/dev/console 2>&1

nonce=
read -r cmdline </proc/cmdline
for arg in $cmdline; do
	case $arg in vmrun.nonce=*) nonce=${arg#vmrun.nonce=} ;; esac
done
echo "@@VM-INIT-$nonce@@"

info() { echo "@@VM-INFO-$nonce@@ $*"; }
# Setup failures end the VM before the command runs; vm-run.sh reports them as SKIP.
fail() {
	echo "@@VM-FAIL-$nonce@@ $*"
	sync
	poweroff -f
	exit 1
}

failed_modules=
# The parameters are split into words (vm-run.sh allows no spaces or quotes in them), not globbed.
set -f
while read -r mod params; do
	[ -n "$mod" ] || continue
	# shellcheck disable=SC2086
	insmod "/lib/modules/$mod.ko" $params || failed_modules="$failed_modules $mod${params:+($params)}"
done </etc/vm-modules
set +f
[ -z "$failed_modules" ] || info "modules that failed to load:$failed_modules"

p9="trans=virtio,version=9p2000.L,msize=512000"
mount -t 9p -o "$p9,ro,cache=loose" vmroot /mnt || fail "cannot mount the host's / over 9p"
r=/mnt
mount -t proc proc $r/proc || fail "cannot mount proc"
mount -t sysfs sysfs $r/sys || fail "cannot mount sysfs"
mount -t devtmpfs devtmpfs $r/dev || fail "cannot mount devtmpfs"
mkdir -p $r/dev/pts $r/dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts $r/dev/pts || fail "cannot mount devpts"
mount -t tmpfs -o mode=1777 tmpfs $r/dev/shm || fail "cannot mount /dev/shm"
# devtmpfs has no /dev/fd (bash process substitution needs it) nor /dev/std*.
ln -sf /proc/self/fd $r/dev/fd
ln -sf /proc/self/fd/0 $r/dev/stdin
ln -sf /proc/self/fd/1 $r/dev/stdout
ln -sf /proc/self/fd/2 $r/dev/stderr
mount -t tmpfs -o mode=1777 tmpfs $r/tmp || fail "cannot mount /tmp"
mount -t tmpfs -o mode=755 tmpfs $r/run || fail "cannot mount /run"
ctl=$r/run/vm-run
mkdir -p $ctl
mount -t 9p -o "$p9" vmctl $ctl || fail "cannot mount the control share"
# Shares come sorted by path, so a share inside another one is mounted after it. They sit on
# /tmp or on the read-only root; mkdir -p succeeds on the root when the directory exists.
while read -r tag path; do
	mkdir -p "$r$path" 2>/dev/null
	mount -t 9p -o "$p9,cache=mmap" "$tag" "$r$path" || fail "cannot mount share $path"
done <$ctl/shares

# One line for the caller: which devices the tests can count on, then every further video node.
present=
missing=
others=
i=1
while [ $i -lt 64 ]; do
	[ ! -e /sys/class/video4linux/video$i ] || others="$others video$i"
	i=$((i + 1))
done
for dev in dma_heap/system udmabuf dri/card0 dri/card1 video0 $others; do
	if [ -e "$r/dev/$dev" ]; then
		what=
		case $dev in
		dri/*)
			# virtio-gpu's card hangs off the PCI device (driver virtio-pci), vgem's off a
			# platform device with no driver.
			sysdev=/sys/class/drm/${dev#dri/}/device
			drv=$(readlink -f "$sysdev")
			for link in "$sysdev"/virtio*/driver "$sysdev/driver"; do
				if [ -e "$link" ]; then
					drv=$(readlink "$link")
					break
				fi
			done
			what="(${drv##*/})"
			;;
		video*) what="($(cat "/sys/class/video4linux/$dev/name"))" ;;
		esac
		present="$present /dev/$dev$what"
	else
		missing="$missing /dev/$dev"
	fi
done
read -r up _ </proc/uptime
info "kernel $(uname -r), up ${up}s; devices:${present:- none}; missing:${missing:- none}"

# The command writes into a FIFO drained by cat, so it does not see a tty (no progress bars),
# and processes it leaves behind are killed before the status goes out, so they cannot hold
# the console open.
mkfifo /out
cat /out &
catpid=$!
echo "@@VM-START-$nonce@@"
chroot $r /usr/bin/env -i /bin/bash --noprofile --norc /run/vm-run/cmd.sh </dev/null >/out 2>&1
rc=$?
for d in /proc/[0-9]*; do
	pid=${d#/proc/}
	[ "$pid" = 1 ] || [ "$pid" = "$catpid" ] || [ "$pid" = $$ ] || kill -9 "$pid" 2>/dev/null
done
wait "$catpid"
echo "$rc" >$ctl/status
sync
echo "@@VM-EXIT-$nonce@@ $rc"
poweroff -f
