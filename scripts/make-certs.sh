#!/bin/bash
# make-certs.sh [DIR] - create a local CA and a host certificate in VDSM's
# trust-store layout, unless DIR/certs/cacert.pem already exists.
#
#   DIR/certs/cacert.pem    the CA certificate (clients and vdsmd trust it)
#   DIR/certs/vdsmcert.pem  host certificate, serverAuth + clientAuth: as in
#                           VDSM, local clients (vdsm-client) present it too
#   DIR/keys/vdsmkey.pem    its private key (0440, owner vdsm:kvm)
#   DIR/ca/cakey.pem        the CA's private key (0400 root; signs more certs)
#
# DIR defaults to /etc/pki/vdsm.  Tests call it with a temporary DIR to make
# throwaway trust stores, and with another DIR for a second, foreign CA.
# Environment: VDSM_CERT_CN (default: hostname), VDSM_CERT_DAYS (default 1825),
# VDSM_CERT_OWNER (default vdsm:kvm when user vdsm exists, else unchanged).
set -euo pipefail

dir=${1:-/etc/pki/vdsm}
if [ -e "$dir/certs/cacert.pem" ]; then
    echo "make-certs: $dir/certs/cacert.pem exists, keeping the trust store"
    exit 0
fi

host=$(hostname)
cn=${VDSM_CERT_CN:-$host}
days=${VDSM_CERT_DAYS:-1825}
owner=${VDSM_CERT_OWNER:-}
if [ -z "$owner" ] && getent passwd vdsm >/dev/null && getent group kvm >/dev/null; then
    owner=vdsm:kvm
fi

umask 077
work=$(mktemp -d "${TMPDIR:-/tmp}/make-certs.XXXXXX")
trap 'rm -rf "$work"' EXIT

san="DNS:localhost,IP:127.0.0.1,IP:::1"
[ "$host" != localhost ] && san="DNS:$host,$san"
[ "$cn" != "$host" ] && [ "$cn" != localhost ] && san="DNS:$cn,$san"

cat >"$work/host.ext" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = $san
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
EOF

# The CA: its name carries a random tag so two stores never share a subject.
tag=$(openssl rand -hex 4)
openssl req -x509 -new -newkey rsa:2048 -nodes -sha256 -days "$days" \
    -subj "/O=vdsm-c/CN=vdsm-c local CA $host $tag" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -keyout "$work/cakey.pem" -out "$work/cacert.pem" 2>/dev/null
openssl req -new -newkey rsa:2048 -nodes -sha256 -subj "/O=vdsm-c/CN=$cn" \
    -keyout "$work/vdsmkey.pem" -out "$work/host.csr" 2>/dev/null
openssl x509 -req -sha256 -days "$days" -in "$work/host.csr" \
    -CA "$work/cacert.pem" -CAkey "$work/cakey.pem" -set_serial "0x$(openssl rand -hex 8)" \
    -extfile "$work/host.ext" -out "$work/vdsmcert.pem" 2>/dev/null
openssl verify -CAfile "$work/cacert.pem" "$work/vdsmcert.pem" >/dev/null

install -d -m 0755 "$dir" "$dir/certs"
install -d -m 0750 "$dir/keys"
install -d -m 0700 "$dir/ca"
install -m 0400 "$work/cakey.pem" "$dir/ca/cakey.pem"
install -m 0440 "$work/vdsmkey.pem" "$dir/keys/vdsmkey.pem"
install -m 0644 "$work/vdsmcert.pem" "$dir/certs/vdsmcert.pem"
if [ -n "$owner" ]; then
    chown "$owner" "$dir/keys" "$dir/keys/vdsmkey.pem" "$dir/certs/vdsmcert.pem"
fi
# cacert.pem last: its presence means the store is complete.
install -m 0644 "$work/cacert.pem" "$dir/certs/cacert.pem.tmp"
mv -f "$dir/certs/cacert.pem.tmp" "$dir/certs/cacert.pem"
echo "make-certs: created CA and host certificate for $cn in $dir"
