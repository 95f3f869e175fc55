/** The broker agent process: configuration from the environment (see config.ts), stops cleanly on SIGTERM/SIGINT. */
import 'reflect-metadata';
import { startBrokerAgent } from './start-broker-agent.js';

const running = await startBrokerAgent();
process.stdout.write(
  `${JSON.stringify({ level: 30, name: 'broker-agent', msg: 'broker agent listening', url: running.url })}\n`,
);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void running.stop().then(() => process.exit(0));
  });
}
