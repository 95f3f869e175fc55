/** The onboarding process: configuration from the environment (see config.ts), stops cleanly on SIGTERM/SIGINT. */
import 'reflect-metadata';
import { startOnboarding } from './start-onboarding.js';

const running = await startOnboarding();
process.stdout.write(
  `${JSON.stringify({ level: 30, name: 'onboarding', msg: 'onboarding listening', url: running.service.url })}\n`,
);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void running.stop().then(() => process.exit(0));
  });
}
