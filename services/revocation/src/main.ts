/** The revocation process: configuration from the environment (see config.ts), stops cleanly on SIGTERM/SIGINT. */
import 'reflect-metadata';
import { startRevocation } from './start-revocation.js';

const running = await startRevocation();
process.stdout.write(
  `${JSON.stringify({ level: 30, name: 'revocation', msg: 'revocation service listening', url: running.url })}\n`,
);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void running.stop().then(() => process.exit(0));
  });
}
