#!/bin/bash
# build-guest.sh - build vdsm-c's tiny real Linux guest from Debian packages only.
#
# DESIGN: the guest is a kernel plus a busybox initramfs, assembled from three
# Debian packages that are downloaded (`apt-get download`) and unpacked
# (`dpkg-deb -x`), never installed: linux-image-*-cloud-amd64, busybox-static
# and qemu-guest-agent.  qemu-ga's shared libraries are copied from the build
# host (same Debian release; qemu-system-x86 already needs them).  The guest
#   - loads the virtio, evdev and ACPI button modules (busybox modprobe),
#   - runs qemu-ga on /dev/virtio-ports/org.qemu.guest_agent.0,
#   - runs the oVirt guest agent responder (tests/guest/ovirt-agent-responder,
#     a test fixture) on /dev/virtio-ports/ovirt-guest-agent.0 when that port
#     exists,
#   - powers off on an ACPI power-button event (busybox acpid),
#   - brings up loopback only: it never configures an address, route or DHCP
#     client on any NIC, so it sends no traffic anywhere,
#   - has a root shell on ttyS0 and `agentctl` (tests/guest/agentctl) to stop
#     and restart either agent from inside (through qemu-ga's guest-exec or
#     the serial console).
#
# Output (cache), default /var/cache/vdsm-c/guest, overridden by $VDSM_GUEST_DIR:
#   vmlinuz, initrd.img   the guest
#   build.sha256          hash of this script and the two fixtures it copies
#                         into the image (FIXTURES below): the guest is
#                         rebuilt only when an output is missing or this hash
#                         changed (or with --force)
#   info                  kernel version and package versions
#   debs/                 the downloaded packages (reused)
# Concurrent runs are serialised with flock on $DIR/.lock.  Prints the paths.
#
# Usage: build-guest.sh [--force] [--check]
#   --check  exit 0 when the cache is up to date, 1 otherwise; builds nothing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fixtures=$(cd "$here/../tests/guest" && pwd)
DIR=${VDSM_GUEST_DIR:-/var/cache/vdsm-c/guest}
force=0 check=0
for a in "$@"; do
    case "$a" in
    --force) force=1 ;;
    --check) check=1 ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed 's/^# \{0,1\}//; $d'; exit 0 ;;
    *) echo "build-guest: unknown argument $a" >&2; exit 2 ;;
    esac
done

log() { echo "build-guest: $*" >&2; }

# Everything that shapes the image goes into the hash.
FIXTURES="agentctl ovirt-agent-responder"
inputs_hash() {
    (cd "$here" && sha256sum build-guest.sh
     cd "$fixtures" && sha256sum $FIXTURES) | sha256sum | cut -d' ' -f1
}
want=$(inputs_hash)

up_to_date() {
    [ -s "$DIR/vmlinuz" ] && [ -s "$DIR/initrd.img" ] && [ -f "$DIR/build.sha256" ] &&
        [ "$(cat "$DIR/build.sha256")" = "$want" ]
}

if [ $check = 1 ]; then
    up_to_date && exit 0 || exit 1
fi
if [ $force = 0 ] && up_to_date; then
    echo "kernel: $DIR/vmlinuz initrd: $DIR/initrd.img (cached)"
    exit 0
fi

mkdir -p "$DIR"
exec 9>"$DIR/.lock"
flock 9
# Another run may have built it while we waited for the lock.
if [ $force = 0 ] && up_to_date; then
    echo "kernel: $DIR/vmlinuz initrd: $DIR/initrd.img (cached)"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive LC_ALL=C
for tool in cpio gzip flock apt-get dpkg-deb ldd sha256sum; do
    command -v $tool >/dev/null || { log "missing tool: $tool"; exit 1; }
done

# --- 1. download (not install) the guest packages ---------------------------
DEBS=$DIR/debs
mkdir -p "$DEBS"
cd "$DEBS"
kpkg_name() {
    apt-cache depends linux-image-cloud-amd64 2>/dev/null |
        awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}
KPKG=$(kpkg_name)
if [ -z "$KPKG" ]; then
    log "apt lists lack linux-image-cloud-amd64; running apt-get update"
    apt-get update -qq
    KPKG=$(kpkg_name)
