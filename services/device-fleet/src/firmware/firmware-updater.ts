import {
  FirmwareChunkRequestMessage,
  FirmwareKeysMessage,
  UpdateReportMessage,
  maxChunksPerRequest,
  type DeviceBodyOf,
  type FirmwareChunkFrame,
  type UpdateOfferMessage,
} from '@tunnelkey/contracts';
import { signBytes, type CryptoKey } from '@tunnelkey/device-protocol';
import {
  checkDownloadedImage,
  decideUpdate,
  encryptionHeader,
  encryptionKeysAttestationBytes,
  isFirmwareError,
  unwrapContentKey,
  type ChunkedEncryptionHeader,
  type DeviceDecryptionKeys,
  type DeviceUpdateState,
  type SignatureCheck,
  type UpdateRefused,
  type VerifiedRelease,
} from '@tunnelkey/firmware';
import type { DeviceFlash } from '../simulated-device/device-flash.js';
import type { DeviceObservation } from '../simulated-device/device-observation.js';
import { ChunkDownload } from './chunk-download.js';
import { failureReasonOf, type UpdateFailureReason } from './failure-reasons.js';
import type { FirmwareFault } from './firmware-faults.js';
import { factorySlots, runningImage, trialBoot, writeInactive, type FirmwareSlots } from './firmware-slots.js';

type OfferBody = DeviceBodyOf<typeof UpdateOfferMessage>;
type ReportBody = DeviceBodyOf<typeof UpdateReportMessage>;
type Uplink = typeof FirmwareChunkRequestMessage | typeof FirmwareKeysMessage | typeof UpdateReportMessage;

/**
 * The keys one update needs, from one PUF read. `dispose` wipes the ML-KEM key once the content key
 * is unwrapped; the CryptoKeys are non-extractable and simply dropped (the enrolment key signs the
 * download's requests and its report, then goes with the session).
 */
export interface UpdateKeys {
  enrolment: CryptoKey;
  /** The owner epoch `decryption` is derived under. */
  ownerEpoch: number;
  decryption: DeviceDecryptionKeys;
  dispose(): void;
}

type Outcome = { status: 'booted' } | { status: 'failed'; reason: UpdateFailureReason; detail: string };

/** What the updater may do with its device (SimulatedDevice gives it these, nothing else). */
export interface FirmwareDeviceBindings {
  readonly deviceId: string;
  readonly flash: DeviceFlash;
  clock(): Date;
  isOnline(): boolean;
  setOnline(online: boolean): void;
  /** SPKI DER of the pinned platform key (undefined: none pinned, every offer is refused). */
  platformKeySpki(): Uint8Array | undefined;
  /** Enrolment key + both firmware-decryption keys of the current owner epoch, from one PUF read. */
  deriveUpdateKeys(): Promise<UpdateKeys>;
  /** Signs and publishes an uplink (the envelope counter is persisted before it leaves). */
  send(definition: Uplink, body: DeviceBodyOf<Uplink>, enrolmentKey: CryptoKey): Promise<void>;
  /** Runs device work one at a time with everything else the device does (for timers). */
  serialised<T>(task: () => Promise<T>): Promise<T>;
  observe(observation: DeviceObservation): void;
}

export interface FirmwareUpdaterOptions {
  /** No chunk verified for this long: ask again from the first missing chunk (doubling, up to 4x). Default 3 s. */
  stallMs?: number;
  /** How long the `offline-mid-download` fault keeps the device off the network. Default 2 s. */
  offlineMs?: number;
  /** Chunks in flight (default 8; asked for in batches, see ChunkDownload). */
  window?: number;
  /** How signatures are checked (default: each time, by this device; a fleet shares a memo, see SharedSignatureChecks). */
  signatureCheck?: SignatureCheck;
}

interface Session {
  rolloutId: string;
  firmwareId: string;
  release: VerifiedRelease;
  download: ChunkDownload;
  enrolmentKey: CryptoKey;
  deadline: number;
  timer: NodeJS.Timeout | undefined;
  stallMs: number;
  tamperedOnce: boolean;
  wentOffline: boolean;
}

