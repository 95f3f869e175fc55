/**
 * The tunnelkey CLI against a real gateway (issue 19): its read models rebuilt from a real
 * JetStream log holding a generated fleet (support/generated-fleet.ts: 30 devices written as the
 * services record them, one revoked and deprovisioned, the first with 25 telemetry reports), and
 * the CLI's new commands run in-process against its HTTP API: paging with --all, --q, the output
 * formats, export, a device's history from its read model, revocation status, and watch on the
 * gateway's live events while an event is appended to the log.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeviceDeprovisioned, DeviceDisconnected, DeviceRevoked } from '@tunnelkey/contracts';
import { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import { runCli, startGateway, type RunningGateway } from '@tunnelkey/gateway';
import { natsFixture } from '@tunnelkey/testing';
import { pino } from 'pino';
import { parse as parseYaml } from 'yaml';
import {
  appendGeneratedFleet,
  generatedEvent,
  generatedOwnerId,
  type GeneratedFleet,
} from './support/generated-fleet.js';

const logger = pino({ level: 'silent' });

describe('tunnelkey CLI against a running gateway', () => {
  const nats = natsFixture();
  const adminToken = `cli-e2e-admin-${randomUUID()}`;
  let store: JetStreamEventStore;
  let gateway: RunningGateway;
  let fleet: GeneratedFleet;
  let viewerToken: string;
  let dir: string;
  const revoked = 'cli-d-03';

  const cli = async (args: string[]) => {
    let out = '';
    let err = '';
    const code = await runCli(args, {
      stdout: { write: (t: string) => (out += t) },
      stderr: { write: (t: string) => (err += t) },
      env: { TUNNELKEY_URL: gateway.url, TUNNELKEY_TOKEN: viewerToken },
    });
    return { code, out, err };
  };

  beforeAll(async () => {
    await nats.setup();
    dir = await mkdtemp(join(tmpdir(), 'tk-cli-e2e-'));
    store = new JetStreamEventStore(nats.nc, { namespace: nats.namespace, logger });
    fleet = await appendGeneratedFleet(store, {
      batchId: 'cli-batch',
      devices: 30,
      deviceIdOf: (i) => `cli-d-${String(i).padStart(2, '0')}`,
      firstDeviceReports: 25,
    });
    const revocationId = 'rev-cli-1';
    const append = (context: 'registry' | 'onboarding', event: ReturnType<typeof generatedEvent>) =>
      store.append({ context, aggregate: 'device', id: revoked }, [event], {
        expectedVersion: 'any',
        messageId: randomUUID(),
      });
    await append(
      'registry',
      generatedEvent(DeviceRevoked, revoked, {
        deviceId: revoked,
        revocationId,
        reason: 'keyCompromise',
        revokedAt: new Date().toISOString(),
      }),
    );
    await append(
      'onboarding',
      generatedEvent(DeviceDeprovisioned, revoked, {
        deviceId: revoked,
        targetId: fleet.targetId,
        reason: 'revoked',
        revocationId,
      }),
    );
    await append(
      'onboarding',
      generatedEvent(DeviceDisconnected, revoked, {
        deviceId: revoked,
        targetId: fleet.targetId,
        clientId: revoked,
        disconnectedAt: new Date().toISOString(),
        reason: 'client-disabled',
      }),
    );
    gateway = await startGateway({
      nats: nats.nc,
      namespace: nats.namespace,
      httpPort: 0,
      adminToken,
      logger,
      announce: () => undefined,
    });
    const issued = await fetch(`${gateway.url}/api/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'cli-viewer', role: 'viewer', ownerId: generatedOwnerId }),
    });
    viewerToken = ((await issued.json()) as { token: string }).token;
  }, 120_000);

  afterAll(async () => {
    await gateway?.stop();
    await store?.close();
    await nats.teardown();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists one page and says what is left, or every device with --all (csv, no headers)', async () => {
    const page = await cli(['devices', 'list', '--limit', '10']);
    expect(page.code).toBe(0);
    expect(page.err).toBe('1-10 of 30 devices shown: --all for every one, --offset 10 for the next page\n');
    const all = await cli(['devices', 'list', '--all', '--limit', '10', '-o', 'csv', '--no-headers']);
    expect(all.code).toBe(0);
    expect(all.err).toBe('');
    expect(
      all.out
        .trimEnd()
        .split('\r\n')
        .map((row) => row.split(',')[0]),
    ).toEqual(fleet.deviceIds);
  });

  it('sorts the fleet on the gateway with --sort, every page in that order; an unknown field is refused', async () => {
    const sorted = await cli(['devices', 'list', '--sort', 'deviceId:desc', '--all', '--limit', '7', '-o', 'json']);
    expect(sorted.code).toBe(0);
    const ids = (JSON.parse(sorted.out) as { items: { deviceId: string }[] }).items.map((d) => d.deviceId);
    expect(ids).toEqual([...fleet.deviceIds].sort().reverse());
    const refused = await cli(['devices', 'list', '--sort', 'colour']);
    expect(refused.code).toBe(3);
    expect(refused.err).toContain('query parameter sort must be <field>[:asc|:desc]');
  });

  it('filters by id prefix and prints YAML that is the API answer', async () => {
    const listed = await cli(['devices', 'list', '--q', 'cli-d-1', '-o', 'yaml']);
    expect(listed.code).toBe(0);
    const page = parseYaml(listed.out) as { items: { deviceId: string }[]; total: number };
    expect(page.total).toBe(10);
    expect(page.items.map((d) => d.deviceId)).toEqual(fleet.deviceIds.slice(10, 20));
  });

  it('exports every device to a file, the revoked one with its state', async () => {
    const file = join(dir, 'devices.csv');
    const exported = await cli(['devices', 'export', '--file', file]);
    expect(exported.code).toBe(0);
    const rows = (await readFile(file, 'utf8')).trimEnd().split('\r\n');
    expect(rows).toHaveLength(31);
    expect(rows.find((r) => r.startsWith(`${revoked},`))).toContain(',Revoked,');
  });

  it("pages a device's history from its read model, the telemetry reports folded", async () => {
    const history = await cli(['devices', 'history', fleet.deviceIds[0]!, '-o', 'json']);
    expect(history.code).toBe(0);
    const body = JSON.parse(history.out) as { events: { type: string; reports?: number }[]; total: number };
    expect(body.events.map((e) => e.type)).toEqual([
      'DeviceIdentityImported',
      'IdentityVerified',
      'DeviceCertified',
      'CertificateIssued',
      'DeviceOnboarded',
      'DeviceConnected',
      'TelemetryReceived',
    ]);
    expect(body.events.at(-1)!.reports).toBe(25);
  });

  it('shows where revocations stand: the revoked device deprovisioned and disconnected', async () => {
    const fleetStatus = await cli(['revocations', 'status', '-o', 'csv']);
    expect(fleetStatus.code).toBe(0);
    const rows = fleetStatus.out.trimEnd().split('\r\n');
    expect(rows).toHaveLength(2);
    expect(rows[1]).toMatch(new RegExp(`^${revoked},.*,yes$`));
    const one = await cli(['revocations', 'status', revoked]);
    expect(one.code).toBe(0);
    expect(one.out).toMatch(/reason\s+keyCompromise/);
    expect(one.out).toMatch(/done\s+yes/);
    expect((await cli(['revocations', 'status', fleet.deviceIds[1]!])).code).toBe(3);
  });

  it('watches the live events: a device that disconnects shows up', async () => {
    const watched = fleet.deviceIds[5]!;
    const watch = () => cli(['watch', '--device', watched, '--count', '1', '-o', 'json']);
    const append = () =>
      store.append(
        { context: 'onboarding', aggregate: 'device', id: watched },
        [
          generatedEvent(DeviceDisconnected, watched, {
            deviceId: watched,
            targetId: fleet.targetId,
            clientId: watched,
            disconnectedAt: new Date().toISOString(),
            reason: 'keepalive-timeout',
          }),
        ],
        { expectedVersion: 'any', messageId: randomUUID() },
      );
    // Append until the watch has printed (a change appended before the stream opened is not sent).
    const timer = setInterval(() => void append(), 500);
    try {
      // The gateway's catch-up of the generated log may still send the device as it was (connected)
      // to a watch opened right after the earlier tests: watch again until the change shows.
      type Shown = { type: string; data: { deviceId: string; connection: string } };
      const seen: Shown[] = [];
      for (let attempt = 0; attempt < 5 && seen.at(-1)?.data.connection !== 'disconnected'; attempt++) {
        const result = await watch();
        expect(result.code).toBe(0);
        expect(result.err).toContain('watching live events as cli-viewer (viewer)');
        seen.push(JSON.parse(result.out.trim()) as Shown);
      }
      expect(seen.every((event) => event.type === 'device' && event.data.deviceId === watched)).toBe(true);
      expect(seen.at(-1)).toMatchObject({ type: 'device', data: { deviceId: watched, connection: 'disconnected' } });
    } finally {
      clearInterval(timer);
    }
  }, 60_000);
});