fi
[ -n "$KPKG" ] || { log "cannot resolve the cloud kernel package"; exit 1; }
for p in "$KPKG" busybox-static qemu-guest-agent; do
    if ! ls ./"${p}"_*.deb >/dev/null 2>&1; then
        log "downloading $p"
        # As root, apt warns that _apt cannot write here; the download works.
        apt-get download -qq "$p" 2> >(grep -v 'unsandboxed as root' >&2)
    fi
done
deb() { ls ./"$1"_*.deb | head -1; }

# qemu-ga's libraries come from the host; they must be present for ldd.
missing=()
for d in $(dpkg-deb -f "$(deb qemu-guest-agent)" Depends | tr ',' '\n' |
           sed 's/(.*)//; s/|.*//; s/ //g' | grep -v '^$'); do
    dpkg-query -W -f='${Status}' "$d" 2>/dev/null | grep -q 'ok installed' || missing+=("$d")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || { log "host libraries missing (${missing[*]}); run as root"; exit 1; }
    log "installing qemu-ga's host libraries: ${missing[*]}"
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- 2. unpack ---------------------------------------------------------------
WORK=$DIR/work
rm -rf "$WORK"
mkdir -p "$WORK"/{k,bb,ga,root}
dpkg-deb -x "$(deb "$KPKG")" "$WORK/k"
dpkg-deb -x "$(deb busybox-static)" "$WORK/bb"
dpkg-deb -x "$(deb qemu-guest-agent)" "$WORK/ga"
KVER=$(ls "$WORK/k/lib/modules")
BB=$WORK/bb/bin/busybox
cp "$WORK/k/boot/vmlinuz-$KVER" "$WORK/vmlinuz"

# --- 3. root file system -----------------------------------------------------
R=$WORK/root
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,usr/libexec/guest,etc/acpi/PWRF,proc,sys,dev,run,tmp,root,var/log,mnt}
ln -s ../run "$R/var/run"
cp "$BB" "$R/bin/busybox"
for a in $("$BB" --list-full); do
    [ -e "$R/$a" ] || ln -s /bin/busybox "$R/$a"
done

# Kernel modules and their dependencies, resolved by busybox depmod on the
# unpacked tree; the guest loads them with busybox modprobe.
MODS="virtio_pci virtio_blk virtio_net virtio_console virtio_balloon virtio-rng evdev button"
"$BB" depmod -b "$WORK/k" "$KVER"
KD=$WORK/k/lib/modules/$KVER
for m in $MODS; do
    line=$(grep -E "(^|/)$m\.ko:" "$KD/modules.dep") || { log "module $m not in $KPKG"; exit 1; }
    for f in ${line%%:*} ${line#*:}; do
        mkdir -p "$R/lib/modules/$KVER/$(dirname "$f")"
        cp "$KD/$f" "$R/lib/modules/$KVER/$f"
    done
done
"$BB" depmod -b "$R" "$KVER"
echo "$MODS" >"$R/etc/guest-modules"

# qemu-ga and its shared libraries
cp "$WORK/ga/usr/sbin/qemu-ga" "$R/usr/sbin/qemu-ga"
for lib in $(ldd "$WORK/ga/usr/sbin/qemu-ga" | grep -o '/[^ ]*'); do
    mkdir -p "$R$(dirname "$lib")"
    cp -L "$lib" "$R$lib"
done
if ldd "$WORK/ga/usr/sbin/qemu-ga" | grep -q 'not found'; then
    log "qemu-ga has unresolved libraries"; exit 1
fi
# qemu-ga's guest-shutdown runs "/sbin/shutdown -h -P|-H|-r +0 msg" (7.2:
# "-h" comes first, the mode flag second).
rm -f "$R/sbin/shutdown"
cat >"$R/sbin/shutdown" <<'SH'
#!/bin/sh
for a in "$@"; do
    case "$a" in -r) exec reboot ;; -H) exec halt ;; esac
done
exec poweroff
SH

# The test fixtures: oVirt agent responder and agentctl
install -m 0755 "$fixtures/ovirt-agent-responder" "$R/usr/bin/ovirt-agent-responder"
install -m 0755 "$fixtures/agentctl" "$R/usr/bin/agentctl"

