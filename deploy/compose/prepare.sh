#!/bin/sh
# Everything docker-compose.yml mounts or interpolates, for a development machine, in
# .tunnelkey/compose/ (git-ignored): run once from the repository root, then
#   docker compose --env-file .tunnelkey/compose/compose.env up --build
# Writes:
#   compose.env          one NATS password per user of deploy/nats/nats.conf (and ota), the image version
#   nats-tls/            the bus's development CA, server certificate and key (deploy/nats/dev-certs.sh)
#   platform-key.pem     the platform signing key (PKCS#8, P-256), platform-public-key.pem for the fleet
#   ca-kek, onboarding-kek, ota-kek   the key-encryption keys (32 random bytes, hex)
#   broker/              the broker's server identity, bootstrap trust and admin password (deploy/mosquitto/bootstrap.sh)
# Development only: files are readable by the containers' users (0644); in production every one of
# these is a secret of your own (docs/deployment.md, "Secrets"). Existing files are kept, so keys
# and passwords survive a second run.
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
out="$repo/.tunnelkey/compose"
mkdir -p "$out"
cd "$out"

if [ ! -s compose.env ]; then
  umask 077
  {
    echo "# docker compose --env-file .tunnelkey/compose/compose.env up --build"
    echo "TUNNELKEY_VERSION=$(node -p "require('$repo/package.json').version")"
    for user in registry ca onboarding revocation gateway broker_agent fleet ota; do
      # nats-server reads these as config values: a letter first, then letters and digits.
      echo "NATS_$(echo "$user" | tr a-z A-Z)_PASSWORD=p$(openssl rand -hex 24)"
    done
    echo "# The platform root's SHA-256 fingerprint, once the CA ceremony made it (onboarding waits for it)"
    echo "TRUSTED_ROOT_SHA256="
  } > compose.env
  umask 022
fi
[ -s nats-tls/server.pem ] || "$repo/deploy/nats/dev-certs.sh" nats-tls nats >/dev/null
if [ ! -s platform-key.pem ]; then
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out platform-key.pem 2>/dev/null
  openssl pkey -in platform-key.pem -pubout -out platform-public-key.pem
fi
for kek in ca-kek onboarding-kek ota-kek; do
  [ -s "$kek" ] || openssl rand -hex 32 | tr -d '\n' > "$kek"
done
[ -s broker/server.pem ] || "$repo/deploy/mosquitto/bootstrap.sh" broker >/dev/null
# The containers run as other users than yours (node 1000, mosquitto 1883): development files readable.
chmod 0644 nats-tls/*.pem platform-key.pem platform-public-key.pem ca-kek onboarding-kek ota-kek broker/*
echo "prepared $out (compose.env, nats-tls/, platform-key.pem, *-kek, broker/)"
