import { createHash, randomUUID } from 'node:crypto';
import {
  AnnounceMessage,
  CertificateMessage,
  CertificateSwitchedMessage,
  ConnectionParametersMessage,
  CsrMessage,
  CsrRequestMessage,
  EnrolmentKeyReportMessage,
  EnrolmentKeyRequestMessage,
  HeartbeatMessage,
  FirmwareKeysRequestMessage,
  IdentityChallengeMessage,
  IdentityResponseMessage,
  RejectionMessage,
  UpdateOfferMessage,
  decodeFirmwareChunkFrame,
  firmwareChunkFrameKind,
  keyAttestationBytes,
  parseDeviceSubject,
  type CustodyStatement,
  type DeviceBodyOf,
  type DeviceEnvelope,
  type DeviceMessageDefinition,
  type FirmwareChunkFrame,
} from '@tunnelkey/contracts';
import {
  DeviceMessageVerifier,
  EnvelopeSigner,
  ReplayGuard,
  isDeviceMessageRejected,
  signBytes,
  signCustodyStatement,
  type CryptoKey,
} from '@tunnelkey/device-protocol';
import { createCsr, WebCryptoSigner } from '@tunnelkey/pki';
import { KeyObject } from 'node:crypto';
import {
  ENROLMENT_CONTEXT,
  PufDevice,
  isPufError,
  type DerivedKeyPair,
  type OperatingConditions,
  type PufProfile,
  type PufProfileName,
} from '@tunnelkey/puf';
import { DeviceKeyUnavailableError, TransferNotAcknowledgedError } from '../errors.js';
import {
  FirmwareUpdater,
  defaultProduct,
  type FirmwareDeviceBindings,
  type FirmwareUpdaterOptions,
  type UpdateKeys,
} from '../firmware/firmware-updater.js';
import type { DeviceHardware } from '../hardware/device-hardware-pool.js';
import { judgeDeliveredCertificate } from './certificate-acceptance.js';
import { keyIdCertifiedBy } from './certificate-switch.js';
import { parseFlash, serialiseFlash, type DeviceFlash } from './device-flash.js';
import { DeviceJournal, type DeviceObservation, type DeviceObserver } from './device-observation.js';
import { firmwareImage, firmwareMeasurement, measureFirmware, tamperedFirmwareImage } from './firmware-image.js';
import { isDeviceKeyId, keyContextOf, ownerEpochOfKeyId, type DeviceKeyId } from './key-ids.js';
import type { PinnedPlatformKey } from './pinned-platform-key.js';

/** How a device's messages leave it: the fleet gives it the bus, tests an array. */
export interface DeviceTransport {
  publish(subject: string, data: Uint8Array): void | Promise<void>;
}

export interface SimulatedDeviceOptions {
  transport: DeviceTransport;
  /** The platform key pinned at the factory; without it every platform message is refused. */
  platformKey?: PinnedPlatformKey;
  /** Subject namespace (tests isolate themselves with one); '' in production. */
  namespace?: string;
  /** Operating conditions every PUF read happens at (temperature, supply, age). */
  conditions?: Partial<OperatingConditions>;
  clock?: () => Date;
  observer?: DeviceObserver;
  /** Platform messages older or newer than this are stale (default 5 min). */
  replayWindowMs?: number;
  /**
   * Where its PUF reads and key derivations run: a DeviceHardwarePool (threads standing for the
   * devices' own chips) or, by default, the caller's thread. The keys are the same either way.
   */
  hardware?: DeviceHardware;
  /**
   * Report the firmware-decryption public keys (`firmware-keys`) right after `announce` and the
   * `enrolment-key-report`, for OTA (one more PUF read each). Default: only when the platform asks.
   */
  firmwareKeysAtEnrolment?: boolean;
  /** Over-the-air update timing (stall retry, the offline fault's duration, chunk window). */
  firmwareUpdates?: FirmwareUpdaterOptions;
}

export interface ManufactureDeviceOptions extends SimulatedDeviceOptions {
  /** Hidden silicon seed: the same seed makes the same device. */
  seed: string | number | Uint8Array;
  profile?: PufProfile | PufProfileName;
  firmwareVersion?: string;
  /** Product line (hardware id) written to flash: OTA updates for other products are refused. */
  product?: string;
  /** Conditions at factory enrolment (nominal by default). */
  enrolAt?: Partial<OperatingConditions>;
}

/** Where a device is in its life, as the fleet counts it. Faults win over progress. */
export type DeviceState =
  | 'offline'
  | 'key-failure'
  | 'configured'
  | 'certified'
  | 'csr-sent'
  | 'identity-proven'
  | 'announced'
  | 'enrolled';

