#!/usr/bin/env bash
# vm-run.sh: runs one command as root inside a throw-away qemu VM (TCG) booted on Debian's
# backports kernel, in a chroot of this machine's / shared read-only over 9p, so tests can use
# real dma-buf heaps, udmabuf, vgem, virtio-gpu and vivid. How it works: docs/vm.md.
#
# Usage: scripts/vm-run.sh [--share DIR]... [--monitor PATH] [--screendump FILE.ppm]
#                          [--timeout SECS] -- COMMAND [ARGS...]
# Exits with COMMAND's status; 77 with "vm-run: SKIP: <reason>" on stdout when no VM can be had;
# 124 with "vm-run: TIMEOUT" when the command does not finish in time; 125 when the VM stops
# after the command started but before it finished.
set -uo pipefail

prog=vm-run
usage() {
	sed -n 's/^# \{0,1\}//; 6,7p' "$0" >&2
	exit 2
}
say() { printf '%s: %s\n' "$prog" "$*" >&2; }
skip() {
	printf '%s: SKIP: %s\n' "$prog" "$*"
	exit 77
}
debug() { [ -z "${SYSMEM_VM_DEBUG:-}" ] || say "$@"; }

shares=()
monitor=
screendump=
timeout=600
while [ $# -gt 0 ]; do
	case $1 in
	--share)
		[ $# -ge 2 ] || usage
		[ -d "$2" ] || { say "--share $2: not a directory"; exit 2; }
		shares+=("$(cd "$2" && pwd -P)")
		shift 2
		;;
	--monitor)
		[ $# -ge 2 ] || usage
		monitor=$2
		shift 2
		;;
	--screendump)
		[ $# -ge 2 ] || usage
		screendump=$2
		case $screendump in /*) ;; *) screendump=$PWD/$screendump ;; esac
		shift 2
		;;
	--timeout)
		[ $# -ge 2 ] || usage
		case $2 in '' | *[!0-9]*) usage ;; esac
		timeout=$2
		shift 2
		;;
	--)
		shift
		break
		;;
	*) usage ;;
	esac
done
[ $# -gt 0 ] || usage
for s in "${shares[@]}"; do
	case $s in *$'\n'*) say "--share: paths with newlines are not supported"; exit 2 ;; esac
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
init_script=$here/vm-init.sh
[ -r "$init_script" ] || skip "$init_script is missing"
# Modules the VM loads, with their dependencies: 9p for the root and the shares, vgem and
# virtio-gpu for DRM, vivid for V4L2.
modules=(9p 9pnet_virtio vgem virtio_gpu vivid)
read -r -a extra_modules <<<"${SYSMEM_VM_MODULES:-}"
modules+=("${extra_modules[@]}")

# Module parameters, given to insmod: vivid makes two instances, 0 single-planar (video0 is
# vivid-000-vid-cap) and 1 multi-planar (vivid-001-vid-cap). SYSMEM_VM_MODULE_PARAMS changes them:
# words "MODULE:PARAM=VALUE", each further "PARAM=VALUE" for the same module; a parameter
# replaces the default of that name, "PARAM=" (empty) removes it.
default_module_params='vivid:n_devs=2 multiplanar=1,2'
declare -A mod_params=() # module name (with _ for -) -> "PARAM=VALUE ..."
add_module_params() {
	local words word m='' name have p pname found out param_re="^([A-Za-z0-9_-]+)=[^\"']*\$"
	read -r -a words <<<"$1"
	for word in "${words[@]}"; do
		if [[ $word =~ ^([A-Za-z0-9_-]+):(.*)$ ]]; then
			m=${BASH_REMATCH[1]//-/_}
			word=${BASH_REMATCH[2]}
			[ -n "$word" ] || continue
		fi
		if [ -z "$m" ] || ! [[ $word =~ $param_re ]]; then
			say "SYSMEM_VM_MODULE_PARAMS: '$word' is not MODULE:PARAM=VALUE, or PARAM=VALUE after one (no quotes)"
			exit 2
		fi
		name=${BASH_REMATCH[1]//-/_}
		read -r -a have <<<"${mod_params[$m]:-}"
		out=() found=''
		for p in "${have[@]}"; do
			pname=${p%%=*}
			if [ "${pname//-/_}" = "$name" ]; then
				found=1
				[ -z "${word#*=}" ] || out+=("$word")
			else
				out+=("$p")
			fi
		done
		[ -n "$found" ] || [ -z "${word#*=}" ] || out+=("$word")
		mod_params[$m]=${out[*]}
	done
}
add_module_params "$default_module_params"
add_module_params "${SYSMEM_VM_MODULE_PARAMS:-}"

# ---- tools on this machine -------------------------------------------------------------
# Installs Debian packages (as root, unless SYSMEM_VM_NO_INSTALL is set); returns non-zero
# when that is not possible or fails.
apt_install() {
	[ -z "${SYSMEM_VM_NO_INSTALL:-}" ] && [ "$(id -u)" -eq 0 ] || return 1
	command -v apt-get >/dev/null || return 1
	say "installing $*"
	local opts=(-y -qq --no-install-recommends -o DPkg::Lock::Timeout=600)
	DEBIAN_FRONTEND=noninteractive apt-get install "${opts[@]}" "$@" >/dev/null 2>&1 && return 0
	apt-get update -qq -o DPkg::Lock::Timeout=600 >/dev/null 2>&1
	DEBIAN_FRONTEND=noninteractive apt-get install "${opts[@]}" "$@" >/dev/null 2>&1
}

qemu=${SYSMEM_VM_QEMU:-qemu-system-x86_64}
if ! command -v "$qemu" >/dev/null; then
	[ -n "${SYSMEM_VM_QEMU:-}" ] || apt_install qemu-system-x86
	command -v "$qemu" >/dev/null || skip "$qemu is not installed and cannot be installed"
fi
for t in mkfifo flock sha256sum mktemp; do
	command -v "$t" >/dev/null || skip "$t is missing"
done

# ---- the cache: kernel, modules, initramfs ---------------------------------------------
writable_dir() { mkdir -p "$1" 2>/dev/null && [ -w "$1" ] && [ -x "$1" ]; }
cache_ready() { [ -s "$1/current" ] && [ -f "$1/$(cat "$1/current")/vmlinuz" ]; }
cache=${SYSMEM_VM_CACHE:-/var/cache/sysmem-vm}
if ! cache_ready "$cache" && ! writable_dir "$cache"; then
	debug "$cache is not writable, using \$HOME/.cache/sysmem-vm"
	cache=${HOME:-/nonexistent}/.cache/sysmem-vm
	cache_ready "$cache" || writable_dir "$cache" || skip "no writable cache directory (SYSMEM_VM_CACHE)"
fi

lock_cache() {
	writable_dir "$cache" || skip "cache $cache is not writable"
	exec 9>>"$cache/.lock" || skip "cannot open $cache/.lock"
	flock -w 1800 9 || skip "timed out waiting for the lock on $cache"
}

# Prints "URI [KEYRING]" of the Debian mirror this machine uses for its main suite $1.
debian_mirror() {
	local codename=$1 f
	for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		awk -v suite="$codename" '
			function flush() {
				if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") && uri != "") {
					print uri, key; found = 1; exit
				}
				types = suites = uri = key = ""
			}
			/^[ \t]*$/ { flush(); next }
			/^[ \t]*#/ { next }
			tolower($1) == "types:" { $1 = ""; types = $0 }
			tolower($1) == "suites:" { $1 = ""; suites = $0 }
			tolower($1) == "uris:" { uri = $2 }
			tolower($1) == "signed-by:" { key = $2 }
			END { if (!found) flush() }
		' "$f" | grep . && return 0
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		sed -E 's/\[[^]]*\]//' "$f" | awk -v suite="$codename" \
			'$1 == "deb" && $3 == suite { print $2; found = 1; exit } END { exit !found }' && return 0
	done
	return 1
}

# Downloads the backports kernel with a private apt configuration (the system's is left
# alone), unpacks it under $cache/PACKAGE and makes it current.
fetch_kernel() {
	local codename suite mirror key tmp pkg deb kver
	if ! command -v dpkg-deb >/dev/null || ! command -v apt-get >/dev/null; then
		skip "apt-get and dpkg-deb are needed to download the kernel"
	fi
	command -v depmod >/dev/null || apt_install kmod
	command -v depmod >/dev/null || skip "depmod (kmod) is missing"
	# shellcheck source=/dev/null
	codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
	[ -n "$codename" ] || skip "cannot tell the Debian release from /etc/os-release"
	suite=${SYSMEM_VM_SUITE:-$codename-backports}
	if [ -n "${SYSMEM_VM_MIRROR:-}" ]; then
		mirror=$SYSMEM_VM_MIRROR key=
	else
		read -r mirror key < <(debian_mirror "$codename") ||
			skip "no Debian mirror for $codename in /etc/apt"
	fi
	[ -n "$key" ] || [ ! -r /usr/share/keyrings/debian-archive-keyring.gpg ] ||
		key=/usr/share/keyrings/debian-archive-keyring.gpg
	tmp=$(mktemp -d "$cache/.fetch.XXXXXX") || skip "cannot write to $cache"
	mkdir -p "$cache/apt/lists/partial" "$cache/apt/cache/archives/partial"
	echo "deb ${key:+[signed-by=$key] }$mirror $suite main" >"$cache/apt/sources.list"
	local apt=(-o Dir::Etc::SourceList="$cache/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
		-o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null
		-o Dir::State::Lists="$cache/apt/lists" -o Dir::Cache="$cache/apt/cache"
		-o APT::Sandbox::User=root -o Acquire::Languages=none -o Acquire::Retries=2)
	say "looking up the $suite kernel (once; cached in $cache)"
	apt-get "${apt[@]}" -qq --error-on=any update >"$tmp/apt.log" 2>&1 ||
		{ cat "$tmp/apt.log" >&2; rm -rf "$tmp"; skip "apt-get update of $suite failed"; }
	pkg=$(apt-cache "${apt[@]}" depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9].*-amd64$/ { print $2; exit }')
	[ -n "$pkg" ] || { rm -rf "$tmp"; skip "no linux-image-amd64 in $suite"; }
	if [ -f "$cache/$pkg/vmlinuz" ] && [ -s "$cache/$pkg/lib/modules/${pkg#linux-image-}/modules.dep" ]; then
		echo "$pkg" >"$tmp/current" && mv "$tmp/current" "$cache/current"
		rm -rf "$tmp"
		return
	fi
	(cd "$tmp" && apt-get "${apt[@]}" -qq download "$pkg") >>"$tmp/apt.log" 2>&1 ||
		{ cat "$tmp/apt.log" >&2; rm -rf "$tmp"; skip "cannot download $pkg"; }
	deb=$(echo "$tmp"/*.deb)
	dpkg-deb -x "$deb" "$tmp/root" || { rm -rf "$tmp"; skip "cannot unpack $pkg"; }
	rm -f "$deb"
	kver=${pkg#linux-image-}
	if [ ! -d "$tmp/root/lib/modules/$kver" ] || [ ! -f "$tmp/root/boot/vmlinuz-$kver" ]; then
		rm -rf "$tmp"
		skip "$pkg has no vmlinuz-$kver or modules"
	fi
	depmod -b "$tmp/root" "$kver" || { rm -rf "$tmp"; skip "depmod failed for $kver"; }
	mv "$tmp/root/boot/vmlinuz-$kver" "$tmp/root/vmlinuz"
	mv "$tmp/root/boot/config-$kver" "$tmp/root/config"
	echo "$kver" >"$tmp/root/kver"
	rm -rf "${cache:?}/$pkg"
	# Atomic: a parallel reader sees either no kernel or a complete one.
	if ! { mv "$tmp/root" "$cache/$pkg" && echo "$pkg" >"$tmp/current" && mv "$tmp/current" "$cache/current"; }; then
		rm -rf "$tmp"
		skip "cannot write to $cache"
	fi
	rm -rf "$tmp"
}

if [ -n "${SYSMEM_VM_REFRESH:-}" ] || ! cache_ready "$cache"; then
	lock_cache
	if [ -n "${SYSMEM_VM_REFRESH:-}" ] || ! cache_ready "$cache"; then
		fetch_kernel
	fi
	exec 9>&-
fi
kdir=$cache/$(cat "$cache/current")
kver=$(cat "$kdir/kver")
moddir=$kdir/lib/modules/$kver

# Module files in load order, from modules.dep: each module after everything it needs.
declare -A mod_path=() mod_deps=() mod_seen=()
while IFS=: read -r file deps; do
	name=${file##*/}
	name=${name%%.ko*}
	mod_path[${name//-/_}]=$file
	mod_deps[${name//-/_}]=$deps
done <"$moddir/modules.dep"
mod_order=()
add_module() {
	local m=${1//-/_} d
	[ -z "${mod_seen[$m]:-}" ] || return 0
	mod_seen[$m]=1
	[ -n "${mod_path[$m]:-}" ] || { say "module $1 is not in $kver (or built in)"; return 0; }
	for d in ${mod_deps[$m]}; do
		d=${d##*/}
		add_module "${d%%.ko*}"
	done
	mod_order+=("${mod_path[$m]}")
}
for m in "${modules[@]}"; do add_module "$m"; done
for m in "${!mod_params[@]}"; do
	[ -z "${mod_params[$m]}" ] || [ -n "${mod_seen[$m]:-}" ] ||
		say "parameters for $m (${mod_params[$m]}) are not used: it is not loaded (SYSMEM_VM_MODULES)"
done
# The lines of /etc/vm-modules: "NAME [PARAM=VALUE...]", in load order.
mod_lines=()
for f in "${mod_order[@]}"; do
	name=${f##*/}
	name=${name%%.ko*}
	line="$name ${mod_params[${name//-/_}]:-}"
	mod_lines+=("${line% }")
done

busybox=${SYSMEM_VM_BUSYBOX:-/bin/busybox}
busybox_static() { [ -x "$busybox" ] && { LC_ALL=C ldd "$busybox" 2>&1 || true; } | grep -q 'not a dynamic'; }
busybox_static || apt_install busybox-static
busybox_static || skip "a static busybox ($busybox, package busybox-static) is needed"

# The initramfs is named after everything that goes into it, so a change rebuilds it.
initrd_key=$({
	cat "$init_script"
	printf '%s\n' "$kver" "${mod_order[@]}" "${mod_lines[@]}"
	sha256sum <"$busybox"
} | sha256sum | cut -c1-16)
initrd=$kdir/initrd-$initrd_key.cpio.gz

build_initrd() {
	local tmp stage f out name
	for t in cpio gzip xz; do
		command -v "$t" >/dev/null || apt_install cpio gzip xz-utils
		command -v "$t" >/dev/null || skip "$t is needed to build the initramfs"
	done
	tmp=$(mktemp -d "$kdir/.initrd.XXXXXX") || skip "cannot write to $kdir"
	stage=$tmp/root
	mkdir -p "$stage/bin" "$stage/dev" "$stage/etc" "$stage/lib/modules"
	cp "$busybox" "$stage/bin/busybox"
	cp "$init_script" "$stage/init"
	chmod 755 "$stage/init"
	mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true
	printf '%s\n' "${mod_lines[@]}" >"$stage/etc/vm-modules"
	for f in "${mod_order[@]}"; do
		name=${f##*/}
		name=${name%%.ko*}
		out=$stage/lib/modules/$name.ko
		case $f in
		*.ko.xz) xz -dc "$moddir/$f" >"$out" ;;
		*.ko.zst) zstd -qdc "$moddir/$f" >"$out" ;;
		*.ko.gz) gzip -dc "$moddir/$f" >"$out" ;;
		*) cp "$moddir/$f" "$out" ;;
		esac || { rm -rf "$tmp"; skip "cannot decompress $f"; }
	done
	(cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -1) \
		>"$tmp/initrd" || { rm -rf "$tmp"; skip "cannot build the initramfs"; }
	mv "$tmp/initrd" "$initrd" || { rm -rf "$tmp"; skip "cannot write $initrd"; }
	rm -rf "$tmp"
	# Initramfs images of earlier versions of this script are not needed any more (after an
	# hour, in case a run of such a version is just starting).
	find "$kdir" -maxdepth 1 -name 'initrd-*.cpio.gz' ! -name "${initrd##*/}" -mmin +60 -delete
}

if [ ! -f "$initrd" ]; then
	lock_cache
	[ -f "$initrd" ] || build_initrd
	exec 9>&-
fi

# ---- one run ---------------------------------------------------------------------------
run=$(mktemp -d "${TMPDIR:-/tmp}/vm-run.XXXXXX") || skip "cannot create a temporary directory"
ctl=$run/ctl
mkdir "$ctl"
qpid='' poller='' drainer=''
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	[ -z "$poller" ] || kill "$poller" 2>/dev/null
	[ -z "$qpid" ] || kill -9 "$qpid" 2>/dev/null
	[ -z "$drainer" ] || kill "$drainer" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

nonce=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')

# The command, its directory and its environment, as a bash script run by the init.
{
	vars=()
	while IFS= read -r v; do
		case $v in
		SYSMEM* | MESON* | ASAN_* | UBSAN_* | LSAN_* | MSAN_* | TSAN_* | LD_LIBRARY_PATH | MALLOC_PERTURB_) vars+=("$v") ;;
		esac
	done < <(compgen -e)
	read -r -a listed <<<"${VM_ENV_VARS:-}"
	for v in "${listed[@]}"; do
		[[ $v =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] && [ -n "${!v+set}" ] && vars+=("$v")
	done
	printf 'export PATH=%q\n' "${PATH:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}"
	for v in "${vars[@]}"; do
		printf 'export %s=%q\n' "$v" "${!v}"
	done
	echo 'export HOME=/root SYSMEM_IN_VM=1 SYSMEM_VM_CTL=/run/vm-run'
	echo 'export SYSMEM_VM_SCREENDUMP=/run/vm-run/screendump'
	printf 'cd -- %q || { echo "vm-run: cannot cd to %q in the VM (under /tmp or /run? use --share)" >&2; exit 125; }\n' \
		"$(pwd -P)" "$(pwd -P)"
	printf 'exec'
	printf ' %q' "$@"
	printf '\n'
} >"$ctl/cmd.sh"

# Guest side of a screendump: ask, wait for the answer, print the PPM's path in the VM.
cat >"$ctl/screendump" <<'EOF'
#!/bin/sh
d=/run/vm-run
rm -f $d/.vm-screendump-done
: >$d/.vm-screendump-request
i=0
while [ ! -e $d/.vm-screendump-done ]; do
	i=$((i + 1))
	[ $i -le 600 ] || { echo "screendump: no answer from vm-run.sh" >&2; exit 1; }
	sleep 0.1
done
r=$(cat $d/.vm-screendump-done)
rm -f $d/.vm-screendump-done
case $r in ok) echo $d/screendump.ppm ;; *) echo "screendump: $r" >&2; exit 1 ;; esac
EOF
chmod 755 "$ctl/screendump"

qemu_args=(-accel "${SYSMEM_VM_ACCEL:-tcg,thread=multi}" -cpu "${SYSMEM_VM_CPU:-max}" -smp 2 -m 2048
	-nographic -nodefaults -serial stdio -nic none -no-reboot
	-name "vmrun-$nonce"
	-kernel "$kdir/vmlinuz" -initrd "$initrd"
	-append "console=ttyS0 quiet loglevel=0 panic=-1 mitigations=off vmrun.nonce=$nonce"
	-device virtio-gpu-pci
	-virtfs "local,path=/,mount_tag=vmroot,security_model=none,readonly=on,multidevs=remap"
	-virtfs "local,path=${ctl//,/,,},mount_tag=vmctl,security_model=none")
: >"$ctl/shares"
i=0
while IFS= read -r s; do
	[ -n "$s" ] || continue
	qemu_args+=(-virtfs "local,path=${s//,/,,},mount_tag=vmsh$i,security_model=none,multidevs=remap")
	echo "vmsh$i $s" >>"$ctl/shares"
	i=$((i + 1))
done < <(printf '%s\n' "${shares[@]}" | LC_ALL=C sort -u)
# A second monitor on a pipe serves screendumps; --monitor adds one on a unix socket.
mkfifo "$run/mon.in" "$run/mon.out" "$run/console"
qemu_args+=(-chardev "pipe,id=mon0,path=$run/mon" -mon "chardev=mon0,mode=readline")
[ -z "$monitor" ] || qemu_args+=(-monitor "unix:${monitor//,/,,},server=on,wait=off")

# Answers one screendump request: the PPM goes to $ctl/screendump.ppm (visible in the VM)
# and, with --screendump, to that file.
take_screendump() {
	local n
	rm -f "$ctl/.vm-screendump-request" "$ctl/.shot.ppm"
	n=$(grep -c 'VM status' "$run/mon.log")
	printf 'screendump %s\ninfo status\n' "$ctl/.shot.ppm" >&3
	for _ in $(seq 300); do
		[ "$(grep -c 'VM status' "$run/mon.log")" -le "$n" ] || break
		sleep 0.1
	done
	if [ -s "$ctl/.shot.ppm" ] && mv "$ctl/.shot.ppm" "$ctl/screendump.ppm" &&
		{ [ -z "$screendump" ] || cp "$ctl/screendump.ppm" "$screendump"; }; then
		echo ok >"$ctl/.done.tmp"
	else
		echo "screendump failed: $(tr -d '\r' <"$run/mon.log" | grep -v '^(qemu)' | tail -n 3 | tr '\n' ' ')" >"$ctl/.done.tmp"
	fi
	mv "$ctl/.done.tmp" "$ctl/.vm-screendump-done"
	debug "screendump: $(cat "$ctl/.vm-screendump-done")"
}

# The init must report that the command started within this time, or the VM counts as unbootable.
boot_timeout=${SYSMEM_VM_BOOT_TIMEOUT:-300}
started_at=$SECONDS
exec 3<>"$run/mon.in"
cat <>"$run/mon.out" >"$run/mon.log" &
drainer=$!

# Boots the VM and follows its console until it stops (sets saw_*, fail_reason, qemu_rc).
run_vm() {
	"$qemu" "${qemu_args[@]}" </dev/null >"$run/console" 2>"$run/qemu.log" &
	qpid=$!

	(
		trap - EXIT
		stop() {
			: >"$run/$1"
			kill "$qpid" 2>/dev/null
			sleep 2
			kill -9 "$qpid" 2>/dev/null
			exit 0
		}
		while kill -0 "$qpid" 2>/dev/null; do
			# The script itself was killed (SIGKILL): take the VM down with it.
			kill -0 $$ 2>/dev/null || { kill -9 "$qpid"; rm -rf "$run"; exit 0; }
			[ ! -e "$ctl/.vm-screendump-request" ] || take_screendump
			[ -e "$run/started" ] || [ $((SECONDS - started_at)) -lt "$boot_timeout" ] || stop boot-timeout
			[ -e "$run/started" ] || [ $((SECONDS - started_at)) -lt "$timeout" ] || stop boot-timeout
			[ $((SECONDS - started_at)) -lt "$timeout" ] || stop timed-out
			sleep 0.1
		done
	) &
	poller=$!

	# The console: everything before the start marker is boot noise (kept for diagnostics), then
	# the command's output, then the exit marker; init's info lines go to stderr.
	saw_init='' saw_start='' saw_exit='' fail_reason=''
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%$'\r'}
		case $line in
		*"@@VM-INFO-$nonce@@"*) say "${line#*"@@VM-INFO-$nonce@@" }" ;;
		*"@@VM-INIT-$nonce@@"*) saw_init=1 ;;
		*"@@VM-FAIL-$nonce@@"*) fail_reason=${line#*"@@VM-FAIL-$nonce@@" } ;;
		*"@@VM-START-$nonce@@"*)
			saw_start=1
			: >"$run/started"
			debug "command started after $((SECONDS - started_at)) s"
			;;
		*"@@VM-EXIT-$nonce@@"*)
			[ -z "$saw_start" ] || [ -n "$saw_exit" ] || [ -z "${line%%"@@VM-EXIT-$nonce@@"*}" ] ||
				printf '%s\n' "${line%%"@@VM-EXIT-$nonce@@"*}"
			saw_exit=${line##*"@@VM-EXIT-$nonce@@" }
			;;
		*)
			if [ -n "$saw_start" ] && [ -z "$saw_exit" ]; then
				printf '%s\n' "$line"
			else
				printf '%s\n' "$line" >>"$run/boot.log"
			fi
			;;
		esac
	done <"$run/console"
	wait "$qpid"
	qemu_rc=$?
	qpid=
	kill "$poller" 2>/dev/null
	wait "$poller" 2>/dev/null
	poller=
	debug "VM ran $((SECONDS - started_at)) s"
	[ -z "${SYSMEM_VM_DEBUG:-}" ] || [ ! -s "$run/qemu.log" ] || { say "qemu said:"; cat "$run/qemu.log" >&2; }
}

