#!/bin/sh
# What a Mosquitto onboarding target needs before its first start (deploy/mosquitto/README.md,
# "Starting the broker"), in one directory that becomes the tunnelkey-broker Secret (Kubernetes)
# or is mounted by docker-compose:
#   server-ca.pem              CA of the broker's server certificate (devices get it as serverCaPem)
#   server.pem, server.key     the broker's TLS identity, for the names given (default: mosquitto, localhost)
#   bootstrap-ca.pem           a self-signed CA whose key is thrown away, and
#   bootstrap-crl.pem          its empty CRL: the broker starts admitting no one until onboarding
#                              installs the target's own CA and CRL
#   admin-password             the dynamic-security admin's password (onboarding's target secret file)
#   deploy/mosquitto/bootstrap.sh <out-dir> [dns-name ...]
# Keys 0600. Needs openssl. Production: the server identity from your PKI instead.
set -eu
out=${1:?usage: bootstrap.sh <out-dir> [dns-name ...]}
shift
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 077
san="DNS:mosquitto,DNS:localhost,IP:127.0.0.1"
for name in "$@"; do san="$san,DNS:$name"; done
cd "$work"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=tunnelkey broker server CA" \
  -keyout server-ca.key -out "$out/server-ca.pem" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=mosquitto" -keyout "$out/server.key" -out server.csr 2>/dev/null
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n' "$san" > server.ext
openssl x509 -req -in server.csr -CA "$out/server-ca.pem" -CAkey server-ca.key -CAserial server-ca.srl -CAcreateserial -days 825 \
  -extfile server.ext -out "$out/server.pem" 2>/dev/null

# The bootstrap trust: a CA and its empty CRL (openssl ca needs a minimal database), key discarded.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=tunnelkey bootstrap (admits no one)" \
  -keyout bootstrap.key -out "$out/bootstrap-ca.pem" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
: > index.txt
echo 01 > crlnumber
cat > ca.cnf <<CNF
[ca]
default_ca = bootstrap
[bootstrap]
database = index.txt
crlnumber = crlnumber
default_md = sha256
default_crl_days = 3650
CNF
openssl ca -config ca.cnf -gencrl -keyfile bootstrap.key -cert "$out/bootstrap-ca.pem" -out "$out/bootstrap-crl.pem" 2>/dev/null

# The admin password: letters and digits only (it ends up on mosquitto_ctrl's command line once).
[ -s "$out/admin-password" ] || openssl rand -hex 24 | tr -d '\n' > "$out/admin-password"
chmod 644 "$out/server-ca.pem" "$out/server.pem" "$out/bootstrap-ca.pem" "$out/bootstrap-crl.pem"
echo "wrote $out/{server-ca.pem,server.pem,server.key,bootstrap-ca.pem,bootstrap-crl.pem,admin-password}"