/** What happened to one received message. */
export type ReceiveOutcome = 'handled' | 'refused' | 'offline' | 'key-failure';

const maxPendingCsrs = 8;
/** A pending CSR is sent again at most every `resendAfterMs` x 2^this (the wait doubling up to 8x). */
const maxCsrResendDoublings = 3;
const encoder = new TextEncoder();
const progress = { announced: 1, identityProven: 2 } as const;
type Uplink = DeviceMessageDefinition & { kind: string };

/**
 * The firmware of one simulated device. It keeps only what a real device keeps (its flash
 * record) and re-derives keys from its PUF for each operation. Every platform message is verified
 * (pinned platform key, subject, counter, time) before it is acted on; every uplink is signed with
 * the enrolment key under a strictly increasing counter persisted before the message leaves.
 * Messages to one device are handled one at a time, in arrival order.
 */
export class SimulatedDevice {
  readonly flash: DeviceFlash;
  readonly journal = new DeviceJournal();
  /** Over-the-air updates: A/B slots, the download in progress, fault switches (`firmware.faults`). */
  readonly firmware: FirmwareUpdater;
  conditions: Partial<OperatingConditions>;
  online = true;
  /** When each pending CSR was last sent and how often (memory: after a device restart, counted from its first sweep). */
  readonly #csrSends = new Map<string, { sentAt: number; sends: number }>();
  readonly #silicon: PufDevice;
  readonly #options: SimulatedDeviceOptions;
  readonly #clock: () => Date;
  #verifier: DeviceMessageVerifier | undefined;
  #tail: Promise<unknown> | undefined;
  #progress = 0;
  #keyFailed = false;
  #platformSpki: Uint8Array | undefined;
  #bootedAt: Date;
  /**
   * The enrolment (attestation) key, kept in volatile RAM from its first reconstruction until the
   * next boot, as a powered chip keeps a derived key: it is never stored, exported or injected, and a
   * reset (boot) or a helper-data edit drops it, so the next use reconstructs it from the PUF. It signs
   * every uplink (heartbeats every period, switch reports, CSR attestations): without it each one was
   * a PUF read, which is what bounded a simulated fleet of 10,000 to 575 heartbeats/s.
   */
  #attestationKey: DerivedKeyPair | undefined;
  /**
   * A renewal's new TLS key, kept in volatile RAM from its reconstruction for the CSR until the
   * device has connected with its certificate (`connectedWith`), as a chip keeps a freshly derived
   * key between asking for its certificate and using it: never stored, exported or injected. A boot,
   * a helper-data edit, an ownership transfer or the next renewal's key drops it. Without it a
   * renewal read the PUF twice for the same key (CSR, then connect) where a certification reads once.
   */
  #renewalKey: { keyId: DeviceKeyId; pair: DerivedKeyPair } | undefined;