# A VM that stops before its init has even run (the kernel died in early boot, which TCG does now
# and then under load) is booted once more; anything later is reported as it is.
run_vm
if [ -z "$saw_init" ] && [ -z "$fail_reason" ] && [ ! -e "$run/boot-timeout" ] && [ ! -e "$run/timed-out" ]; then
	say "the VM stopped before its init ran (qemu exit status $qemu_rc); booting it once more"
	[ ! -s "$run/boot.log" ] || mv "$run/boot.log" "$run/boot-1.log"
	run_vm
fi

diagnose() {
	[ ! -s "$run/boot.log" ] || { say "console before the command:"; tail -n 20 "$run/boot.log" >&2; }
	[ ! -s "$run/qemu.log" ] || { say "qemu (exit $qemu_rc):"; tail -n 20 "$run/qemu.log" >&2; }
}

if [ -e "$run/timed-out" ]; then
	echo "$prog: TIMEOUT: the command did not finish within $timeout s"
	exit 124
fi
status=
[ ! -f "$ctl/status" ] || status=$(cat "$ctl/status")
[ -n "$status" ] || status=$saw_exit
if [[ $status =~ ^[0-9]+$ ]]; then
	exit "$status"
fi
if [ -n "$saw_start" ]; then
	say "ERROR: the VM stopped before the command finished"
	diagnose
	exit 125
fi
diagnose
[ ! -e "$run/boot-timeout" ] || skip "the VM did not start the command within $((SECONDS - started_at)) s"
[ -z "$fail_reason" ] || skip "VM setup failed: $fail_reason"
[ -z "$saw_init" ] || skip "VM setup failed before the command started"
skip "the VM did not boot (qemu exit status $qemu_rc)"
