#!/bin/bash
# stats-guests.sh - start or destroy N tiny real guests for bench/stats-bench.sh.
#
# DESIGN: each guest is scripts/mkdom.py's tiny Linux guest under TCG
# (scripts/build-guest.sh builds it once), with its own qcow2 disk (vda)
# and a virtio NIC on the private bridge vdt4br0, which this script
# creates with no IP address (the guest never configures its NIC either),
# and a balloon that reports guest memory stats every 5 s as the engine
# asks for.  Domains are transient and named vdt4-b000 ...; they are
# started and destroyed in parallel batches.
#
# Usage: stats-guests.sh start N [MEMORY_MIB]   (default 96 MiB)
#        stats-guests.sh stop
#        stats-guests.sh count
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PREFIX=vdt4-b
BRIDGE=vdt4br0
IMAGES=/var/lib/libvirt/images/vdt4-bench
BATCH=${BATCH:-10}
VIRSH=(virsh -q -c qemu:///system)

log() { echo "stats-guests: $*" >&2; }

ensure_bridge() {
    [ -d /sys/class/net/$BRIDGE ] || ip link add $BRIDGE type bridge
    ip addr flush dev $BRIDGE
    ip link set $BRIDGE up
}

running() { "${VIRSH[@]}" list --name | grep "^$PREFIX" || true; }

start_one() {
    local i=$1 mem=$2 name
    name=$(printf '%s%03d' $PREFIX "$i")
    qemu-img create -q -f qcow2 "$IMAGES/$name.qcow2" 64M
    /usr/bin/python3 "$src/scripts/mkdom.py" --name "$name" --memory "$mem" --type qemu \
        --disk "$IMAGES/$name.qcow2" --nic-bridge $BRIDGE |
        sed "s|<memballoon model='virtio'/>|<memballoon model='virtio'><stats period='5'/></memballoon>|" \
            >"$IMAGES/$name.xml"
    "${VIRSH[@]}" create "$IMAGES/$name.xml" >/dev/null
}

case "${1:-}" in
start)
    n=${2:?N}
    mem=${3:-96}
    bash "$src/scripts/build-guest.sh" >/dev/null
    ensure_bridge
    mkdir -p $IMAGES
    have=$(running | wc -l)
    log "starting $((n - have)) guests ($have running), $BATCH at a time"
    for ((i = have; i < n; i += BATCH)); do
        for ((j = i; j < i + BATCH && j < n; j++)); do
            start_one "$j" "$mem" &
        done
        wait
    done
    log "$(running | wc -l) guests running"
    ;;
stop)
    names=$(running)
    for n in $names; do "${VIRSH[@]}" destroy "$n" >/dev/null 2>&1 & done
    wait
    rm -rf $IMAGES
    log "stopped"
    ;;
count)
    running | wc -l
    ;;
*)
    sed -n '2,/^set -e/p' "$0" | sed 's/^# \{0,1\}//; $d'
    exit 2
    ;;
esac