  constructor(silicon: PufDevice, flash: DeviceFlash, options: SimulatedDeviceOptions) {
    this.#silicon = silicon;
    this.flash = flash;
    this.#options = options;
    this.#clock = options.clock ?? (() => new Date());
    this.conditions = options.conditions ?? {};
    this.#bootedAt = this.#clock();
    this.firmware = new FirmwareUpdater(this.#firmwareBindings(), options.firmwareUpdates);
  }

  /** Factory: make the silicon, enrol it (helper data + enrolment public key), write flash, boot. */
  static async manufacture(options: ManufactureDeviceOptions): Promise<SimulatedDevice> {
    const { seed, profile, firmwareVersion = '1.0.0', product = defaultProduct, enrolAt, ...runtime } = options;
    const silicon = PufDevice.manufacture({ seed, profile: profile ?? 'sram' });
    const record = await silicon.enrol(enrolAt ?? {});
    const flash: DeviceFlash = {
      helperData: record.helperData,
      enrolmentPublicKey: record.enrolmentPublicKey,
      deviceId: record.deviceId,
      pufProfile: silicon.profile.name,
      firmware: { version: firmwareVersion, measurement: firmwareMeasurement(firmwareVersion) },
      uplinkCounter: 0,
      lastDownlinkCounter: 0,
      certificates: {},
      pendingCsrs: {},
      connections: {},
      product,
    };
    return new SimulatedDevice(silicon, flash, runtime);
  }

  get deviceId(): string {
    return this.flash.deviceId;
  }

  get enrolmentPublicKey(): Uint8Array {
    return this.flash.enrolmentPublicKey;
  }

  get state(): DeviceState {
    if (!this.online) return 'offline';
    if (this.#keyFailed) return 'key-failure';
    const f = this.flash;
    if (hasAny(f.connections)) return 'configured';
    if (hasAny(f.certificates)) return 'certified';
    if (hasAny(f.pendingCsrs)) return 'csr-sent';
    if (this.#progress & progress.identityProven) return 'identity-proven';
    if (this.#progress & progress.announced) return 'announced';
    return 'enrolled';
  }

  /** Boot: the boot ROM measures the image that runs (released image of the flash's version by default). */
  boot(image?: Uint8Array): void {
    this.#bootedAt = this.#clock();
    this.#attestationKey = undefined; // RAM does not survive a reset
    this.#renewalKey = undefined;
    this.flash.firmware.measurement = image ? measureFirmware(image) : firmwareMeasurement(this.flash.firmware.version);
  }

  /** Installs another released version (an update) and reboots into it. */
  installFirmware(version: string): void {
    this.flash.firmware.version = version;
    this.boot(firmwareImage(version));
  }

  // ---- fault injection ----

  /** A tampered image runs: its measurement no longer matches the release. */
  tamperFirmware(): void {
    this.boot(tamperedFirmwareImage(this.flash.firmware.version));
  }

  /**
   * A clone: another device answering with this one's identity (its silicon copied, its flash as it
   * is now). Both derive the same keys; their counters go their own ways from here.
   */
  clone(options: SimulatedDeviceOptions): SimulatedDevice {
    return new SimulatedDevice(this.#silicon, parseFlash(serialiseFlash(this.flash)), options);
  }

  /**
   * Flash corruption or an attacker editing the helper data: the fuzzy extractor must then refuse.
   * An edit of the flash takes a reset to matter: the key held in RAM is dropped with it.
   */
  corruptHelperData(byteIndex = 100, mask = 0x10): void {
    this.#attestationKey = undefined;
    this.#renewalKey = undefined;
    const corrupted = this.flash.helperData.slice();
    corrupted[byteIndex % corrupted.length]! ^= mask;
    this.flash.helperData = corrupted;
  }

  // ---- keys, per use ----

  /**
   * Reconstructs the keys named from the PUF (one read), runs `use`, and lets them go: the
   * private keys are non-extractable CryptoKeys that must not outlive `use`. Throws
   * DeviceKeyUnavailableError (cause: the PUF's typed error) when reconstruction fails: a wrong
   * key is never returned, the key check in the helper data prevents it.
   */
  async withKeys<T>(
    keyIds: readonly DeviceKeyId[],
    use: (keys: ReadonlyMap<DeviceKeyId, DerivedKeyPair>) => Promise<T>,
  ): Promise<T> {
    const unique = [...new Set(keyIds)];
    let pairs: DerivedKeyPair[];
    try {
      const contexts = unique.map(keyContextOf);
      const hardware = this.#options.hardware;
      pairs = hardware
        ? await hardware.deriveKeys(this.#silicon.reserveRead(), contexts, this.flash.helperData, this.conditions)
        : await this.#silicon.deriveKeys(contexts, this.flash.helperData, this.conditions);
    } catch (error) {
      const code = isPufError(error) ? error.code : 'UNKNOWN';
      this.#keyFailed = true;
      this.#observe({ type: 'key-failure', code });
      throw new DeviceKeyUnavailableError(
        'the PUF could not reconstruct the device key',
        { deviceId: this.deviceId, pufCode: code },
        { cause: error },
      );
    }
    const keys = new Map(unique.map((id, i) => [id, pairs[i]!] as const));
    const enrolment = keys.get('enrolment');
    if (enrolment && !Buffer.from(enrolment.publicKeySpki).equals(this.flash.enrolmentPublicKey)) {
      // Unreachable with intact helper data (the key check catches it first); guards the identity anyway.
      this.#keyFailed = true;
      this.#observe({ type: 'key-failure', code: 'ENROLMENT_KEY_CHANGED' });
      throw new DeviceKeyUnavailableError('reconstructed enrolment key differs from the enrolled one', {
        deviceId: this.deviceId,
      });
    }
    this.#keyFailed = false;
    if (enrolment) this.#attestationKey = enrolment;
    return use(keys);
  }

  /**
   * Signs with the enrolment key held for this powered session (see #attestationKey), reconstructing
   * it from the PUF first when it is not held (after a boot). Throws as withKeys does.
   */
  #withAttestationKey<T>(use: (enrolmentKey: CryptoKey) => Promise<T>): Promise<T> {
    return this.#withHeldKeys(['enrolment'], (keys) => use(keys.get('enrolment')!.privateKey));
  }

  /**
   * The keys named, those the device holds in RAM (the attestation key, a renewal's new TLS key)
   * from there and the rest reconstructed from one PUF read (none when every one is held). Throws
   * as withKeys does.
   */
  #withHeldKeys<T>(
    keyIds: readonly DeviceKeyId[],
    use: (keys: ReadonlyMap<DeviceKeyId, DerivedKeyPair>) => Promise<T>,
  ): Promise<T> {
    const held = new Map<DeviceKeyId, DerivedKeyPair>();
    if (this.#attestationKey) held.set('enrolment', this.#attestationKey);
    if (this.#renewalKey) held.set(this.#renewalKey.keyId, this.#renewalKey.pair);
    const missing = keyIds.filter((id) => !held.has(id));
    const pick = (read: ReadonlyMap<DeviceKeyId, DerivedKeyPair>) =>
      new Map(keyIds.map((id) => [id, read.get(id) ?? held.get(id)!] as const));
    if (missing.length === 0) return use(pick(new Map()));
    return this.withKeys(missing, (read) => use(pick(read)));
  }

  /**
   * The key a TLS connection presents: a renewal's new key from RAM while the device holds it
   * (see #renewalKey), else reconstructed from the PUF (one read). Throws as withKeys does.
   */
  withConnectionKey<T>(keyId: DeviceKeyId, use: (key: DerivedKeyPair) => Promise<T>): Promise<T> {
    const held = this.#renewalKey;
    if (held?.keyId === keyId) return use(held.pair);
    return this.withKeys([keyId], (keys) => use(keys.get(keyId)!));
  }

  /** The device connected with `keyId`'s certificate: a renewal's key held for it is let go (RAM only). */
  connectedWith(keyId: DeviceKeyId): void {
    if (this.#renewalKey?.keyId === keyId) this.#renewalKey = undefined;
  }

  // ---- ownership transfer ----

  /** The owner epoch the device derives its TLS keys under (0: the first owner's). */
  get ownerEpoch(): number {
    return this.flash.owner?.epoch ?? 0;
  }

  /**
   * The device's acknowledgement of its transfer to a new owner (its part of the custody record):
   * its enrolment key signs the statement, and from then on it derives its TLS keys under the new
   * epoch only; what it held for the old owner (certificates, pending CSRs, connection parameters)
   * is dropped, so it re-provisions for the new owner. Refused (nothing changes) for a statement
   * about another device or key, or for an epoch other than the next; the same transfer
   * acknowledged again (a retry) signs it again without moving further.
   */
  acknowledgeTransfer(statement: CustodyStatement): Promise<{ keyDigest: string; signature: string }> {
    return this.#serialised(async () => {
      const keyDigest = createHash('sha256').update(this.flash.enrolmentPublicKey).digest('hex');
      const retry = this.flash.owner?.transferId === statement.transferId && statement.ownerEpoch === this.ownerEpoch;
      const refuse = (why: string) => {
        throw new TransferNotAcknowledgedError(`the device does not acknowledge this transfer: ${why}`, {
          deviceId: this.deviceId,
          transferId: statement.transferId,
        });
      };
      if (statement.deviceId !== this.deviceId) refuse('it names another device');
      if (statement.enrolmentKeyDigest !== keyDigest) refuse('it names another enrolment key');
      if (!retry && statement.ownerEpoch !== this.ownerEpoch + 1) refuse(`its epoch is not ${this.ownerEpoch + 1}`);
      const signature = await this.withKeys(['enrolment'], (keys) =>
        signCustodyStatement('acknowledgement', statement, keys.get('enrolment')!.privateKey),
      );
      if (!retry) {
        this.flash.owner = { epoch: statement.ownerEpoch, transferId: statement.transferId };
        this.flash.certificates = {};
        this.flash.pendingCsrs = {};
        this.flash.connections = {};
        this.#csrSends.clear();
        this.#renewalKey = undefined;
      }
      return { keyDigest, signature };
    });
  }

  // ---- uplinks the device starts ----

  /** Publishes `announce` (enrolment public key + measurement). False when offline or the key is unavailable. */
  announce(): Promise<boolean> {
    return this.#serialised(async () => {
      if (!this.online) return false;
      try {
        await this.withKeys(['enrolment'], (keys) =>
          this.#send(
            AnnounceMessage,
            {
              enrolmentPublicKey: base64(this.flash.enrolmentPublicKey),
              firmwareMeasurement: this.flash.firmware.measurement,
              firmwareVersion: this.flash.firmware.version,
              pufProfile: this.flash.pufProfile as 'sram' | 'tunnelling',
            },
            keys.get('enrolment')!.privateKey,
          ),
        );
      } catch (error) {
        if (error instanceof DeviceKeyUnavailableError) return false;
        throw error;
      }
      this.#progress |= progress.announced;
      if (this.#options.firmwareKeysAtEnrolment) await this.#sendFirmwareKeys();
      return true;
    });
  }

  /** Reports the firmware-decryption keys; false when the PUF could not derive them. */
  async #sendFirmwareKeys(requestId?: string): Promise<boolean> {
    try {
      await this.firmware.sendFirmwareKeys(requestId);
      return true;
    } catch (error) {
      if (error instanceof DeviceKeyUnavailableError) return false;
      throw error;
    }
  }

  /**
   * Integrity monitoring: what it booted (the boot ROM's measurement) and how long it has been up,
   * signed by the enrolment key under the next uplink counter. False when offline or the key is unavailable.
   */
  heartbeat(): Promise<boolean> {
    return this.#serialised(async () => {
      if (!this.online) return false;
      const { measurement, version } = this.flash.firmware;
      const uptimeSeconds = Math.max(0, Math.floor((this.#clock().getTime() - this.#bootedAt.getTime()) / 1000));
      try {
        await this.#withAttestationKey((key) =>
          this.#send(
            HeartbeatMessage,
            { firmwareMeasurement: measurement, firmwareVersion: version, uptimeSeconds },
            key,
          ),
        );
      } catch (error) {
        if (error instanceof DeviceKeyUnavailableError) return false;
        throw error;
      }
      return true;
    });
  }

  /** Sends a CSR for one of its keys on its own initiative (e.g. renewal); returns the request id. */
  requestCertificate(keyId: DeviceKeyId, requestId = `csr-${randomUUID()}`): Promise<string> {
    return this.#serialised(async () => {
      await this.#sendCsr(requestId, keyId);
      return requestId;
    });
  }

  /**
   * Renewal: the device connected to `targetId` with the certificate of `keyId` and says so, signed,
   * so the platform may now revoke the certificate it replaces. False when there is nothing to say.
   */
  reportCertificateSwitch(targetId: string, keyId: DeviceKeyId): Promise<boolean> {
    return this.#serialised(async () => {
      const certificate = this.flash.certificates[keyId];
      if (!this.online || !certificate) return false;
      const { requestId, serialNumber } = certificate;
      try {
        await this.#withAttestationKey((key) =>
          this.#send(CertificateSwitchedMessage, { requestId, serialNumber, targetId }, key),
        );
      } catch (error) {
        if (error instanceof DeviceKeyUnavailableError) return false;
        throw error;
      }
      return true;
    });
  }

  // ---- downlinks ----

  /** Handles one message from the device's inbox. Never throws for anything the bus brings. */
  receive(subject: string, data: Uint8Array): Promise<ReceiveOutcome> {
    return this.#serialised(() => this.#receive(subject, data));
  }

  async #receive(subject: string, data: Uint8Array): Promise<ReceiveOutcome> {
    if (!this.online) {
      this.#observe({ type: 'offline-drop' });
      return 'offline';
    }
    const parts = parseDeviceSubject(subject, this.#options.namespace ?? '');
    const kind = parts?.kind;
    if (!this.#options.platformKey) return this.#refuse(kind, 'no-platform-key');
    if (!parts || parts.direction !== 'downlink' || parts.deviceId !== this.deviceId)
      return this.#refuse(kind, 'subject-mismatch');
    // Firmware chunks are binary frames, authenticated by their AES-GCM tag, not by an envelope.
    if (kind === firmwareChunkFrameKind) return this.#receiveChunkFrame(data);
    let envelope: DeviceEnvelope;
    try {
      envelope = await this.#platformVerifier().verify(subject, data);
    } catch (error) {
      return this.#refuse(kind, isDeviceMessageRejected(error) ? error.code : 'malformed');
    }
    this.flash.lastDownlinkCounter = envelope.counter;
    try {
      return await this.#handle(envelope);
    } catch (error) {
      if (error instanceof DeviceKeyUnavailableError) return 'key-failure';
      throw error;
    }
  }

  async #receiveChunkFrame(data: Uint8Array): Promise<ReceiveOutcome> {
    let frame: FirmwareChunkFrame;
    try {
      frame = decodeFirmwareChunkFrame(data);
    } catch {
      return this.#refuse(firmwareChunkFrameKind, 'malformed');
    }
    this.#observe({ type: 'accepted', kind: firmwareChunkFrameKind });
    await this.firmware.onChunk(frame);
    return 'handled';
  }

  async #handle(envelope: DeviceEnvelope): Promise<ReceiveOutcome> {
    const now = this.#clock();
    switch (envelope.kind) {
      case IdentityChallengeMessage.kind: {
        const body = envelope.body as DeviceBodyOf<typeof IdentityChallengeMessage>;
        if (Date.parse(body.expiresAt) < now.getTime()) return this.#refuse(envelope.kind, 'expired');
        this.#observe({ type: 'accepted', kind: envelope.kind });
        await this.withKeys(['enrolment'], (keys) =>
          this.#send(
            IdentityResponseMessage,
            { challengeId: body.challengeId, nonce: body.nonce, firmwareMeasurement: this.flash.firmware.measurement },
            keys.get('enrolment')!.privateKey,
          ),
        );
        this.#progress |= progress.identityProven;
        return 'handled';
      }
      case EnrolmentKeyRequestMessage.kind: {
        const body = envelope.body as DeviceBodyOf<typeof EnrolmentKeyRequestMessage>;
        if (Date.parse(body.expiresAt) < now.getTime()) return this.#refuse(envelope.kind, 'expired');
        this.#observe({ type: 'accepted', kind: envelope.kind });
        // Reported from a fresh reconstruction: the key the device can actually sign with.
        await this.withKeys(['enrolment'], (keys) => {
          const enrolment = keys.get('enrolment')!;
          return this.#send(
            EnrolmentKeyReportMessage,
            {
              requestId: body.requestId,
              enrolmentPublicKey: base64(enrolment.publicKeySpki),
              firmwareMeasurement: this.flash.firmware.measurement,
              ...(this.flash.manufacturerAttestation
                ? { manufacturerAttestation: this.flash.manufacturerAttestation }
                : {}),
            },
            enrolment.privateKey,
          );
        });
        if (this.#options.firmwareKeysAtEnrolment) await this.#sendFirmwareKeys();
        return 'handled';
      }
      case FirmwareKeysRequestMessage.kind: {
        const body = envelope.body as DeviceBodyOf<typeof FirmwareKeysRequestMessage>;
        this.#observe({ type: 'accepted', kind: envelope.kind });
        await this.firmware.sendFirmwareKeys(body.requestId);
        return 'handled';
      }
      case UpdateOfferMessage.kind: {
        this.#observe({ type: 'accepted', kind: envelope.kind });
        await this.firmware.onOffer(envelope.body as DeviceBodyOf<typeof UpdateOfferMessage>);
        return 'handled';
      }
      case CsrRequestMessage.kind: {
        const body = envelope.body as DeviceBodyOf<typeof CsrRequestMessage>;
        if (!isDeviceKeyId(body.keyId)) return this.#refuse(envelope.kind, 'unknown-key-id');
        // A key of another owner epoch (an earlier owner's, or one not acknowledged) is never certified.
        const keyEpoch = ownerEpochOfKeyId(body.keyId);
        if (keyEpoch !== undefined && keyEpoch !== this.ownerEpoch)
          return this.#refuse(envelope.kind, 'other-owner-epoch');
        this.#observe({ type: 'accepted', kind: envelope.kind });
        await this.#sendCsr(body.requestId, body.keyId);
        return 'handled';
      }
      case CertificateMessage.kind: {
        const body = envelope.body as DeviceBodyOf<typeof CertificateMessage>;
        const verdict = await judgeDeliveredCertificate(
          body,
          this.flash.pendingCsrs[body.requestId],
          this.deviceId,
          now,
        );
        if (!verdict.accepted) return this.#refuse(envelope.kind, verdict.reason);
        this.flash.certificates[verdict.keyId] = verdict.certificate;
        delete this.flash.pendingCsrs[body.requestId];
        this.#csrSends.delete(body.requestId);
        this.#observe({ type: 'accepted', kind: envelope.kind });
        return 'handled';
      }
      case ConnectionParametersMessage.kind: {
        const { targetId, ...parameters } = envelope.body as DeviceBodyOf<typeof ConnectionParametersMessage>;
        // Stored; the fleet's MqttFleet connects with it (see ../mqtt/), with the key its certificate certifies.
        const keyId = parameters.clientCertificatePem
          ? keyIdCertifiedBy(this.flash, parameters.clientCertificatePem)
          : undefined;
        this.flash.connections[targetId] = { ...parameters, ...(keyId ? { keyId } : {}) };
        this.#observe({ type: 'accepted', kind: envelope.kind });
        return 'handled';
      }
      case RejectionMessage.kind: {
        const body = envelope.body as DeviceBodyOf<typeof RejectionMessage>;
        this.#observe({ type: 'platform-rejection', kind: body.inReplyTo.kind, code: body.code });
        return 'handled';
      }
      default:
        // Verified but not something this firmware implements (e.g. update-offer): ignore, say so.
        return this.#refuse(envelope.kind, 'unsupported-kind');
    }
  }

  async #sendCsr(requestId: string, keyId: DeviceKeyId): Promise<void> {
    // At most one read: the key to certify and the enrolment key, each unless it is held already.
    await this.#withHeldKeys(['enrolment', keyId], async (keys) => {
      const enrolment = keys.get('enrolment')!;
      const certified = keys.get(keyId)!;
      // A renewal (a certificate held for another key): its new key stays in RAM until connected with.
      if (keyId !== 'enrolment' && Object.keys(this.flash.certificates).some((id) => id !== keyId))
        this.#renewalKey = { keyId, pair: certified };
      const signer = await WebCryptoSigner.create(certified.privateKey, certified.publicKeySpki);
      const csr = await createCsr({ subjectCommonName: this.deviceId, signer });
      const publicKey = base64(certified.publicKeySpki);
      // The enrolment key vouches for a TLS key, so the CA can tie it to the enrolled identity.
      const keyAttestation =
        keyId === 'enrolment'
          ? undefined
          : {
              keyId,
              publicKey,
              signature: await signBytes(
                keyAttestationBytes({ deviceId: this.deviceId, keyId, publicKey }),
                enrolment.privateKey,
              ),
            };
      this.#rememberPendingCsr(requestId, { keyId, publicKey });
      await this.#send(CsrMessage, { requestId, keyId, csr: base64(csr.der), keyAttestation }, enrolment.privateKey);
      const sends = (this.#csrSends.get(requestId)?.sends ?? 0) + 1;
      this.#csrSends.set(requestId, { sentAt: this.#clock().getTime(), sends });
    });
  }

  /** True when a pending CSR is due to be sent again (cheap: no key, no queue). */
  hasOverdueCsr(resendAfterMs: number, now = this.#clock().getTime()): boolean {
    for (const requestId of Object.keys(this.flash.pendingCsrs)) {
      const sent = this.#csrSends.get(requestId);
      if (!sent || now >= sent.sentAt + resendAfterMs * 2 ** Math.min(sent.sends - 1, maxCsrResendDoublings))
        return true;
    }
    return false;
  }

  /**
   * Sends again each pending CSR whose certificate has not arrived `resendAfterMs` after its last
   * send (then 2x, 4x, 8x), same requestId: the certificate comes back as one message, and one lost
   * on the way (the bus restarting as it left the CA) would leave the device certified in the log
   * and without its certificate, for good. The CA answers a requestId it issued with the certificate
   * it recorded, so a resend never makes a second one. A CSR found pending with no send on record
   * (flash from before a restart) is counted as sent now. Returns how many were sent again.
   */
  resendOverdueCsrs(resendAfterMs: number): Promise<number> {
    return this.#serialised(async () => {
      if (!this.online) return 0;
      const now = this.#clock().getTime();
      for (const requestId of this.#csrSends.keys())
        if (!this.flash.pendingCsrs[requestId]) this.#csrSends.delete(requestId);
      let resent = 0;
      for (const [requestId, pending] of Object.entries(this.flash.pendingCsrs)) {
        const sent = this.#csrSends.get(requestId);
        if (!sent) {
          this.#csrSends.set(requestId, { sentAt: now, sends: 1 });
          continue;
        }
        if (now < sent.sentAt + resendAfterMs * 2 ** Math.min(sent.sends - 1, maxCsrResendDoublings)) continue;
        if (!isDeviceKeyId(pending.keyId)) continue;
        await this.#sendCsr(requestId, pending.keyId);
        resent++;
      }
      return resent;
    });
  }

  #rememberPendingCsr(requestId: string, pending: { keyId: string; publicKey: string }): void {
    const pendingCsrs = this.flash.pendingCsrs;
    delete pendingCsrs[requestId];
    pendingCsrs[requestId] = pending;
    const ids = Object.keys(pendingCsrs);
    for (const old of ids.slice(0, Math.max(0, ids.length - maxPendingCsrs))) delete pendingCsrs[old];
  }

  async #send<M extends Uplink>(definition: M, body: DeviceBodyOf<M>, enrolmentKey: CryptoKey): Promise<void> {
    const signer = new EnvelopeSigner(this.deviceId, this.flash.uplinkCounter, this.#clock);
    const envelope = await signer.sign(definition, body, { keyId: 'enrolment', privateKey: enrolmentKey });
    // Persist the counter before the message leaves: a crash after sending never reuses it.
    this.flash.uplinkCounter = signer.lastCounter;
    await this.#options.transport.publish(
      definition.subject(this.deviceId, this.#options.namespace ?? ''),
      encoder.encode(JSON.stringify(envelope)),
    );
    this.#observe({ type: 'sent', kind: definition.kind });
  }

  /** What the firmware updater may do with this device (and nothing more). */
  #firmwareBindings(): FirmwareDeviceBindings {
    return {
      deviceId: this.flash.deviceId,
      flash: this.flash,
      clock: () => this.#clock(),
      isOnline: () => this.online,
      setOnline: (online) => {
        this.online = online;
      },
      platformKeySpki: () => {
        const pinned = this.#options.platformKey;
        if (!pinned) return undefined;
        this.#platformSpki ??= new Uint8Array(KeyObject.from(pinned.publicKey).export({ format: 'der', type: 'spki' }));
        return this.#platformSpki;
      },
      deriveUpdateKeys: () => this.#deriveUpdateKeys(),
      send: (definition, body, key) => this.#send(definition, body, key),
      serialised: (task) => this.#serialised(task),
      observe: (observation) => this.#observe(observation),
    };
  }

  /**
   * Enrolment key + both firmware-decryption keys of the current owner epoch from one PUF read (same
   * failure handling as withKeys): after a transfer they are keys no earlier owner ever saw.
   */
  async #deriveUpdateKeys(): Promise<UpdateKeys> {
    const ownerEpoch = this.ownerEpoch;
    let keys;
    try {
      keys = await this.#silicon.deriveFirmwareDecryptionKeys(
        this.flash.helperData,
        this.conditions,
        [ENROLMENT_CONTEXT],
        ownerEpoch,
      );
    } catch (error) {
      const code = isPufError(error) ? error.code : 'UNKNOWN';
      this.#keyFailed = true;
      this.#observe({ type: 'key-failure', code });
      throw new DeviceKeyUnavailableError(
        'the PUF could not reconstruct the device key',
        { deviceId: this.deviceId, pufCode: code },
        { cause: error },
      );
    }
    const enrolment = keys.also[0]!;
    if (!Buffer.from(enrolment.publicKeySpki).equals(this.flash.enrolmentPublicKey)) {
      keys.mlKem.dispose();
      this.#keyFailed = true;
      this.#observe({ type: 'key-failure', code: 'ENROLMENT_KEY_CHANGED' });
      throw new DeviceKeyUnavailableError('reconstructed enrolment key differs from the enrolled one', {
        deviceId: this.deviceId,
      });
    }
    this.#keyFailed = false;
    return {
      enrolment: enrolment.privateKey,
      ownerEpoch,
      decryption: { ecdh: keys.ecdh, mlKem: keys.mlKem },
      dispose: () => keys.mlKem.dispose(),
    };
  }

  #platformVerifier(): DeviceMessageVerifier {
    if (!this.#verifier) {
      const pinned = this.#options.platformKey!;
      const replayGuard = new ReplayGuard(
        this.#options.replayWindowMs === undefined ? {} : { windowMs: this.#options.replayWindowMs },
      );
      replayGuard.restore(this.deviceId, this.flash.lastDownlinkCounter);
      this.#verifier = new DeviceMessageVerifier({
        direction: 'downlink',
        namespace: this.#options.namespace ?? '',
        clock: this.#clock,
        replayGuard,
        // Only this device's inbox, only the pinned platform key id.
        resolveKey: async (envelope) =>
          envelope.deviceId !== this.deviceId ? undefined : envelope.keyId === pinned.keyId ? pinned.publicKey : null,
      });
    }
    return this.#verifier;
  }

  #refuse(kind: string | undefined, code: string): ReceiveOutcome {
    this.#observe({ type: 'refused', kind, code });
    return 'refused';
  }

  #observe(observation: DeviceObservation): void {
    this.journal.record(this.#clock(), observation);
    this.#options.observer?.(this.deviceId, observation);
  }

  /** One operation at a time per device: counters and flash writes stay ordered. */
  #serialised<T>(task: () => Promise<T>): Promise<T> {
    const previous = this.#tail ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tail = tail;
    void tail.then(() => {
      if (this.#tail === tail) this.#tail = undefined;
    });
    return result;
  }
}

function hasAny(record: Record<string, unknown>): boolean {
  for (const _ in record) return true;
  return false;
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}
