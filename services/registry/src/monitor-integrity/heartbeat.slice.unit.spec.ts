import { createHash, randomBytes, webcrypto } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { HeartbeatMessage, type DeviceBodyOf } from '@tunnelkey/contracts';
import { EnvelopeSigner } from '@tunnelkey/device-protocol';
import { identityFromPublicKey } from '@tunnelkey/puf';
import { UplinkKeyResolver } from '../device-uplinks/uplink-key-resolver.js';
import { IntegrityQueriesHandler } from '../query-integrity/integrity-queries.handler.js';
import { ReleaseQuarantineHandler } from '../release-quarantine/release-quarantine.handler.js';
import { batchStream, deviceStream, integrityStream, policyStream } from '../shared/registry-streams.js';
import {
  batchCreated,
  deviceAnnounced,
  deviceImported,
  firmware,
  policyDefined,
  registrySlice,
  sliceNow,
  type RegistrySlice,
} from '../test-support/registry-slice.js';
import { IntegrityView } from '../views/integrity.view.js';
import { HeartbeatHandler } from './heartbeat.handler.js';
import { HeartbeatLedger } from './heartbeat-ledger.js';
import { HeartbeatUplinkController } from './heartbeat.uplink-controller.js';
import { RecordViolation } from './record-violation.js';
import { SilentDevicesJob } from './silent-devices.job.js';

const encoder = new TextEncoder();
const tampered = 'cd'.repeat(32);
const updated = 'ef'.repeat(32);

/** A device with a real P-256 enrolment key; `clone()` is a second device holding the same key. */
async function heartbeatingDevice(clock: () => Date) {
  const pair = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const spki = Buffer.from(await webcrypto.subtle.exportKey('spki', pair.publicKey));
  const deviceId = identityFromPublicKey(spki);
  const signerFrom = (counter: number) => {
    const signer = new EnvelopeSigner(deviceId, counter, clock);
    return async (body: DeviceBodyOf<typeof HeartbeatMessage>, forged = false) => {
      const envelope = await signer.sign(HeartbeatMessage, body, { keyId: 'enrolment', privateKey: pair.privateKey });
      const signature = forged ? randomBytes(64).toString('base64') : envelope.signature;
      return {
        subject: HeartbeatMessage.subject(deviceId),
        data: encoder.encode(JSON.stringify({ ...envelope, signature })),
      };
    };
  };
  const identity = {
    deviceId,
    enrolmentPublicKey: spki.toString('base64'),
    enrolmentKeyDigest: createHash('sha256').update(spki).digest('hex'),
  };
  return { identity, deviceId, heartbeat: signerFrom(100), clone: () => signerFrom(0) };
}

