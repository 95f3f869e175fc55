#!/bin/bash
# The demo on a nats-server of its own, SIGKILLed once in each phase (import, verify, certify, onboard)
# and started again on the same store 2 s later. Build first (`npm run demo` builds; or
# `npx nx run @tunnelkey/e2e:build`). Usage: e2e/src/faults/demo-nats-kill.sh [devices] (default 2000).
# Writes the demo's output to $LOG (default ./demo-nats-kill.log) and what was killed when to $LOG.kills.
set -u
cd "$(dirname "$0")/../../.."
PORT=${PORT:-4555}
LOG=${LOG:-$PWD/demo-nats-kill.log}
DIR=$(mktemp -d "${TMPDIR:-/tmp}/demo-nats-XXXX")
NATS_PID=
start_nats() { nats-server -js -a 127.0.0.1 -sd "$DIR" -p "$PORT" >> "$DIR.log" 2>&1 & NATS_PID=$!; }
ts() { date +%T.%N | cut -c1-12; }
start_nats; sleep 1
echo "$(ts) nats-server pid $NATS_PID store $DIR" > "$LOG.kills"
NATS_URL=nats://127.0.0.1:$PORT node e2e/dist/demo/main.js --devices "${1:-2000}" --exit > "$LOG" 2>&1 &
DEMO=$!
kill_in() { # the phase's label, seconds after its first progress line
  while ! grep -q "^$1" "$LOG"; do
    if ! kill -0 $DEMO 2>/dev/null; then echo "$(ts) demo ended before $1" >> "$LOG.kills"; return 1; fi
    sleep 0.2
  done
  sleep "$2"
  echo "$(ts) SIGKILL nats in '$1': $(grep "^$1" "$LOG" | tail -1)" >> "$LOG.kills"
  kill -9 $NATS_PID; sleep 2; start_nats
  echo "$(ts) nats restarted (pid $NATS_PID)" >> "$LOG.kills"
}
kill_in 'import identities' 0.5 && kill_in 'verify identities' 3 && kill_in 'certify (CSR' 5 && kill_in 'onboard (a target' 2
wait $DEMO; STATUS=$?
echo "$(ts) demo exit $STATUS" >> "$LOG.kills"
kill $NATS_PID; rm -rf "$DIR" "$DIR.log"
exit $STATUS