const maxRememberedReports = 8;

/**
 * The device's side of an over-the-air update: judges an offer (both signatures, delegation,
 * rollback, freshness, expiry, product), unwraps the content key with its PUF-derived keys,
 * downloads into the inactive slot chunk by chunk (resuming after drops), checks the image,
 * boots it on trial and reports, signed, with the measurement of what now runs. Faults from
 * `faults` make it misbehave on purpose (see firmware-faults.ts).
 */
export class FirmwareUpdater {
  readonly faults = new Set<FirmwareFault>();
  readonly #device: FirmwareDeviceBindings;
  readonly #options: Required<Omit<FirmwareUpdaterOptions, 'signatureCheck'>>;
  readonly #signatureCheck: SignatureCheck | undefined;
  #session: Session | undefined;
  readonly #reports = new Map<string, ReportBody>();

  constructor(device: FirmwareDeviceBindings, options: FirmwareUpdaterOptions = {}) {
    this.#device = device;
    this.#options = {
      stallMs: options.stallMs ?? 3000,
      offlineMs: options.offlineMs ?? 2000,
      window: options.window ?? 8,
    };
    this.#signatureCheck = options.signatureCheck;
  }

  /** The device's slots (factory: the flash's firmware in slot A). */
  get slots(): FirmwareSlots {
    const flash = this.#device.flash;
    flash.firmwareSlots ??= factorySlots(flash.firmware);
    return flash.firmwareSlots;
  }

  /** The rollout being downloaded, and how far. */
  get download(): { rolloutId: string; verifiedChunks: number; chunkCount: number } | undefined {
    const s = this.#session;
    return (
      s && {
        rolloutId: s.rolloutId,
        verifiedChunks: s.download.verifiedChunks,
        chunkCount: s.download.header.chunkCount,
      }
    );
  }

  /** What the device last reported on the rollout (status and reason), if it reported (diagnostics). */
  reported(rolloutId: string): Pick<ReportBody, 'status' | 'reason'> | undefined {
    const report = this.#reports.get(rolloutId);
    return report && { status: report.status, ...(report.reason ? { reason: report.reason } : {}) };
  }

  /**
   * Reports the firmware-decryption public keys of its current owner epoch, attested by the
   * enrolment key (at enrolment, or when asked).
   */
  async sendFirmwareKeys(requestId?: string): Promise<void> {
    const keys = await this.#device.deriveUpdateKeys();
    try {
      const statement = {
        deviceId: this.#device.deviceId,
        ecdhPublicKey: base64(keys.decryption.ecdh.publicKeySpki),
        mlKemPublicKey: base64(keys.decryption.mlKem.publicKey),
        ownerEpoch: keys.ownerEpoch,
      };
      const attestation = await signBytes(encryptionKeysAttestationBytes(statement), keys.enrolment);
      await this.#device.send(
        FirmwareKeysMessage,
        {
          ...(requestId === undefined ? {} : { requestId }),
          ownerEpoch: statement.ownerEpoch,
          ecdhPublicKey: statement.ecdhPublicKey,
          mlKemPublicKey: statement.mlKemPublicKey,
          attestation,
        },
        keys.enrolment,
      );
    } finally {
      keys.dispose();
    }
  }

  /** An `update-offer` from the platform (already verified as a platform message). */
  async onOffer(offer: OfferBody): Promise<void> {
    const current = this.#session;
    if (current?.rolloutId === offer.rolloutId) {
      // The platform sent the offer again: the download is under way; nudge it.
      return this.#requestChunks(current, current.download.resume());
    }
    // Another rollout while downloading (the earlier one was aborted or superseded): drop it unreported.
    if (current) this.stop();
    const earlier = this.#reports.get(offer.rolloutId);
    if (earlier) return this.#sendReport(earlier);
    const now = this.#device.clock();
    const platformKey = this.#device.platformKeySpki();
    const decision = platformKey
      ? decideUpdate(this.#state(platformKey, offer), this.#documents(offer), this.#decisionTime(offer, now), {
          ...(this.#signatureCheck ? { signatureCheck: this.#signatureCheck } : {}),
        })
      : ({ outcome: 'refused', reason: 'signature', detail: 'platform' } as UpdateRefused);
    if (decision.outcome === 'refused') {
      // Offered what it already runs (a resent or repeated offer after success): say so again.
      if (decision.reason === 'rollback' && this.#runs(offer) && !this.faults.has('rollback'))
        return this.#report(offer, { status: 'booted' });
      return this.#refuse(offer, decision);
    }
    const release = decision.release;
    let header: ChunkedEncryptionHeader;
    try {
      if (
        offer.sizeBytes !== release.length ||
        offer.version !== release.version ||
        offer.firmwareId !== release.firmwareId
      )
        return this.#refuse(offer, { outcome: 'refused', reason: 'malformed', detail: 'offer-differs-from-metadata' });
      header = encryptionHeader(release.imageSha256, offer.sizeBytes, offer.chunkSize);
      if (header.chunkCount !== offer.chunkCount)
        return this.#refuse(offer, { outcome: 'refused', reason: 'malformed', detail: 'chunk-count' });
    } catch (error) {
      if (!isFirmwareError(error)) throw error;
      return this.#refuse(offer, { outcome: 'refused', reason: 'malformed', detail: 'chunking' });
    }
    const keys = await this.#device.deriveUpdateKeys();
    let contentKey: Uint8Array;
    try {
      contentKey = unwrapContentKey(new Uint8Array(Buffer.from(offer.keyWrap, 'base64')), keys.decryption, {
        deviceId: this.#device.deviceId,
        rolloutId: offer.rolloutId,
      });
    } catch (error) {
      if (!isFirmwareError(error)) throw error;
      return this.#refuse(offer, { outcome: 'refused', reason: 'decrypt', detail: 'key-wrap' });
    } finally {
      keys.dispose();
    }
    // Accepted: from now on older metadata or an older delegation is refused.
    this.#device.flash.firmwareTrust = {
      lastMetadataVersion: release.metadataVersion,
      delegation: decision.delegation,
    };
    this.#device.observe({ type: 'firmware', event: 'download-started' });
    const session: Session = {
      rolloutId: offer.rolloutId,
      firmwareId: offer.firmwareId,
      release,
      download: new ChunkDownload(header, contentKey, { window: this.#options.window }),
      enrolmentKey: keys.enrolment,
      deadline: Date.parse(offer.deadline),
      timer: undefined,
      stallMs: this.#options.stallMs,
      tamperedOnce: false,
      wentOffline: false,
    };
    this.#session = session;
    await this.#requestChunks(session, session.download.toRequest());
  }

  /** A firmware-chunk frame (unsigned: the chunk's AES-GCM tag is what authenticates it). */
  async onChunk(chunk: FirmwareChunkFrame): Promise<void> {
    const session = this.#session;
    if (!session || session.rolloutId !== chunk.rolloutId) return;
    let data = chunk.sealed;
    const target = Math.min(1, session.download.header.chunkCount - 1);
    if (
      chunk.index === target &&
      (this.faults.has('tampered-chunk') || (this.faults.has('tampered-chunk-once') && !session.tamperedOnce))
    ) {
      session.tamperedOnce = true;
      data = data.slice();
      data[Math.floor(data.length / 2)]! ^= 0x20;
    }
    const receipt = session.download.receive(chunk.index, data);
    if (receipt.kind === 'ignored') return;
    if (receipt.kind === 'tampered') {
      this.#device.observe({ type: 'firmware', event: 'chunk-refused', code: 'decrypt' });
      if (!receipt.retry)
        return this.#finish(session, { status: 'failed', reason: 'decrypt', detail: `chunk-${chunk.index}` });
      return this.#requestChunks(session, session.download.toRequest());
    }
    session.stallMs = this.#options.stallMs;
    this.#arm(session);
    if (session.download.complete) return this.#install(session);
    if (
      this.faults.has('offline-mid-download') &&
      !session.wentOffline &&
      session.download.verifiedChunks >= Math.ceil(session.download.header.chunkCount / 2)
    ) {
      session.wentOffline = true;
      this.#goOfflineFor(this.#options.offlineMs);
      return;
    }
    await this.#requestChunks(session, session.download.toRequest());
  }

  /** Drops the download in progress (device shutdown): keys wiped, timers stopped. */
  stop(): void {
    const session = this.#session;
    if (!session) return;
    clearTimeout(session.timer);
    session.download.dispose();
    this.#session = undefined;
  }

  // ---- the steps ----

  #state(platformKey: Uint8Array, offer: OfferBody): DeviceUpdateState {
    const flash = this.#device.flash;
    const trust = flash.firmwareTrust;
    return {
      product: flash.product ?? defaultProduct,
      // The rollback fault: judged as if the offered version already ran here.
      installedVersion: this.faults.has('rollback') ? offer.version : runningImage(this.slots).version,
      lastMetadataVersion: trust?.lastMetadataVersion ?? 0,
      platformKey,
      ...(trust?.delegation ? { delegation: trust.delegation } : {}),
    };
  }

  #documents(offer: OfferBody): { delegation: string; metadata: string } {
    let metadata = offer.targets;
    const broken = this.faults.has('bad-ecdsa-signature') ? 0 : this.faults.has('bad-ml-dsa-signature') ? 1 : -1;
    if (broken >= 0) metadata = breakSignature(metadata, broken);
    return { delegation: offer.delegation, metadata };
  }

  /** The clock the decision reads: past the metadata's expiry under the expired-metadata fault. */
  #decisionTime(offer: OfferBody, now: Date): Date {
    if (!this.faults.has('expired-metadata')) return now;
    const expires = /"expires":"([^"]+)"/.exec(offer.targets)?.[1];
    return expires ? new Date(Date.parse(expires) + 1000) : now;
  }

  #runs(offer: OfferBody): boolean {
    return runningImage(this.slots).version === offer.version;
  }

  /** One signed request per run of consecutive chunks, one after the other (each takes the next uplink counter). */
  async #requestChunks(session: Session, indexes: number[]): Promise<void> {
    this.#arm(session);
    if (!this.#device.isOnline()) return;
    for (const { index, count } of consecutiveRuns(indexes, maxChunksPerRequest)) {
      const body = { rolloutId: session.rolloutId, firmwareId: session.firmwareId, index, count };
      await this.#device.send(FirmwareChunkRequestMessage, body, session.enrolmentKey);
    }
  }

  /** (Re)starts the stall timer: no progress for stallMs -> ask again from the first missing chunk. */
  #arm(session: Session): void {
    clearTimeout(session.timer);
    session.timer = setTimeout(() => {
      this.#inBackground(async () => {
        if (this.#session !== session) return;
        if (this.#device.clock().getTime() > session.deadline) return this.#finish(session, undefined);
        session.stallMs = Math.min(session.stallMs * 2, this.#options.stallMs * 4);
        if (this.#device.isOnline()) this.#device.observe({ type: 'firmware', event: 'download-resumed' });
        await this.#requestChunks(session, session.download.resume());
      });
    }, session.stallMs);
    session.timer.unref?.();
  }

  /**
   * Timer work, in line with the device's other work. A failure there (the bus closed, the PUF
   * refused) must not become an unhandled rejection: the stall timer, re-armed before anything is
   * sent, tries again; a lost report is sent again when the offer is.
   */
  #inBackground(task: () => Promise<void>): void {
    this.#device.serialised(task).catch(() => undefined);
  }

  #goOfflineFor(ms: number): void {
    this.#device.setOnline(false);
    this.#device.observe({ type: 'firmware', event: 'went-offline' });
    const timer = setTimeout(() => {
      this.#inBackground(async () => {
        this.#device.setOnline(true);
        const session = this.#session;
        if (!session) return;
        this.#device.observe({ type: 'firmware', event: 'download-resumed' });
        await this.#requestChunks(session, session.download.resume());
      });
    }, ms);
    timer.unref?.();
  }

  async #install(session: Session): Promise<void> {
    const image = session.download.result();
    const refusal = checkDownloadedImage(session.release, image);
    if (refusal)
      return this.#finish(session, {
        status: 'failed',
        reason: failureReasonOf(refusal.reason),
        detail: refusal.detail,
      });
    const written = writeInactive(this.slots, { version: session.release.version, measurement: image.sha256 });
    const { slots, outcome } = trialBoot(written, !this.faults.has('failing-boot'));
    const flash = this.#device.flash;
    flash.firmwareSlots = slots;
    flash.firmware = { ...runningImage(slots) };
    this.#device.observe({ type: 'firmware', event: outcome === 'booted' ? 'installed' : 'rolled-back' });
    await this.#finish(
      session,
      outcome === 'booted'
        ? { status: 'booted' }
        : { status: 'failed', reason: 'boot-failed', detail: 'boot-check-failed' },
    );
  }

  /** Ends the session; reports its outcome (none: it ran out of time, the platform times it out). */
  async #finish(session: Session, outcome: Outcome | undefined): Promise<void> {
    clearTimeout(session.timer);
    session.download.dispose();
    if (this.#session === session) this.#session = undefined;
    if (outcome) await this.#report(session, outcome, session.enrolmentKey);
  }

  async #refuse(offer: { rolloutId: string; firmwareId: string }, refusal: UpdateRefused): Promise<void> {
    this.#device.observe({ type: 'firmware', event: 'offer-refused', code: refusal.reason });
    await this.#report(offer, { status: 'failed', reason: failureReasonOf(refusal.reason), detail: refusal.detail });
  }

  async #report(
    offer: { rolloutId: string; firmwareId: string },
    outcome: Outcome,
    enrolmentKey?: CryptoKey,
  ): Promise<void> {
    const running = runningImage(this.slots);
    const body: ReportBody = {
      rolloutId: offer.rolloutId,
      firmwareId: offer.firmwareId,
      status: outcome.status,
      firmwareVersion: running.version,
      firmwareMeasurement: running.measurement,
      ...(outcome.status === 'failed' ? { reason: outcome.reason, detail: outcome.detail.slice(0, 512) } : {}),
    };
    this.#reports.set(offer.rolloutId, body);
    for (const old of [...this.#reports.keys()].slice(0, Math.max(0, this.#reports.size - maxRememberedReports)))
      this.#reports.delete(old);
    await this.#sendReport(body, enrolmentKey);
  }

  async #sendReport(body: ReportBody, enrolmentKey?: CryptoKey): Promise<void> {
    if (!this.#device.isOnline()) return;
    if (enrolmentKey) return this.#device.send(UpdateReportMessage, body, enrolmentKey);
    const keys = await this.#device.deriveUpdateKeys();
    try {
      await this.#device.send(UpdateReportMessage, body, keys.enrolment);
    } finally {
      keys.dispose();
    }
  }
}

export const defaultProduct = 'fridge-x200';

/** The metadata text with one of its signatures altered (a byte in the middle flipped). */
function breakSignature(metadata: string, index: number): string {
  try {
    const parsed = JSON.parse(metadata) as { signatures: { keyid: string; sig: string }[] };
    const signature = parsed.signatures[index];
    if (!signature) return metadata;
    const at = Math.floor(signature.sig.length / 2);
    const digit = signature.sig[at] === '0' ? '1' : '0';
    signature.sig = `${signature.sig.slice(0, at)}${digit}${signature.sig.slice(at + 1)}`;
    return JSON.stringify(parsed);
  } catch {
    return metadata;
  }
}

const base64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

/** [3, 4, 5, 9] -> [{ index: 3, count: 3 }, { index: 9, count: 1 }], no run longer than `max`. */
export function consecutiveRuns(indexes: readonly number[], max: number): { index: number; count: number }[] {
  const runs: { index: number; count: number }[] = [];
  for (const index of indexes) {
    const last = runs.at(-1);
    if (last && last.index + last.count === index && last.count < max) last.count++;
    else runs.push({ index, count: 1 });
  }
  return runs;
}
