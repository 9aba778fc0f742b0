#!/bin/bash
# run.sh - set up this host, build vdsm-c and run vdsmd in the foreground.
#
#   sudo bash scripts/run.sh
#
# Installs what is missing (scripts/setup-host.sh), builds into ./build,
# writes /etc/vdsm/vdsm.conf from contrib/vdsm.conf.example when it does not
# exist, then replaces itself with vdsmd listening on port 54321 (TLS).
# vdsmd drops privileges to user vdsm by itself.  Stop it with Ctrl-C.
# Extra arguments are passed to vdsmd (e.g. --dump-config).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

bash scripts/setup-host.sh

build=${VDSM_BUILD_DIR:-build}
[ -f "$build/build.ninja" ] || meson setup "$build"
ninja -C "$build"

conf=${VDSM_CONFIG:-/etc/vdsm/vdsm.conf}
if [ ! -e "$conf" ]; then
    install -d -m 0755 "$(dirname "$conf")"
    install -m 0644 contrib/vdsm.conf.example "$conf"
    echo "run.sh: wrote default $conf"
fi

echo "run.sh: starting $build/src/vdsmd --config $conf"
exec "$build/src/vdsmd" --config "$conf" "$@"
