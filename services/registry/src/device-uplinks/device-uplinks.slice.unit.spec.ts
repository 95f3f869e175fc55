import { randomBytes, webcrypto } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  AnnounceMessage,
  IdentityResponseMessage,
  type DeviceBodyOf,
  type DeviceMessageDefinition,
} from '@tunnelkey/contracts';
import { EnvelopeSigner } from '@tunnelkey/device-protocol';
import { identityFromPublicKey } from '@tunnelkey/puf';
import { AnnounceHandler } from '../announce-device/announce.handler.js';
import { EnrolmentKeyReportHandler } from '../request-enrolment-keys/enrolment-key-report.handler.js';
import { batchStream, deviceStream, policyStream } from '../shared/registry-streams.js';
import {
  batchCreated,
  deviceImported,
  firmware,
  policyDefined,
  registrySlice,
  sliceNow,
  type RegistrySlice,
} from '../test-support/registry-slice.js';
import { nonceDigestOf } from '../verify-identity/challenge-nonces.js';
import { IdentityResponseHandler } from '../verify-identity/identity-response.handler.js';
import { DeviceUplinksController } from './device-uplinks.uplink-controller.js';
import { UplinkKeyResolver } from './uplink-key-resolver.js';

const encoder = new TextEncoder();

/** The bus as the controller sees it: the subscriptions it makes, and a way to deliver to them. */
class BusDouble {
  readonly callbacks = new Map<string, (error: Error | null, msg: { subject: string; data: Uint8Array }) => void>();
  subscribe(subject: string, options: { callback: BusDouble['callbacks'] extends Map<string, infer C> ? C : never }) {
    this.callbacks.set(subject.split('.').at(-1)!, options.callback);
    return { unsubscribe: () => undefined };
  }
  async flush() {}
  deliver(message: { subject: string; data: Uint8Array }) {
    this.callbacks.get(message.subject.split('.').at(-1)!)!(null, message);
  }
}

/** A device with a real P-256 enrolment key (id = its digest) that signs its messages. */
async function signingDevice() {
  const pair = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const spki = Buffer.from(await webcrypto.subtle.exportKey('spki', pair.publicKey));
  const deviceId = identityFromPublicKey(spki);
  const signer = new EnvelopeSigner(deviceId, 0, () => sliceNow);
  return {
    deviceId,
    enrolmentPublicKey: spki.toString('base64'),
    async message<M extends DeviceMessageDefinition>(definition: M, body: DeviceBodyOf<M>, forged = false) {
      const envelope = await signer.sign(definition, body, { keyId: 'enrolment', privateKey: pair.privateKey });
      const signature = forged ? randomBytes(64).toString('base64') : envelope.signature;
      return {
        subject: definition.subject(deviceId),
        data: encoder.encode(JSON.stringify({ ...envelope, signature })),
      };
    },
  };
}

function uplinksOf(slice: RegistrySlice, bus: BusDouble) {
  const { store, deviceStates, requests, batches, admission, announced, devices, downlinks, clock, logger } = slice;
  return new DeviceUplinksController(
    bus as unknown as NatsConnection,
    new UplinkKeyResolver(devices),
    new IdentityResponseHandler(store, deviceStates, clock, logger),
    new EnrolmentKeyReportHandler(store, deviceStates, requests, batches, admission, clock, logger),
    new AnnounceHandler(devices, announced, requests, downlinks, clock, logger),
    devices,
    downlinks,
    slice.metrics,
    slice.config,
    clock,
    logger,
  );
}

async function dropped(slice: RegistrySlice): Promise<Record<string, number>> {
  const { values } = await slice.metrics.uplinksDropped.get();
  return Object.fromEntries(values.map((v) => [String(v.labels.reason), v.value]));
}

