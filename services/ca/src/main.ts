/** The CA process: configuration from the environment (see config.ts), stops cleanly on SIGTERM/SIGINT. */
import 'reflect-metadata';
import { startCa } from './start-ca.js';

const running = await startCa();
process.stdout.write(`${JSON.stringify({ level: 30, name: 'ca', msg: 'CA listening', url: running.service.url })}\n`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void running.stop().then(() => process.exit(0));
  });
}
