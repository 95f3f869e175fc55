import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  EnrolmentKeyReportMessage,
  IdentityResponseMessage,
  type DeviceBodyOf,
  type DeviceEnvelope,
  type DeviceMessageDefinition,
} from '@tunnelkey/contracts';
import { DeviceMessageVerifier, EnvelopeSigner, type CryptoKey, type PlatformKey } from '@tunnelkey/device-protocol';
import { ENROLMENT_CONTEXT, PufDevice } from '@tunnelkey/puf';

const encoder = new TextEncoder();
const firmwareMeasurement = 'ab'.repeat(32);

/** A simulated device for tests: a PUF-derived enrolment key and a signer with its own counter. */
export class TestDevice {
  readonly signer: EnvelopeSigner;
  /** Inbox messages received and verified, oldest first. */
  readonly inbox: DeviceEnvelope[] = [];
  /** Sent messages, to replay them in tests. */
  readonly sent: { subject: string; data: Uint8Array }[] = [];

  private constructor(
    readonly deviceId: string,
    readonly enrolmentPublicKey: Uint8Array,
    readonly privateKey: CryptoKey,
  ) {
    this.signer = new EnvelopeSigner(deviceId, 0);
  }

  static async manufacture(seed: string): Promise<TestDevice> {
    const puf = PufDevice.manufacture({ seed });
    const record = await puf.enrol();
    const pair = await puf.deriveKey(ENROLMENT_CONTEXT, record.helperData);
    return new TestDevice(record.deviceId, record.enrolmentPublicKey, pair.privateKey);
  }

  get enrolmentPublicKeyBase64(): string {
    return Buffer.from(this.enrolmentPublicKey).toString('base64');
  }

  get identityRow() {
    return { deviceId: this.deviceId, enrolmentPublicKey: this.enrolmentPublicKeyBase64 };
  }

  async send<M extends DeviceMessageDefinition>(
    nats: NatsConnection,
    namespace: string,
    definition: M,
    body: DeviceBodyOf<M>,
    key: CryptoKey = this.privateKey,
  ) {
    const envelope = await this.signer.sign(definition, body, { keyId: 'enrolment', privateKey: key });
    const message = {
      subject: definition.subject(this.deviceId, namespace),
      data: encoder.encode(JSON.stringify(envelope)),
    };
    this.sent.push(message);
    nats.publish(message.subject, message.data);
    return envelope;
  }

  lastInbox(kind: string): DeviceEnvelope | undefined {
    return [...this.inbox].reverse().find((message) => message.kind === kind);
  }
}

/**
 * The device side of the provisioning flow for tests: one wildcard inbox subscription, every
 * downlink verified against the pinned platform key, challenges and key requests answered
 * (unless a device is held, so a test can answer for it).
 */
export class TestFleet {
  readonly devices = new Map<string, TestDevice>();
  readonly held = new Set<string>();
  #subscription: Subscription | undefined;
  readonly #verifier: DeviceMessageVerifier;

  constructor(
    private readonly nats: NatsConnection,
    private readonly namespace: string,
    platformKey: PlatformKey,
  ) {
    this.#verifier = new DeviceMessageVerifier({
      direction: 'downlink',
      namespace,
      resolveKey: async () => platformKey.publicKey,
    });
  }

  add(...devices: TestDevice[]): void {
    for (const device of devices) this.devices.set(device.deviceId, device);
  }

  async start(): Promise<void> {
    this.#subscription = this.nats.subscribe(`${this.namespace}.dev.*.inbox.>`, {
      callback: (_error, msg) => {
        void this.#receive(msg.subject, msg.data).catch(() => undefined);
      },
    });
    await this.nats.flush();
  }

  stop(): void {
    this.#subscription?.unsubscribe();
  }

  async #receive(subject: string, data: Uint8Array): Promise<void> {
    const envelope = await this.#verifier.verify(subject, data);
    const device = this.devices.get(envelope.deviceId);
    if (!device) return;
    device.inbox.push(envelope);
    if (this.held.has(device.deviceId)) return;
    if (envelope.kind === 'identity-challenge') {
      const { challengeId, nonce } = envelope.body as { challengeId: string; nonce: string };
      await device.send(this.nats, this.namespace, IdentityResponseMessage, {
        challengeId,
        nonce,
        firmwareMeasurement,
      });
    } else if (envelope.kind === 'enrolment-key-request') {
      const { requestId } = envelope.body as { requestId: string };
      await device.send(this.nats, this.namespace, EnrolmentKeyReportMessage, {
        requestId,
        enrolmentPublicKey: device.enrolmentPublicKeyBase64,
        firmwareMeasurement,
      });
    }
  }
}

export const testFirmwareMeasurement = firmwareMeasurement;
