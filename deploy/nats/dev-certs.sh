#!/bin/sh
# Development TLS material for deploy/nats/nats.conf: a CA, a server certificate for the names
# the bus is reached by, and one client certificate (for `verify: true`, mutual TLS).
#   deploy/nats/dev-certs.sh <out-dir> [extra DNS name ...]
# Writes ca.pem, server.pem, server-key.pem, client.pem, client-key.pem (keys 0600). Not for
# production: there the certificates come from your PKI and are mounted from a secret.
set -eu
out=${1:?usage: dev-certs.sh <out-dir> [dns-name ...]}
shift
mkdir -p "$out"
cd "$out"
umask 077
san="DNS:localhost,DNS:nats,IP:127.0.0.1"
for name in "$@"; do san="$san,DNS:$name"; done
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 -subj "/CN=tunnelkey dev NATS CA" \
  -keyout ca-key.pem -out ca.pem -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
issue() { # <name> <subject> <extensions>
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$2" -keyout "$1-key.pem" -out "$1.csr" 2>/dev/null
  printf '%s\n' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 825 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
issue server "/CN=nats" "subjectAltName=$san
extendedKeyUsage=serverAuth"
issue client "/CN=tunnelkey-client" "extendedKeyUsage=clientAuth"
rm -f ca.srl
chmod 644 ca.pem server.pem client.pem
echo "wrote $out/{ca,server,server-key,client,client-key}.pem"
