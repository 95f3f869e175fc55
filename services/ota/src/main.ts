/** The OTA process: configuration from the environment (see config.ts), stops cleanly on SIGTERM/SIGINT. */
import 'reflect-metadata';
import { startOta } from './start-ota.js';

const running = await startOta();
process.stdout.write(`${JSON.stringify({ level: 30, name: 'ota', msg: 'ota listening', url: running.service.url })}\n`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void running.stop().then(() => process.exit(0));
  });
}
