#!/bin/bash
# ping-bench.sh - Host.ping2 over STOMP against throwaway vdsmd instances,
# next to a bare TCP/TLS echo floor (see bench/ping-bench.c).
#
# Usage: bench/ping-bench.sh [ping-bench options...]
#   e.g. bench/ping-bench.sh --duration 5 --requests 50000 --clients 1,4,16
#
# It builds the tree if needed (BUILD_DIR, default ./build), makes a
# throwaway trust store (scripts/make-certs.sh), starts two vdsmd
# (ssl=false and ssl=true) on free loopback ports with --no-drop-privileges,
# waits until each answers Host.ping2 through vdsm-client, runs the load
# generator and stops the daemons.  Nothing outside a temporary directory
# is touched; KEEP_TMP=1 keeps it (configs, logs, certs).
# Environment: BUILD_DIR, VDSM_BENCH_LIBVIRT_URI (default test:///default,
# so no host libvirt or VM is involved), KEEP_TMP.
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$src/build}
libvirt_uri=${VDSM_BENCH_LIBVIRT_URI:-test:///default}

log() { echo "ping-bench.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# ---- build ----------------------------------------------------------------
if [ ! -f "$build/build.ninja" ]; then
    log "configuring $build"
    meson setup "$build" "$src" >/dev/null
fi
targets=(src/vdsmd tools/vdsm-client)
if ninja -C "$build" -t targets all 2>/dev/null | grep -q '^bench/ping-bench:'; then
    targets+=(bench/ping-bench)
fi
log "building ${targets[*]} in $build"
ninja -C "$build" "${targets[@]}" >/dev/null || die "build failed (run: ninja -C $build ${targets[*]})"

vdsmd=$build/src/vdsmd
client=$build/tools/vdsm-client
bench=$build/bench/ping-bench
[ -x "$vdsmd" ] || die "$vdsmd was not built"
[ -x "$client" ] || die "$client was not built"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ping-bench.XXXXXX")
pids=()
declare -A pid_of
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ -n "${KEEP_TMP:-}" ]; then
        log "kept $tmp"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT

if [ ! -x "$bench" ]; then
    # bench/ is not (yet) a subdir of the meson project: build the one file here.
    log "$bench not built by meson; compiling it into $tmp"
    bench=$tmp/ping-bench
    # shellcheck disable=SC2046
    cc -std=gnu11 -O2 -D_GNU_SOURCE -I"$src/src/util" -I"$src/src/transport" \
        "$src/bench/ping-bench.c" "$src/src/transport/stomp-frame.c" "$src/src/util/vd-error.c" \
        -o "$bench" $(pkg-config --cflags --libs glib-2.0 gio-2.0) \
        || die "cannot compile bench/ping-bench.c"
fi

# ---- certificates -----------------------------------------------------------
pki=$tmp/pki
if [ -x "$src/scripts/make-certs.sh" ]; then
    VDSM_CERT_CN=localhost VDSM_CERT_OWNER="$(id -un):$(id -gn)" \
        "$src/scripts/make-certs.sh" "$pki" >/dev/null
else
    mkdir -p "$pki/certs" "$pki/keys"
    openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days 2 \
        -subj "/CN=ping-bench CA $$" -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign" \
        -keyout "$tmp/cakey.pem" -out "$pki/certs/cacert.pem" 2>/dev/null
    printf '%s\n' "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=serverAuth,clientAuth" \
        "subjectAltName=DNS:localhost,IP:127.0.0.1" >"$tmp/host.ext"
    openssl req -new -newkey rsa:2048 -nodes -sha256 -subj "/CN=localhost" \
        -keyout "$pki/keys/vdsmkey.pem" -out "$tmp/host.csr" 2>/dev/null
    openssl x509 -req -sha256 -days 2 -in "$tmp/host.csr" -CA "$pki/certs/cacert.pem" \
        -CAkey "$tmp/cakey.pem" -CAcreateserial -extfile "$tmp/host.ext" \
        -out "$pki/certs/vdsmcert.pem" 2>/dev/null
fi

# ---- daemons ----------------------------------------------------------------
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_vdsmd NAME SSL PORT
start_vdsmd() {
    local name=$1 ssl=$2 port=$3
    mkdir -p "$tmp/$name/run"
    cat >"$tmp/$name.conf" <<EOF
[vars]
ssl = $ssl
trust_store_path = $pki
run_dir = $tmp/$name/run
host_uuid_path = $tmp/$name/vdsm.id
libvirt_uri = $libvirt_uri

[addresses]
management_ip = 127.0.0.1
management_port = $port
EOF
    "$vdsmd" --config "$tmp/$name.conf" --no-drop-privileges >"$tmp/$name.log" 2>&1 &
    pids+=($!)
    pid_of[$name]=$!
}

# wait_ready NAME PORT CLIENT-ARGS...: until Host.ping2 succeeds (30 s at most)
wait_ready() {
    local name=$1 port=$2 _
    shift 2
    for _ in $(seq 1 60); do
        if "$client" -a 127.0.0.1 -p "$port" --timeout 2 "$@" Host ping2 >/dev/null 2>&1; then
            return 0
        fi
        if ! kill -0 "${pid_of[$name]}" 2>/dev/null; then
            log "vdsmd ($name) exited; last lines of its log:"
            tail -n 20 "$tmp/$name.log" >&2
            exit 1
        fi
        sleep 0.5
    done
    log "vdsmd ($name) did not answer Host.ping2 on port $port; last lines of its log:"
    tail -n 20 "$tmp/$name.log" >&2
    "$client" -a 127.0.0.1 -p "$port" --timeout 2 "$@" Host ping2 >&2 || true
    exit 1
}

plain_port=$(free_port)
start_vdsmd plain false "$plain_port"
tls_port=$(free_port)
while [ "$tls_port" = "$plain_port" ]; do tls_port=$(free_port); done
start_vdsmd tls true "$tls_port"
wait_ready plain "$plain_port" --insecure
wait_ready tls "$tls_port" --trust-store "$pki"

log "vdsmd plain on 127.0.0.1:$plain_port, TLS on 127.0.0.1:$tls_port; $(nproc) CPUs"
"$bench" --host 127.0.0.1 --plain-port "$plain_port" --tls-port "$tls_port" \
    --trust-store "$pki" "$@"
