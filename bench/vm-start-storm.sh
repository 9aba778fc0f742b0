#!/bin/bash
# vm-start-storm.sh - start N VMs at once through vdsmd's API and, in the
# same run, the same N domains straight through libvirt (the floor), and
# print the ratio.
#
# DESIGN: the floor is bench/vm-start-floor.c (built here with gcc and
# pkg-config): one process, N threads, one libvirt connection each, every
# thread defines and starts one domain; the clock stops when the last
# virDomainCreate returned.  The API side is a STOMP client (Debian's
# python3-stomp) that subscribes to jms.queue.events, sends the N VM.create
# calls as one JSON-RPC batch, and stops the clock at the N-th VM_status
# event that leaves WaitForLaunch (the start-up flow is over: the domain
# runs, exactly what the floor waits for).  The domains are identical
# (diskless, no OS; KVM when a probe domain runs under it, else TCG).
# Floor and API rounds alternate, so a noisy neighbour hits both; each
# configuration reports the median of its rounds.  Between rounds every
# domain is destroyed and undefined.  vdsmd is started here, once per
# creation-concurrency value, with --set vars.max_concurrent_vm_creations.
#
# Usage: bench/vm-start-storm.sh [-n 20] [-r 3] [-c "4 8 20"] [-b BUILD_DIR] [-p PORT]
#   -n  VMs per storm            -r  rounds per configuration
#   -c  creation concurrency values to try (one vdsmd each)
#   -b  build directory holding src/vdsmd (default: build)
# Run as root on a host prepared by scripts/setup-host.sh.  Output: one line
# per round, then a table "concurrency floor_s api_s ratio".
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
N=20 ROUNDS=3 CONC="4 8 20" BUILD=build PORT=16099
while getopts "n:r:c:b:p:h" o; do
    case $o in
    n) N=$OPTARG ;; r) ROUNDS=$OPTARG ;; c) CONC=$OPTARG ;; b) BUILD=$OPTARG ;;
    p) PORT=$OPTARG ;;
    *) sed -n '2,/^set -e/p' "$0" | sed 's/^# \{0,1\}//; $d'; exit 2 ;;
    esac
done
VDSMD=$repo/$BUILD/src/vdsmd
[ -x "$VDSMD" ] || { echo "vm-start-storm: $VDSMD is not built" >&2; exit 1; }
PY=/usr/bin/python3
tmp=$(mktemp -d /tmp/vm-start-storm.XXXXXX)
vdsmd_pid=
# Names carry this script's pid (vdt3-p<pid>-...): the system tests' fixtures
# leave domains of a live process alone, so a test run cannot break a round.
P=vdt3-p$$-
cleanup_domains() { "$tmp/vm-start-floor" --cleanup --prefix "$P" >/dev/null 2>&1 || true; }
finish() {
    [ -n "$vdsmd_pid" ] && kill "$vdsmd_pid" 2>/dev/null && wait "$vdsmd_pid" 2>/dev/null
    cleanup_domains
    rm -rf "$tmp"
}
trap finish EXIT

gcc -O2 -Wall -o "$tmp/vm-start-floor" "$here/vm-start-floor.c" \
    $(pkg-config --cflags --libs libvirt glib-2.0)

# --- the domain: KVM when it runs here, else TCG ---------------------------
template() { # TYPE -> XML with @NAME@/@UUID@
    cat <<EOF
<domain type='$1'>
  <name>@NAME@</name>
  <uuid>@UUID@</uuid>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <features><acpi/></features>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <graphics type='vnc' autoport='yes' listen='127.0.0.1'/>
    <video><model type='none'/></video>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
}
dtype=qemu
if [ -e /dev/kvm ]; then
    template kvm >"$tmp/probe.xml"
    if "$tmp/vm-start-floor" -t "$tmp/probe.xml" -n 1 -m serial -p "${P}probe-" >/dev/null 2>&1; then
        dtype=kvm
    fi
    cleanup_domains
fi
template $dtype >"$tmp/domain.xml"
echo "# $N domains of type $dtype; $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)"

# --- the API storm (STOMP client) -------------------------------------------
cat >"$tmp/storm.py" <<'EOF'
import json, sys, threading, time, uuid
import stomp
port, n, template, prefix = int(sys.argv[1]), int(sys.argv[2]), open(sys.argv[3]).read(), sys.argv[4]
done, lock, left = threading.Event(), threading.Lock(), {}
class L(stomp.ConnectionListener):
    def on_message(self, frame):
        body = json.loads(frame.body)
        m = body.get("method", "") if isinstance(body, dict) else ""
        if not m.startswith("|virt|VM_status|"):
            return
        vm = m.rsplit("|", 1)[1]
        st = body["params"][vm]["status"]
        with lock:
            if vm in left and st != "WaitForLaunch":
                if st == "Down":
                    print("storm: %s went Down: %s" % (vm, body["params"][vm]), file=sys.stderr)
                del left[vm]
                if not left:
                    done.set()
