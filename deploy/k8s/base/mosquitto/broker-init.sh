#!/bin/sh
# The broker's first start (init container, eclipse-mosquitto image): the dynamic-security file with
# the admin user onboarding registers the target with, and a bootstrap trust (a CA whose key is gone,
# its empty CRL, no ACL line) so that Mosquitto starts before onboarding installs the target's own
# CA. Kept on later starts: onboarding rewrites the trust files (they live on an emptyDir, so a new
# pod starts from the bootstrap and onboarding installs the recorded target CA again).
set -eu
secrets=/var/run/tunnelkey/broker
if [ ! -s /mosquitto/data/dynamic-security.json ]; then
  mosquitto_ctrl dynsec init /mosquitto/data/dynamic-security.json admin "$(cat "$secrets/admin-password")" >/dev/null
fi
[ -s /mosquitto/trust/ca.pem ] || cp "$secrets/bootstrap-ca.pem" /mosquitto/trust/ca.pem
[ -s /mosquitto/trust/crl.pem ] || cp "$secrets/bootstrap-crl.pem" /mosquitto/trust/crl.pem
[ -e /mosquitto/trust/acl ] || : > /mosquitto/trust/acl
# Compose starts this as root: the broker (uid 1883) and onboarding beside it (same uid) own the files.
if [ "$(id -u)" = 0 ]; then chown -R 1883:1883 /mosquitto/trust /mosquitto/data /mosquitto/run /mosquitto/log 2>/dev/null || true; fi
