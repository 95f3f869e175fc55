// Stops the nats-server jest.global-setup.js started (none when a NATS already answered).
import { rmSync } from 'node:fs';

export default async function globalTeardown() {
  const started = globalThis.__tunnelkeyTestNats;
  if (!started) return;
  const exited = new Promise((resolve) => started.server.once('exit', resolve));
  started.server.kill('SIGTERM');
  await exited;
  rmSync(started.store, { recursive: true, force: true });
}
