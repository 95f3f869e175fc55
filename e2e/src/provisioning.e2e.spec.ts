/**
 * Issue 4's acceptance, end to end on the real NATS (NATS_URL, isolated by a namespace): the
 * registry and the CA services, and 200 simulated PUF devices from device-fleet. An operator
 * defines a policy and a batch, imports the fleet's identity file, verifies the identities and asks
 * for certificates; every device ends up certified, and openssl — not our own parser — checks
 * every certificate against the CA chain and shows the expected extensions.
 */
import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { inProcessCeremony, startCa, type RunningCa } from '@tunnelkey/ca';
import {
  CertifyDevices,
  CreateBatch,
  DefineServerPolicy,
  ImportIdentities,
  VerifyIdentity,
} from '@tunnelkey/contracts';
import { generatePlatformKey } from '@tunnelkey/device-protocol';
import { createFleet, type Fleet } from '@tunnelkey/device-fleet';
import { CommandClient } from '@tunnelkey/messaging';
import { Kek } from '@tunnelkey/pki';
import { startRegistry, type RunningRegistry } from '@tunnelkey/registry';
import { natsFixture, waitFor } from '@tunnelkey/testing';
import { pino } from 'pino';

const run = promisify(execFile);
const nats = natsFixture();
/** The same flow at scale, with CPU accounting, is `npm run bench:provision` (e2e/src/bench/provision.bench.ts). */
const fleetSize = 200;
const phases: [string, number][] = [];
async function timed<T>(phase: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await work();
  phases.push([phase, performance.now() - started]);
  return result;
}
const logger = pino({ level: 'warn' });

