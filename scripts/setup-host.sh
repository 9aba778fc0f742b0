#!/bin/bash
# setup-host.sh - prepare a Debian 12 host (root, systemd not required) to
# build, run and test vdsm-c.  Idempotent: every step checks before acting,
# so running it again on a prepared host changes nothing and takes ~1 s.
#
#   1. Debian packages (apt-get update only when something is missing)
#   2. groups kvm, libvirt, libvirt-qemu; users libvirt-qemu and vdsm
#   3. /etc/libvirt/qemu.conf and libvirtd.conf (socket for group libvirt)
#   4. directories, virtlogd + libvirtd (started without systemd), checked
#      by connecting to qemu:///system as root and as user vdsm
#   5. the host trust store /etc/pki/vdsm (scripts/make-certs.sh)
#
# Environment: EXTRA_PKGS="..." adds packages; VDSM_SKIP_CERTS=1 skips step 5.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

log() { echo "setup-host: $*"; }

if [ "$(id -u)" != 0 ]; then
    echo "setup-host: must run as root (sudo bash scripts/setup-host.sh)" >&2
    exit 1
fi

# --- 1. packages ------------------------------------------------------------
# No libvirt-daemon-system: it pulls in systemd-sysv, polkit and iptables.
PKGS=(
    # build
    build-essential meson ninja-build pkg-config
    libglib2.0-dev glib-networking libvirt-dev libjson-c-dev
    libsoup-3.0-dev libnl-route-3-dev python3-yaml
    # tcmalloc for the optional -Dallocator=tcmalloc (docs/benchmarks-stats.md)
    libgoogle-perftools-dev
    # fuzzing and sanitizers
    clang libclang-rt-14-dev
    # run: libvirt + QEMU, certificates, host inspection
    libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
    qemu-system-x86 qemu-utils openssl iproute2 procps cpio util-linux
    # tests
    python3-stomp python3-pytest python3-pytest-timeout curl valgrind
    # tests and benchmarks of VM sampling (promtool; the tools compared;
    # bindfs, a FUSE file system stopped to make stat() of an image hang)
    prometheus collectd-core prometheus-libvirt-exporter bindfs
)
# shellcheck disable=SC2206
PKGS+=(${EXTRA_PKGS:-})
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- 2. users and groups ----------------------------------------------------
# libvirt-qemu must exist even though QEMU runs as root here: without it
# libvirtd's QEMU driver does not load ("Failed to parse user 'libvirt-qemu'").
for g in kvm libvirt libvirt-qemu; do
    getent group "$g" >/dev/null || groupadd -r "$g"
done
getent passwd libvirt-qemu >/dev/null ||
    useradd -r -g libvirt-qemu -G kvm -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
# vdsm: VDSM's user (primary group kvm); group libvirt opens the libvirt socket.
if ! getent passwd vdsm >/dev/null; then
    log "creating user vdsm"
    useradd -r -g kvm -G libvirt -d /var/lib/vdsm -s /usr/sbin/nologin \
        -c "vdsm-c host agent" vdsm
fi
id -nG vdsm | tr ' ' '\n' | grep -qx libvirt || usermod -aG libvirt vdsm
# prometheus-libvirt-exporter runs as user prometheus and needs the libvirt
# socket too; its package adds it to group libvirt only when that group
# existed at install time, which it does not on a fresh machine (step 1 runs
# first).  Without it the exporter answers every scrape with libvirt_up 0.
if getent passwd prometheus >/dev/null; then
    id -nG prometheus | tr ' ' '\n' | grep -qx libvirt || usermod -aG libvirt prometheus
fi

# --- 3. libvirt configuration -----------------------------------------------
mkdir -p /etc/libvirt
# conf_set FILE KEY VALUE: drop active settings of KEY, append ours; returns
# 0 when the file changed.
conf_set() {
    local file=$1 key=$2 value=$3
    touch "$file"
    if [ "$(grep -cE "^[[:space:]]*$key[[:space:]]*=" "$file")" = 1 ] &&
        grep -qxF "$key = $value" "$file"; then
        return 1
    fi
    sed -i -E "/^[[:space:]]*$key[[:space:]]*=/d" "$file"
    echo "$key = $value" >>"$file"
    return 0
}
QC=/etc/libvirt/qemu.conf
conf_set $QC user '"root"' || true
conf_set $QC group '"root"' || true
conf_set $QC dynamic_ownership 0 || true
conf_set $QC remember_owner 0 || true
conf_set $QC security_driver '"none"' || true
# In a chroot where / is not a mount point QEMU's per-domain mount namespace
# fails ("Failed disable mount propagation out of the root filesystem").
mountpoint -q / || conf_set $QC namespaces '[ ]' || true

# Without D-Bus/polkit a non-root client is refused by default; let the
# libvirt group (user vdsm) use the read-write socket without auth.
LC=/etc/libvirt/libvirtd.conf
libvirtd_changed=0
conf_set $LC unix_sock_group '"libvirt"' && libvirtd_changed=1
conf_set $LC unix_sock_rw_perms '"0770"' && libvirtd_changed=1
conf_set $LC auth_unix_rw '"none"' && libvirtd_changed=1

# --- 4. directories and daemons ---------------------------------------------
mkdir -p /run/libvirt /var/lib/libvirt/qemu /var/lib/libvirt/images /var/lib/libvirt/boot \
    /var/log/libvirt/qemu /var/cache/libvirt
install -d -m 0755 -o vdsm -g kvm /run/vdsm /var/lib/vdsm
install -d -m 0755 /etc/vdsm

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
wait_virsh() {
    for _ in $(seq 1 150); do
        virsh -c qemu:///system version >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    virsh -c qemu:///system version >/dev/null # show the error
}

if alive /run/libvirtd.pid && [ $libvirtd_changed = 1 ]; then
    pid=$(cat /run/libvirtd.pid)
    log "libvirtd.conf changed: restarting libvirtd (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        echo "setup-host: libvirtd (pid $pid) did not stop" >&2
        exit 1
    fi
fi
# QEMU's logs go through virtlogd, so it starts first.
alive /run/virtlogd.pid || { log "starting virtlogd"; virtlogd -d; }
alive /run/libvirtd.pid || { log "starting libvirtd"; libvirtd -d; }
wait_virsh

# The daemon runs as vdsm: check that it really reaches libvirt.
if ! out=$(runuser -u vdsm -- virsh -c qemu:///system version 2>&1); then
    echo "setup-host: user vdsm cannot connect to qemu:///system:" >&2
    echo "$out" >&2
    exit 1
fi

# --- 5. certificates ---------------------------------------------------------
if [ "${VDSM_SKIP_CERTS:-0}" != 1 ]; then
    bash "$here/make-certs.sh"
fi

if [ -d /sys/module/kvm_pvm ]; then
    log "NOTE: /dev/kvm is backed by kvm_pvm: stock guest kernels need <domain type='qemu'> (TCG)"
elif [ ! -e /dev/kvm ]; then
    log "NOTE: no /dev/kvm, TCG only"
fi
log "ready ($(virsh -c qemu:///system version | grep -i 'running hypervisor' | sed 's/^ *//'))"