describe('device uplinks: floods and replays (slice)', () => {
  let slice: RegistrySlice;
  afterEach(() => slice.stop());

  it('answers no unverifiable message, writes nothing for them, and rate-limits each device id', async () => {
    slice = await registrySlice({ env: { REGISTRY_UPLINK_BURST: '5' } });
    await slice.given(policyStream('fridges'), [policyDefined]);
    await slice.given(batchStream('fridges-2026'), [batchCreated('fridges-2026')]);
    const known = await signingDevice();
    await slice.given(deviceStream(known.deviceId), [
      deviceImported({ ...known, enrolmentKeyDigest: 'ab'.repeat(32) }, 'fridges-2026'),
    ]);
    const bus = new BusDouble();
    const uplinks = uplinksOf(slice, bus);
    await uplinks.onApplicationBootstrap();
    const response = { challengeId: 'c-1', nonce: randomBytes(32).toString('base64') };
    // Unknown devices, and a known one with forged signatures (within its burst).
    for (let i = 0; i < 50; i++) {
      const stranger = await signingDevice();
      bus.deliver(await stranger.message(IdentityResponseMessage, response));
    }
    for (let i = 0; i < 5; i++) bus.deliver(await known.message(IdentityResponseMessage, response, true));
    bus.deliver({ subject: IdentityResponseMessage.subject(known.deviceId), data: encoder.encode('{"kind":') });
    await uplinks.onModuleDestroy();
    expect(slice.downlinks.sent).toEqual([]);
    expect(await slice.written()).toEqual([]);
    expect(await dropped(slice)).toEqual({
      'unverified-unknown-device': 50,
      'unverified-bad-signature': 5,
      'rate-limited': 1,
    });
  });

  it('keeps rate limits, replay counters and announcements within REGISTRY_TRACKED_DEVICES', async () => {
    slice = await registrySlice({ env: { REGISTRY_TRACKED_DEVICES: '100' } });
    const bus = new BusDouble();
    const uplinks = uplinksOf(slice, bus);
    await uplinks.onApplicationBootstrap();
    for (let i = 0; i < 300; i++) {
      const generated = await signingDevice();
      const body = { enrolmentPublicKey: generated.enrolmentPublicKey, firmwareMeasurement: firmware };
      bus.deliver(await generated.message(AnnounceMessage, body));
    }
    await uplinks.onModuleDestroy();
    // Nothing written for keys anyone can generate, nothing signed for them.
    expect(await slice.written()).toEqual([]);
    expect(slice.downlinks.sent).toEqual([]);
    expect(uplinks.rateLimiter.size).toBe(100);
    expect(uplinks.replayGuard.size).toBe(100);
    expect(slice.announced.size).toBe(100);
  });

  it('refuses, unanswered, a message replayed to a registry restarted on the same log', async () => {
    slice = await registrySlice();
    const device = await signingDevice();
    const nonce = randomBytes(32);
    await slice.given(policyStream('fridges'), [policyDefined]);
    await slice.given(batchStream('fridges-2026'), [batchCreated('fridges-2026')]);
    await slice.given(deviceStream(device.deviceId), [
      deviceImported({ ...device, enrolmentKeyDigest: 'ab'.repeat(32) }, 'fridges-2026'),
      {
        type: 'IdentityChallengeIssued',
        data: {
          deviceId: device.deviceId,
          challengeId: 'c-1',
          nonceDigest: nonceDigestOf(nonce),
          expiresAt: new Date(sliceNow.getTime() + 300_000).toISOString(),
        },
      },
    ]);
    const answer = await device.message(IdentityResponseMessage, {
      challengeId: 'c-1',
      nonce: nonce.toString('base64'),
      firmwareMeasurement: firmware,
    });
    const before = new BusDouble();
    const first = uplinksOf(slice, before);
    await first.onApplicationBootstrap();
    before.deliver(answer);
    await first.onModuleDestroy();
    expect((await slice.written()).map((e) => e.type)).toEqual(['IdentityVerified']);

    const restarted = await registrySlice({ store: slice.store });
    try {
      const after = new BusDouble();
      const second = uplinksOf(restarted, after);
      await second.onApplicationBootstrap();
      after.deliver(answer);
      await second.onModuleDestroy();
      // The replay never reaches a handler (nothing counted as accepted or refused), nor is it answered.
      expect((await restarted.metrics.deviceMessages.get()).values).toEqual([]);
      expect(restarted.downlinks.sent).toEqual([]);
      expect(await dropped(restarted)).toEqual({ 'unverified-replayed': 1 });
      expect((await slice.written()).map((e) => e.type)).toEqual(['IdentityVerified']);
    } finally {
      await restarted.stop();
    }
  });
});
