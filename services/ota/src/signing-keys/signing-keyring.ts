/**
 * The OTA service's firmware-signing keys: an ECDSA P-256 key and an ML-DSA-65 key per generation
 * (OTA_SIGNING_KEY_GENERATION), both derived under the OTA KEK (the ECDSA key as the CA derives its
 * target CA keys, the ML-DSA-65 key from a keygen seed derived the same way), so nothing is stored
 * and nothing can leak from the log. At start the platform key's delegation to this generation is
 * recorded once (FirmwareSigningKeyDelegated); a new generation is a new delegation with a higher
 * version, and devices then refuse what an older generation signs. Private halves never leave here.
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleInit } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type { PlatformKey } from '@tunnelkey/device-protocol';
import { derivedCommandId, handleCommand, type EventStore } from '@tunnelkey/eventstore';
import {
  firmwarePublicKey,
  metadataToJson,
  mlDsa65Signer,
  signDelegation,
  signRelease,
  type FirmwareRelease,
  type FirmwareSigningKeys,
  type TufMetadata,
} from '@tunnelkey/firmware';
import { EVENT_STORE } from '@tunnelkey/messaging';
import { deriveP256SignerUnderKek, type Kek } from '@tunnelkey/pki';
import type { Logger } from 'pino';
import type { OtaConfig } from '../config.js';
import { signingKeyDecider, signingKeyStream, type DelegationData } from '../deciders/signing-key.decider.js';
import { otaActor, OtaWriter } from '../shared/ota-writer.js';
import { FirmwareCatalogView } from '../views/firmware-catalog.view.js';
import { CLOCK, OTA_CONFIG, OTA_KEK, OTA_LOGGER, OTA_STREAMS, PLATFORM_KEY, type Clock } from '../tokens.js';
import { deriveSecretUnderKek } from './kek-secrets.js';

export const signingKeyIdOf = (generation: number): string => `ota-signing-${generation}`;

/** Derives generation `generation`'s two signing keys from the KEK. */
export async function deriveFirmwareSigningKeys(kek: Kek, generation: number): Promise<FirmwareSigningKeys> {
  const label = `ota/firmware-signing/${generation}`;
  const ecdsa = await deriveP256SignerUnderKek(kek, `${label}/ecdsa-p256`);
  const seed = await deriveSecretUnderKek(kek, `${label}/ml-dsa-65`);
  try {
    return {
      ecdsa: { key: firmwarePublicKey('ecdsa-sha2-nistp256', ecdsa.publicKeySpki), sign: (bytes) => ecdsa.sign(bytes) },
      mlDsa: mlDsa65Signer(seed),
    };
  } finally {
    seed.fill(0);
  }
}

export interface SignedRelease {
  metadata: TufMetadata;
  json: string;
  /** Milliseconds the two signatures took. */
  signingMs: number;
}

@Injectable()
export class SigningKeyring implements OnModuleInit, OnApplicationBootstrap {
  #keys: FirmwareSigningKeys | undefined;
  #delegation: DelegationData | undefined;
  #resigned = false;
  readonly keyId: string;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(OTA_KEK) private readonly kek: Kek,
    @Inject(PLATFORM_KEY) private readonly platformKey: PlatformKey,
    @Inject(OTA_CONFIG) private readonly config: OtaConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(OTA_LOGGER) private readonly logger: Logger,
    private readonly writer: OtaWriter,
    private readonly catalog: FirmwareCatalogView,
    // Not used: orders the start after the OTA stream exists.
    @Inject(OTA_STREAMS) _streams: unknown,
  ) {
    this.keyId = signingKeyIdOf(config.signingKeyGeneration);
  }

  async onModuleInit(): Promise<void> {
    const generation = this.config.signingKeyGeneration;
    const keys = await deriveFirmwareSigningKeys(this.kek, generation);
    const now = this.clock();
    const expires = new Date(now.getTime() + this.config.delegationLifetimeDays * 86_400_000);
    const signed = await signDelegation(
      { version: generation, expires, ecdsa: keys.ecdsa.key, mlDsa: keys.mlDsa.key },
      { privateKey: this.platformKey.privateKey, publicKeySpki: this.platformKey.publicKeySpki },
    );
    const data: DelegationData = {
      keyId: this.keyId,
      generation,
      ecdsaPublicKey: Buffer.from(keys.ecdsa.key.publicKey).toString('base64'),
      mlDsaPublicKey: Buffer.from(keys.mlDsa.key.publicKey).toString('base64'),
      delegation: metadataToJson(signed),
    };
    const { state, events, alreadyHandled } = await handleCommand({
      store: this.store,
      decider: signingKeyDecider,
      stream: signingKeyStream(this.keyId),
      command: {
        type: 'RecordDelegation',
        data,
        metadata: {
          commandId: derivedCommandId(this.keyId, 'delegated'),
          now: now.toISOString(),
          actor: otaActor,
        },
      },
      logger: this.logger,
    });
    this.#keys = keys;
    // The recorded delegation stands (signed once): devices compare it byte for byte across offers.
    this.#delegation = state.delegation ?? data;
    if (events.length > 0 && !alreadyHandled)
      this.logger.info({ event: 'ota.signing_key_delegated', keyId: this.keyId, generation }, 'signing keys delegated');
  }

  /**
   * After a rotation (a new generation): every release another generation signed, not expired yet,
   * is signed again by this one with the next metadata version, so devices that accepted the new
   * delegation still take it (and refuse the old keys' signatures).
   */
  async onApplicationBootstrap(): Promise<void> {
    if (this.#resigned) return; // the hybrid app bootstraps twice
    this.#resigned = true;
    await this.catalog.catchUp();
    const now = this.clock();
    for (const { image, release } of this.catalog.list()) {
      if (release.signingKeyId === this.keyId || Date.parse(release.expiresAt) <= now.getTime()) continue;
      const line = await this.writer.firmwareLine(image.product);
      if (line.status !== 'Registered') continue;
      const metadataVersion = line.metadataVersion + 1;
      const expires = new Date(now.getTime() + this.config.metadataLifetimeDays * 86_400_000);
      const signed = await this.signRelease({
        firmwareId: image.firmwareId,
        product: image.product,
        version: image.version,
        imageSha256: image.imageDigest,
        length: image.sizeBytes,
        metadataVersion,
        expires,
      });
      await this.writer.recordFirmwareLine(image.product, {
        type: 'ResignFirmware',
        data: {
          ...release,
          metadataVersion,
          expiresAt: signed.metadata.signed.expires,
          signingKeyId: this.keyId,
          metadataDigest: createHash('sha256').update(signed.json).digest('hex'),
          targets: signed.json,
        },
        metadata: {
          commandId: derivedCommandId(image.firmwareId, 'signed-by', this.keyId),
          now: now.toISOString(),
          actor: otaActor,
        },
      });
      this.logger.info(
        { event: 'ota.firmware_resigned', firmwareId: image.firmwareId, keyId: this.keyId, metadataVersion },
        'release signed again by the current signing keys',
      );
    }
    await this.catalog.catchUp();
  }

  get delegation(): DelegationData {
    if (!this.#delegation) throw new Error('signing keys not ready');
    return this.#delegation;
  }

  /** Signs a release's targets metadata with both keys. */
  async signRelease(release: FirmwareRelease): Promise<SignedRelease> {
    if (!this.#keys) throw new Error('signing keys not ready');
    const started = performance.now();
    const metadata = await signRelease(release, this.#keys);
    return { metadata, json: metadataToJson(metadata), signingMs: performance.now() - started };
  }
}