describe('integrity monitoring: heartbeats (slice)', () => {
  let slice: RegistrySlice;
  let integrity: IntegrityView;
  let heartbeats: HeartbeatUplinkController;
  let silence: SilentDevicesJob;
  let release: ReleaseQuarantineHandler;
  let queries: IntegrityQueriesHandler;
  let device: Awaited<ReturnType<typeof heartbeatingDevice>>;
  let now = sliceNow;
  const at = (ms: number) => {
    now = new Date(sliceNow.getTime() + ms);
    slice.setNow(now);
  };
  const beat = (firmwareMeasurement = firmware) => device.heartbeat({ firmwareMeasurement, uptimeSeconds: 60 });
  const handle = async (message: { subject: string; data: Uint8Array }) => {
    const outcome = await heartbeats.handle(message.subject, message.data);
    await integrity.catchUp();
    return outcome;
  };
  const violations = async () =>
    (await slice.written()).filter((e) => e.aggregateId === device.deviceId).map((e) => [e.type, e.data]);

  beforeEach(async () => {
    now = sliceNow;
    slice = await registrySlice();
    integrity = new IntegrityView(slice.store, slice.streams, slice.readiness, slice.logger, slice.devices);
    await integrity.onModuleInit();
    const ledger = new HeartbeatLedger();
    queries = new IntegrityQueriesHandler(integrity, slice.devices, ledger);
    const record = new RecordViolation(slice.store, slice.logger);
    const handler = new HeartbeatHandler(integrity, ledger, record, slice.clock);
    const keys = new UplinkKeyResolver(slice.devices);
    const bus = { subscribe: () => ({ unsubscribe: () => undefined }), flush: async () => undefined };
    heartbeats = new HeartbeatUplinkController(
      bus as unknown as NatsConnection,
      keys,
      handler,
      slice.metrics,
      slice.config,
      slice.clock,
      slice.logger,
    );
    silence = new SilentDevicesJob(ledger, integrity, record, slice.config, slice.clock, slice.logger);
    release = new ReleaseQuarantineHandler(slice.store, slice.devices, slice.clock, slice.logger);
    device = await heartbeatingDevice(() => now);
    await slice.given(policyStream('fridges'), [
      policyDefined,
      {
        type: 'IntegrityPolicyDefined',
        data: { policyId: 'fridges', heartbeatPeriodSeconds: 10, missedPeriods: 1.5, action: 'quarantine' },
      },
    ]);
    await slice.given(batchStream('fridges-2026'), [batchCreated('fridges-2026')]);
    await slice.given(deviceStream(device.deviceId), [
      deviceAnnounced(device.identity),
      deviceImported(device.identity, 'fridges-2026'),
    ]);
    await integrity.catchUp();
  });
  afterEach(async () => {
    await integrity.onModuleDestroy();
    await slice.stop();
  });

  it('given the enrolled measurement, when heartbeats report it, then nothing is written', async () => {
    expect(await handle(await beat())).toBe('accepted');
    at(10_000);
    expect(await handle(await beat())).toBe('accepted');
    expect(await slice.written()).toEqual([]);
  });

  it('when a heartbeat reports another measurement, then a violation and, by the policy, a quarantine (once)', async () => {
    expect(await handle(await beat(tampered))).toBe('violation');
    at(10_000);
    await handle(await beat(tampered));
    const written = await violations();
    expect(written.map(([type]) => type)).toEqual(['IntegrityViolationDetected', 'DeviceQuarantined']);
    expect(written[0]![1]).toMatchObject({
      kind: 'measurement-mismatch',
      action: 'quarantine',
      expectedMeasurement: firmware,
      observedMeasurement: tampered,
      heartbeatAt: sliceNow.toISOString(),
    });
    expect(integrity.device(device.deviceId)?.quarantined).toBe(true);
  });

  it('given an OTA release installed, then its measurement is the expected one', async () => {
    await slice.given({ context: 'ota', aggregate: 'device', id: device.deviceId }, [
      {
        type: 'DeviceUpdateApplied',
        data: {
          deviceId: device.deviceId,
          rolloutId: 'r-1',
          firmwareId: 'f-2',
          version: '2.0.0',
          firmwareMeasurement: updated,
        },
      },
    ]);
    await integrity.catchUp();
    expect(await handle(await beat(updated))).toBe('accepted');
    expect(await handle(await beat(firmware))).toBe('violation');
  });

  it('refuses a forged signature and a replayed heartbeat, and writes nothing for them', async () => {
    const first = await beat();
    expect(await handle(first)).toBe('accepted');
    expect(await handle(await beat(tampered).then((m) => ({ ...m, data: forge(m.data) })))).toBe('bad-signature');
    at(3_000);
    expect(await handle(first)).toBe('replayed');
    expect(await slice.written()).toEqual([]);
    const { values } = await slice.metrics.heartbeats.get();
    expect(Object.fromEntries(values.map((v) => [v.labels.outcome, v.value]))).toEqual({
      accepted: 1,
      'bad-signature': 1,
      replayed: 1,
    });
  });

  it('when a second device answers with the same identity (its counter behind, its time ahead), then counter-regression', async () => {
    await handle(await beat());
    at(2_000);
    const clone = device.clone();
    expect(await handle(await clone({ firmwareMeasurement: firmware, uptimeSeconds: 5 }))).toBe('violation');
    expect((await violations())[0]![1]).toMatchObject({ kind: 'counter-regression', counter: 1, lastCounter: 101 });
    // The genuine device goes on being accepted.
    at(10_000);
    expect(await handle(await beat())).toBe('accepted');
  });

  it('when a device falls silent past 1.5 periods, then heartbeat-missing, once per silence', async () => {
    await handle(await beat());
    at(15_000);
    expect(await silence.sweep()).toBe(0);
    at(16_000);
    expect(await silence.sweep()).toBe(1);
    at(30_000);
    expect(await silence.sweep()).toBe(0);
    expect((await violations()).map(([type, data]) => [type, (data as { kind?: string }).kind])).toEqual([
      ['IntegrityViolationDetected', 'heartbeat-missing'],
      ['DeviceQuarantined', undefined],
    ]);
  });

  it('shows the alert list and the device: quarantined, expected measurement, policy, last heartbeat, timeline', async () => {
    await handle(await beat());
    at(10_000);
    await handle(await beat(tampered));
    const { alerts } = queries.alerts({ commandId: 'q-1' });
    expect(alerts).toEqual([
      expect.objectContaining({
        deviceId: device.deviceId,
        kind: 'measurement-mismatch',
        detectedAt: expect.any(String),
      }),
    ]);
    const described = await queries.device({ commandId: 'q-2', deviceId: device.deviceId });
    expect(described).toMatchObject({
      deviceId: device.deviceId,
      quarantined: true,
      expectedMeasurement: firmware,
      policy: { policyId: 'fridges', heartbeatPeriodSeconds: 10, missedPeriods: 1.5, action: 'quarantine' },
      lastHeartbeat: { counter: 102 },
    });
    expect(described.timeline.map((t) => t.type)).toEqual(['IntegrityViolationDetected', 'DeviceQuarantined']);
    await expect(queries.device({ commandId: 'q-3', deviceId: 'd-nobody' })).rejects.toMatchObject({
      reason: 'NOT_FOUND',
    });
  });

  it('releases a quarantined device once; an unknown device is NOT_FOUND', async () => {
    await handle(await beat(tampered));
    const command = { commandId: 'rel-1', deviceId: device.deviceId, actor: { kind: 'operator', id: 'alice' } };
    await expect(release.handle(command)).resolves.toEqual({ deviceId: device.deviceId, released: true });
    await expect(release.handle({ ...command, commandId: 'rel-2' })).resolves.toEqual({
      deviceId: device.deviceId,
      released: false,
    });
    await expect(release.handle({ commandId: 'rel-3', deviceId: 'd-nobody' })).rejects.toMatchObject({
      reason: 'NOT_FOUND',
    });
    expect((await slice.store.read(integrityStream(device.deviceId))).events.map((r) => r.event.type)).toEqual([
      'IntegrityViolationDetected',
      'DeviceQuarantined',
      'DeviceQuarantineReleased',
    ]);
  });
});

/** The same message with another signature: what a forger without the device's key can send. */
function forge(data: Uint8Array): Uint8Array {
  const envelope = JSON.parse(new TextDecoder().decode(data)) as { signature: string };
  return encoder.encode(JSON.stringify({ ...envelope, signature: randomBytes(64).toString('base64') }));
}