describe(`provisioning a batch of ${fleetSize} PUF devices: import -> verify -> CSR -> certified (registry + CA + fleet)`, () => {
  let registry: RunningRegistry;
  let ca: RunningCa;
  let fleet: Fleet;
  let commands: CommandClient;
  let workDir: string;
  const batchId = `fridges-${randomUUID().slice(0, 8)}`;
  const command = () => ({ commandId: randomUUID() });

  beforeAll(async () => {
    await nats.setup();
    workDir = await mkdtemp(join(tmpdir(), 'tk-e2e-provisioning-'));
    const { key: platformKey } = await generatePlatformKey();
    const namespace = nats.namespace;
    registry = await startRegistry({ nats: nats.nc, namespace, platformKey, logger, nestLogger: ['error'] });
    const kek = await Kek.fromBytes(randomBytes(32));
    // The admin ceremony (root key in memory) signs acme's issuing CA: the CA creates none itself.
    await inProcessCeremony({ nats: nats.nc, namespace, serviceKek: kek, owners: ['acme'], logger });
    ca = await startCa({
      nats: nats.nc,
      namespace,
      platformKey,
      kek,
      logger,
      config: { httpPort: 0 },
    });
    await registry.caSubscriptionStarted();
    fleet = await timed('fleet manufactured and enrolled', () =>
      createFleet({
        nats: nats.nc,
        namespace,
        size: fleetSize,
        profile: 'sram',
        seedBase: `e2e-${batchId}`,
        platformPublicKey: platformKey.publicKeySpki,
      }),
    );
    commands = new CommandClient(nats.nc);
  }, 120_000);

  afterAll(async () => {
    const lines = phases.map(
      ([phase, ms]) =>
        `  ${phase.padEnd(34)} ${(ms / 1000).toFixed(2).padStart(7)} s  ${(fleetSize / (ms / 1000)).toFixed(0).padStart(6)} devices/s`,
    );
    process.stdout.write(`provisioning ${fleetSize} devices:\n${lines.join('\n')}\n`);
    await fleet?.stop();
    await ca?.stop();
    await registry?.stop();
    await nats.teardown();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  const send = <R>(subject: string, payload: object) =>
    commands.request<R>(`${nats.namespace}.${subject}`, payload, { timeoutMs: 30_000 });

  it(
    'certifies every device of the batch, and openssl verifies every certificate',
    async () => {
      await send(DefineServerPolicy.subject(), {
        ...command(),
        policyId: 'fridge-policy',
        name: 'Fridges to the plant broker',
        targetIds: ['plant-broker'],
        topicRights: [{ topic: 'devices/{deviceId}/#', access: 'publish-subscribe' }],
        certificateLifetimeDays: 365,
      });
      await send(CreateBatch.subject(), {
        ...command(),
        batchId,
        name: '200 fridges',
        policyId: 'fridge-policy',
        ownerId: 'acme',
        expectedSize: fleetSize,
      });

      const rows = JSON.parse(fleet.identityFile('json')) as unknown[];
      const maxRows = 2500; // per ImportIdentities call (NATS max payload); clients split bigger files
      const reports = await timed('identities imported', async () => {
        const chunks = [];
        for (let i = 0; i < rows.length; i += maxRows) chunks.push(rows.slice(i, i + maxRows));
        return Promise.all(
          chunks.map((chunk, i) =>
            send<{ accepted: number; rejected: number }>(ImportIdentities.subject(), {
              ...command(),
              batchId,
              importId: `import-${i}`,
              source: { format: 'json', rows: chunk },
            }),
          ),
        );
      });
      expect(reports.reduce((sum, r) => sum + r.accepted, 0)).toBe(fleetSize);
      expect(reports.reduce((sum, r) => sum + r.rejected, 0)).toBe(0);

      await timed('identities verified (challenge)', async () => {
        await send(VerifyIdentity.subject(), { ...command(), scope: { kind: 'batch', batchId } });
        await waitFor(() => registry.readModel.batchSummary(batchId)?.byStatus.Verified === fleetSize, {
          description: 'all identities verified',
          timeoutMs: 60_000 + fleetSize * 20,
        });
      });

      await timed('certified (CSR -> certificate)', async () => {
        await send(CertifyDevices.subject(), { ...command(), scope: { kind: 'batch', batchId }, keyId: 'tls-0' });
        await waitFor(() => registry.readModel.batchSummary(batchId)?.byStatus.Certified === fleetSize, {
          description: 'all devices certified in the registry',
          timeoutMs: 90_000 + fleetSize * 50,
        });
      });

      const devices = [...fleet.devices()];
      expect(devices.filter((d) => d.state === 'certified')).toHaveLength(fleetSize);

      // openssl, independently: every leaf chains to the root through the owner's issuing CA.
      const chain = devices[0]!.flash.certificates['tls-0']!.chainPem;
      const certs = chain.map((pem) => new X509Certificate(pem));
      const root = certs.find((c) => c.subject === c.issuer);
      expect(root).toBeDefined();
      await writeFile(join(workDir, 'root.pem'), root!.toString());
      await writeFile(
        join(workDir, 'issuing.pem'),
        certs
          .filter((c) => c !== root)
          .map((c) => c.toString())
          .join(''),
      );
      const leafFiles = await Promise.all(
        devices.map(async (device, i) => {
          const file = join(workDir, `leaf-${i}.pem`);
          await writeFile(file, device.flash.certificates['tls-0']!.certificatePem);
          return file;
        }),
      );
      const { stdout } = await run('openssl', [
        'verify',
        '-CAfile',
        join(workDir, 'root.pem'),
        '-untrusted',
        join(workDir, 'issuing.pem'),
        '-purpose',
        'sslclient',
        ...leafFiles,
      ]);
      expect(
        stdout
          .trim()
          .split('\n')
          .filter((line) => line.endsWith(': OK')),
      ).toHaveLength(fleetSize);

      const sample = devices[7]!;
      const { stdout: text } = await run('openssl', ['x509', '-text', '-noout', '-in', leafFiles[7]!]);
      expect(text).toContain(`Subject: CN = ${sample.deviceId}`);
      expect(text).toMatch(/X509v3 Extended Key Usage:\s*\n\s*TLS Web Client Authentication/);
      expect(text).toMatch(/X509v3 Key Usage: critical\s*\n\s*Digital Signature/);
      expect(text).toContain(`URI:urn:tunnelkey:device:${sample.deviceId}`);
      expect(text).toContain('X509v3 Subject Key Identifier');
      expect(text).toContain('X509v3 Authority Key Identifier');
      expect(text).toMatch(/X509v3 CRL Distribution Points:[\s\S]*URI:http/);
      // The certified key is the device's attested TLS key, not its enrolment key.
      const leafKey = new X509Certificate(sample.flash.certificates['tls-0']!.certificatePem).publicKey.export({
        type: 'spki',
        format: 'der',
      });
      expect(Buffer.compare(leafKey, Buffer.from(sample.enrolmentPublicKey))).not.toBe(0);
      // 128-bit random serials: all distinct.
      expect(new Set(devices.map((d) => d.flash.certificates['tls-0']!.serialNumber)).size).toBe(fleetSize);
    },
    240_000 + fleetSize * 100,
  );
});