c = stomp.Connection12([("127.0.0.1", port)], heartbeats=(0, 0), auto_decode=True)
c.set_listener("l", L())
c.connect(wait=True, with_connect_command=True)
c.subscribe(destination="jms.queue.events", id="ev", ack="auto")
c.subscribe(destination="storm-replies", id="rp", ack="auto")
time.sleep(0.3)
reqs = []
for i in range(n):
    vid = "3f10a0c0-0000-4000-8000-%012d" % (800000 + i)
    left[vid] = True
    xml = template.replace("@NAME@", "%sstorm-%02d" % (prefix, i)).replace("@UUID@", vid)
    reqs.append({"jsonrpc": "2.0", "method": "VM.create", "id": str(uuid.uuid4()),
                 "params": {"vmID": vid, "vmParams": {"xml": xml}}})
t0 = time.monotonic()
c.send("jms.topic.vdsm_requests", json.dumps(reqs), content_type="application/json",
       headers={"reply-to": "storm-replies"})
ok = done.wait(300)
t = time.monotonic() - t0
c.disconnect()
print("%.3f" % t if ok else "timeout")
EOF

# --- helpers ------------------------------------------------------------------
start_vdsmd() { # CONCURRENCY
    "$VDSMD" --no-drop-privileges --set vars.ssl=false --set addresses.management_port="$PORT" \
        --set vars.run_dir="$tmp" --set vars.guest_wait_timeout=60 \
        --set vars.max_concurrent_vm_creations="$1" >"$tmp/vdsmd-$1.log" 2>&1 &
    vdsmd_pid=$!
    for _ in $(seq 100); do
        curl -s -m 1 -X POST -d '{"jsonrpc":"2.0","method":"Host.ping2","id":1}' \
            "http://127.0.0.1:$PORT/jsonrpc" | grep -q '"result":true' && return 0
        sleep 0.1
    done
    echo "vm-start-storm: vdsmd did not start" >&2; cat "$tmp/vdsmd-$1.log" >&2; exit 1
}
stop_vdsmd() { kill "$vdsmd_pid"; wait "$vdsmd_pid" 2>/dev/null || true; vdsmd_pid=; }
destroy_storm() { # through the API, so vdsmd forgets them too
    $PY - "$PORT" "$N" <<'EOF'
import json, sys, urllib.request
port, n = int(sys.argv[1]), int(sys.argv[2])
reqs = [{"jsonrpc": "2.0", "method": "VM.destroy", "id": i,
         "params": {"vmID": "3f10a0c0-0000-4000-8000-%012d" % (800000 + i)}} for i in range(n)]
urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%d/jsonrpc" % port,
                       data=json.dumps(reqs).encode()), timeout=300).read()
EOF
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# --- rounds --------------------------------------------------------------------
cleanup_domains
results=()
for c in $CONC; do
    floors=() apis=()
    for r in $(seq "$ROUNDS"); do
        # The floor runs with no vdsmd around (it would adopt the domains).
        if ! f=$("$tmp/vm-start-floor" -t "$tmp/domain.xml" -n "$N" -m per-thread \
                 -p "${P}floor-" | awk '{print $4}') || [ -z "$f" ]; then
            echo "concurrency $c round $r: the floor failed (see above); round skipped"
            cleanup_domains
            continue
        fi
        cleanup_domains
        start_vdsmd "$c"
        a=$($PY "$tmp/storm.py" "$PORT" "$N" "$tmp/domain.xml" "$P")
        destroy_storm
        stop_vdsmd
        cleanup_domains
        echo "concurrency $c round $r: floor ${f}s api ${a}s"
        floors+=("$f") apis+=("$a")
    done
    if [ ${#floors[@]} = 0 ]; then
        results+=("$(printf '%-12s %8s %8s %6s' "$c" - - -)")
        continue
    fi
    fm=$(printf '%s\n' "${floors[@]}" | median)
    am=$(printf '%s\n' "${apis[@]}" | median)
    results+=("$(printf '%-12s %8.3f %8.3f %6.2f' "$c" "$fm" "$am" "$(echo "$am / $fm" | bc -l)")")
done
echo
echo "concurrency  floor_s    api_s  ratio   (medians of $ROUNDS rounds, $N $dtype domains)"
printf '%s\n' "${results[@]}"