GA_VER=$(dpkg-deb -f "$(deb qemu-guest-agent)" Version)
BB_VER=$(dpkg-deb -f "$(deb busybox-static)" Version)
cat >"$R/etc/os-release" <<OS
PRETTY_NAME="vdsm-c tiny guest 1 (Debian packages)"
NAME="vdsm-c-tiny"
ID=vdsm-c-tiny
ID_LIKE=debian
VERSION="1"
VERSION_ID="1"
VERSION_CODENAME=tiny
OS
printf 'qemu-guest-agent %s\nbusybox %s\nkernel %s\n' "$GA_VER" "$BB_VER" "$KVER" >"$R/etc/guest-packages"
echo 'root:x:0:0:root:/root:/bin/sh' >"$R/etc/passwd"
echo 'root:x:0:' >"$R/etc/group"
: >"$R/etc/fstab"

cat >"$R/etc/inittab" <<'SH'
::sysinit:/etc/rc
::respawn:/usr/libexec/guest/run-qga
::respawn:/usr/libexec/guest/run-ovirt-agent
ttyS0::respawn:-/bin/sh
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/sync
::shutdown:/bin/umount -a -r
SH

# Find a virtio-serial port by name and keep /dev/virtio-ports/<name>
# (there is no udev in the guest).  Prints the path; fails when absent.
cat >"$R/usr/libexec/guest/vport" <<'SH'
#!/bin/sh
for p in /sys/class/virtio-ports/*; do
    [ -e "$p/name" ] && [ "$(cat "$p/name")" = "$1" ] || continue
    mkdir -p /dev/virtio-ports
    ln -sf "../${p##*/}" "/dev/virtio-ports/$1"
    echo "/dev/virtio-ports/$1"
    exit 0
done
exit 1
SH

# Agent runners: wait for the port and for the stop file to go away.
cat >"$R/usr/libexec/guest/run-qga" <<'SH'
#!/bin/sh
while [ -e /run/qga.stop ] || ! P=$(/usr/libexec/guest/vport org.qemu.guest_agent.0); do
    sleep 1
done
exec /usr/sbin/qemu-ga -m virtio-serial -p "$P" -t /run
SH
cat >"$R/usr/libexec/guest/run-ovirt-agent" <<'SH'
#!/bin/sh
while [ -e /run/ovirt-agent.stop ] || ! P=$(/usr/libexec/guest/vport ovirt-guest-agent.0); do
    sleep 1
done
OVIRT_AGENT_PORT=$P exec /usr/bin/ovirt-agent-responder
SH

# ACPI power button -> poweroff (busybox acpid's built-in table maps
# KEY_POWER to the action PWRF/00000080, run from /etc/acpi).
cat >"$R/etc/acpi/PWRF/00000080" <<'SH'
#!/bin/sh
echo "acpi: power button, powering off" >/dev/console
exec poweroff
SH

cat >"$R/etc/rc" <<'SH'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /dev/pts /dev/virtio-ports
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs tmpfs /tmp
for m in $(cat /etc/guest-modules); do modprobe "$m" 2>/dev/null; done
# Loopback only: no address, route or DHCP on any other interface.
ip link set lo up
HN=vdsm-c-guest
for kv in $(cat /proc/cmdline); do
    case "$kv" in vdsmc.hostname=*) HN=${kv#vdsmc.hostname=} ;; esac
done
hostname "$HN"
echo "$HN" >/etc/hostname
acpid -l /var/log/acpid.log
echo "VDSM-C-GUEST-READY $(cut -d' ' -f1 /proc/uptime)"
SH
chmod 0755 "$R"/etc/rc "$R"/sbin/shutdown "$R"/usr/libexec/guest/* "$R/etc/acpi/PWRF/00000080"
ln -sf /bin/busybox "$R/init" # busybox init as PID 1 (handles poweroff/reboot)

# --- 4. pack and publish -----------------------------------------------------
(cd "$R" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1) >"$WORK/initrd.img"
mv -f "$WORK/vmlinuz" "$DIR/vmlinuz"
mv -f "$WORK/initrd.img" "$DIR/initrd.img"
printf 'kernel %s\npackage %s\nqemu-guest-agent %s\nbusybox-static %s\n' \
    "$KVER" "$KPKG" "$GA_VER" "$BB_VER" >"$DIR/info"
echo "$want" >"$DIR/build.sha256"
rm -rf "$WORK"
echo "kernel: $DIR/vmlinuz ($KVER) initrd: $DIR/initrd.img ($(du -h "$DIR/initrd.img" | cut -f1))"
