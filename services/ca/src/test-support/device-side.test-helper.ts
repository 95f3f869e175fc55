/**
 * Test helper: the device side of the protocol with a real PUF (enrolment and TLS keys derived
 * from simulated silicon), real CSRs (@tunnelkey/pki createCsr) and real envelopes (EnvelopeSigner).
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  CsrMessage,
  deviceInboxFilter,
  keyAttestationBytes,
  type DeviceBodyOf,
  type DeviceEnvelope,
} from '@tunnelkey/contracts';
import { EnvelopeSigner, envelopeSignatureValid, signBytes, type CryptoKey } from '@tunnelkey/device-protocol';
import { createCsr, WebCryptoSigner } from '@tunnelkey/pki';
import { ENROLMENT_CONTEXT, PufDevice, tlsContext, type DerivedKeyPair } from '@tunnelkey/puf';

export class DeviceSide {
  readonly inbox: DeviceEnvelope[] = [];
  readonly signer: EnvelopeSigner;
  #subscription: Subscription | undefined;

  private constructor(
    readonly deviceId: string,
    readonly enrolment: DerivedKeyPair,
    readonly tls: DerivedKeyPair,
    private readonly nc: NatsConnection,
    private readonly namespace: string,
  ) {
    this.signer = new EnvelopeSigner(deviceId, 0);
  }

  static async manufacture(seed: string, nc: NatsConnection, namespace: string): Promise<DeviceSide> {
    const puf = PufDevice.manufacture({ seed });
    const record = await puf.enrol();
    const [enrolment, tls] = await puf.deriveKeys([ENROLMENT_CONTEXT, tlsContext(0)], record.helperData);
    const device = new DeviceSide(record.deviceId, enrolment!, tls!, nc, namespace);
    device.#subscription = nc.subscribe(deviceInboxFilter(record.deviceId, namespace), {
      callback: (_error, msg) => void device.inbox.push(msg.json<DeviceEnvelope>()),
    });
    await nc.flush();
    return device;
  }

  get enrolmentPublicKey(): Uint8Array {
    return this.enrolment.publicKeySpki;
  }

  /** A CSR for one of its keys, signed by that key (proof of possession). */
  async csr(key: DerivedKeyPair): Promise<Uint8Array> {
    const signer = await WebCryptoSigner.create(key.privateKey, key.publicKeySpki);
    return (await createCsr({ subjectCommonName: this.deviceId, signer })).der;
  }

  /** The enrolment key vouching for a TLS key (or `by` another key, to forge one). */
  async attest(keyId: string, key: DerivedKeyPair, by: CryptoKey = this.enrolment.privateKey) {
    const publicKey = Buffer.from(key.publicKeySpki).toString('base64');
    return {
      keyId,
      publicKey,
      signature: await signBytes(keyAttestationBytes({ deviceId: this.deviceId, keyId, publicKey }), by),
    };
  }

  /** A signed csr envelope (bytes as they go on the wire); `signWith` forges it with another key. */
  async csrMessage(
    body: DeviceBodyOf<typeof CsrMessage>,
    signWith: CryptoKey = this.enrolment.privateKey,
  ): Promise<Uint8Array> {
    const envelope = await this.signer.sign(CsrMessage, body, { keyId: 'enrolment', privateKey: signWith });
    return new TextEncoder().encode(JSON.stringify(envelope));
  }

  send(bytes: Uint8Array): void {
    this.nc.publish(CsrMessage.subject(this.deviceId, this.namespace), bytes);
  }

  /** Inbox messages of one kind whose platform signature verifies. */
  async received(kind: string, platformKey: CryptoKey): Promise<DeviceEnvelope[]> {
    const found: DeviceEnvelope[] = [];
    for (const envelope of this.inbox.filter((e) => e.kind === kind)) {
      if (await envelopeSignatureValid(envelope, platformKey)) found.push(envelope);
    }
    return found;
  }

  stop(): void {
    this.#subscription?.unsubscribe();
  }
}
