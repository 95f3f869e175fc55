import 'reflect-metadata';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import {
  CreateBatch,
  DefineServerPolicy,
  ImportIdentities,
  maxImportRows,
  VerifyIdentity,
  type ResultOf,
} from '@tunnelkey/contracts';
import { generatePlatformKey, type PlatformKey } from '@tunnelkey/device-protocol';
import { CommandClient } from '@tunnelkey/messaging';
import { identityFromPublicKey } from '@tunnelkey/puf';
import { natsFixture } from '@tunnelkey/testing';
import { pino } from 'pino';
import { startRegistry, type RunningRegistry } from '../start-registry.js';

// How fast the registry takes a 10,000-device batch on this machine (real NATS, one process).
const deviceCount = Number(process.env.REGISTRY_BENCH_DEVICES ?? 10_000);
const nats = natsFixture({ prefix: 'regperf' });
const logger = pino({ level: process.env.LOG_LEVEL ?? 'warn' });
let platformKey: PlatformKey;
let registry: RunningRegistry;
let client: CommandClient;

const start = () =>
  startRegistry({ nats: nats.nc, namespace: nats.namespace, platformKey, logger, nestLogger: ['error'] });
const command = <R>(definition: { subject(ns?: string): string }, payload: object) =>
  client.request<R>(
    definition.subject(nats.namespace),
    { commandId: randomUUID(), ...payload },
    { timeoutMs: 120_000 },
  );

describe(`registry throughput: ${deviceCount} devices`, () => {
  beforeAll(async () => {
    await nats.setup();
    platformKey = (await generatePlatformKey()).key;
    registry = await start();
    client = new CommandClient(nats.nc);
  });

  afterAll(async () => {
    await registry?.stop();
    await nats.teardown();
  });

  it('imports, challenges and rebuilds a whole batch in seconds', async () => {
    const rows = Array.from({ length: deviceCount }, () => {
      const spki = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' });
      return { deviceId: identityFromPublicKey(spki), enrolmentPublicKey: spki.toString('base64') };
    });
    await command(DefineServerPolicy, {
      policyId: 'bulk',
      name: 'bulk',
      targetIds: [],
      topicRights: [{ topic: 'd/{deviceId}', access: 'publish' }],
      certificateLifetimeDays: 30,
    });
    await command(CreateBatch, {
      batchId: 'bulk',
      name: 'bulk',
      policyId: 'bulk',
      ownerId: 'acme',
      expectedSize: deviceCount,
    });

    let started = performance.now();
    let accepted = 0;
    for (let offset = 0; offset < rows.length; offset += maxImportRows) {
      const report = await command<ResultOf<typeof ImportIdentities>>(ImportIdentities, {
        batchId: 'bulk',
        importId: `part-${offset}`,
        source: { format: 'json', rows: rows.slice(offset, offset + maxImportRows) },
      });
      accepted += report.accepted;
    }
    const importMs = performance.now() - started;
    expect(accepted).toBe(deviceCount);

    started = performance.now();
    const challenged = await command<ResultOf<typeof VerifyIdentity>>(VerifyIdentity, {
      scope: { kind: 'batch', batchId: 'bulk' },
    });
    const verifyMs = performance.now() - started;
    expect(challenged.devices).toBe(deviceCount);

    const events = registry.readModel.checkpoint;
    await registry.stop();
    started = performance.now();
    registry = await start();
    const restartMs = performance.now() - started;
    expect(registry.readModel.batchSummary('bulk')).toMatchObject({
      devices: deviceCount,
      byStatus: { Imported: deviceCount },
    });

    const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);
    console.info(
      [
        `import: ${deviceCount} rows in ${Math.round(importMs)} ms = ${rate(deviceCount, importMs)} rows/s (${Math.ceil(deviceCount / maxImportRows)} calls)`,
        `verify: ${deviceCount} devices under way (challenged through the window as it has room) in ${Math.round(verifyMs)} ms`,
        `restart: read model rebuilt from ${events} events in ${Math.round(restartMs)} ms (service start included)`,
      ].join('\n'),
    );
  }, 300_000);
});
