/**
 * Devices' certificates and their revocation, and each authority's issuing chain and newest CRL,
 * from the CA's events: whether a device may be onboarded, what trust a target needs, and which
 * revoked devices a CRL lists.
 */
import { InMemoryView } from '@tunnelkey/messaging';
import {
  AuthorityCreated,
  CertificateIssued,
  CertificateRenewalCompleted,
  CertificateRevoked,
  CrlPublished,
  DeviceCertificateRenewed,
  type DataOf,
  type EventEnvelope,
} from '@tunnelkey/contracts';
import { LiveView, type EventStore } from '@tunnelkey/eventstore';
import type { Logger } from 'pino';
import { certificateFingerprintOf } from '../install-trust/trust-checks.js';

type D<E> = DataOf<E>;

export interface DeviceCertificate {
  deviceId: string;
  /** Its platform certificate (the leaf is verified before a target certificate is issued for its key). */
  certificate?: { authorityId: string; serialNumber: string; chainPem: string[]; certificatePem: string };
  revoked: boolean;
  /** When its certificate was revoked (CertificateRevoked). */
  revokedAt?: string;
  /** The revocation that revoked its certificate (CertificateRevoked), for DeviceDeprovisioned. */
  revocationId?: string;
  /**
   * The first CRL number of its issuer that lists the revoked certificate: the first CrlPublished
   * of that authority after its CertificateRevoked in the CA's log (the CA builds a CRL from every
   * revocation recorded before it). Unset while no CRL lists it yet: a target cannot refuse its
   * handshakes then, so dropping its session would only let it reconnect.
   */
  listedOnCrl?: number;
  /**
   * Rotate, then revoke: set when a renewal gave the device a new certificate (DeviceCertificateRenewed),
   * cleared when the device switched to it (CertificateRenewalCompleted). Target certificates replaced
   * since then stay off the target CRLs meanwhile: the device may still be connected with them.
   */
  renewalPendingSince?: string;
}

export class CertificatesState {
  readonly devices = new Map<string, DeviceCertificate>();
  /**
   * authorityId -> the distinct issuing chains (issuing CA first) its certificates carry, in log
   * order, at most MAX_CHAIN_CANDIDATES; once the authority's AuthorityCreated is known, only chains
   * starting with that certificate. Nothing here is trusted: install-trust verifies a chain before a
   * target gets it, so a forged CertificateIssued seen first cannot take the authority's place.
   */
  readonly chains = new Map<string, string[][]>();
  /** authorityId -> the certificate of its first AuthorityCreated, and that certificate's SHA-256. */
  readonly authorities = new Map<string, { certificatePem: string; fingerprintSha256: string | undefined }>();
  /** authorityId -> devices whose certificate was revoked since that authority's last CrlPublished. */
  readonly #awaitingCrl = new Map<string, Set<string>>();

  /** What a view checkpoint stores of this state (Maps and Sets, all of it). */
  toCheckpoint(): {
    devices: CertificatesState['devices'];
    chains: CertificatesState['chains'];
    authorities: CertificatesState['authorities'];
    awaitingCrl: Map<string, Set<string>>;
  } {
    return {
      devices: this.devices,
      chains: this.chains,
      authorities: this.authorities,
      awaitingCrl: this.#awaitingCrl,
    };
  }

  /** The state again from what `toCheckpoint` stored. */
  static fromCheckpoint(stored: unknown): CertificatesState {
    const data = stored as {
      devices: CertificatesState['devices'];
      chains: CertificatesState['chains'];
      authorities: CertificatesState['authorities'];
      awaitingCrl: Map<string, Set<string>>;
    };
    const state = new CertificatesState();
    for (const [k, v] of data.devices) state.devices.set(k, v);
    for (const [k, v] of data.chains) state.chains.set(k, v);
    for (const [k, v] of data.authorities) state.authorities.set(k, v);
    for (const [k, v] of data.awaitingCrl) state.#awaitingCrl.set(k, v);
    return state;
  }

  device(deviceId: string): DeviceCertificate {
    let device = this.devices.get(deviceId);
    if (!device) this.devices.set(deviceId, (device = { deviceId, revoked: false }));
    return device;
  }

  apply(event: EventEnvelope): void {
    switch (event.type) {
      case CertificateIssued.type: {
        const data = event.data as D<typeof CertificateIssued>;
        this.device(data.deviceId).certificate = {
          authorityId: data.authorityId,
          serialNumber: data.serialNumber,
          chainPem: data.chainPem,
          certificatePem: data.certificatePem,
        };
        this.#addChain(data.authorityId, data.chainPem);
        break;
      }
      case AuthorityCreated.type: {
        const data = event.data as D<typeof AuthorityCreated>;
        if (this.authorities.has(data.authorityId)) break;
        const fingerprintSha256 = certificateFingerprintOf(data.certificatePem);
        this.authorities.set(data.authorityId, { certificatePem: data.certificatePem, fingerprintSha256 });
        const chains = this.chains.get(data.authorityId);
        if (chains)
          this.chains.set(
            data.authorityId,
            chains.filter((chain) => certificateFingerprintOf(chain[0] ?? '') === fingerprintSha256),
          );
        break;
      }
      case CertificateRevoked.type: {
        const data = event.data as D<typeof CertificateRevoked>;
        const device = this.device(data.deviceId);
        if (device.certificate?.serialNumber !== data.serialNumber) break;
        // An ownership transfer revokes the old owner's certificate, not the device: the transfer's
        // own reaction cuts it off the old owner's targets, and the new owner certifies and onboards it.
        if (data.reason === 'affiliationChanged') break;
        device.revoked = true;
        device.revokedAt = data.revokedAt;
        device.revocationId = data.revocationId;
        if (!this.#awaitingCrl.has(data.authorityId)) this.#awaitingCrl.set(data.authorityId, new Set());
        this.#awaitingCrl.get(data.authorityId)!.add(data.deviceId);
        break;
      }
      case DeviceCertificateRenewed.type:
        this.device((event.data as D<typeof DeviceCertificateRenewed>).deviceId).renewalPendingSince ??=
          event.occurredAt;
        break;
      case CertificateRenewalCompleted.type:
        delete this.device((event.data as D<typeof CertificateRenewalCompleted>).deviceId).renewalPendingSince;
        break;
      case CrlPublished.type: {
        const data = event.data as D<typeof CrlPublished>;
        for (const deviceId of this.#awaitingCrl.get(data.authorityId) ?? [])
          this.device(deviceId).listedOnCrl ??= data.crlNumber;
        this.#awaitingCrl.delete(data.authorityId);
        break;
      }
      default:
        break;
    }
  }

  #addChain(authorityId: string, chainPem: string[]): void {
    const chains = this.chains.get(authorityId) ?? [];
    if (chains.length >= MAX_CHAIN_CANDIDATES) return;
    const key = chainPem.join('');
    if (chains.some((chain) => chain.join('') === key)) return;
    const created = this.authorities.get(authorityId);
    if (created && certificateFingerprintOf(chainPem[0] ?? '') !== created.fingerprintSha256) return;
    this.chains.set(authorityId, [...chains, chainPem]);
  }
}

/** Distinct chains kept per authority until one is known to be its own (AuthorityCreated). */
export const MAX_CHAIN_CANDIDATES = 8;

export class CertificatesView extends InMemoryView<CertificatesState> {
  static readonly viewName = 'onboarding-certificates';

  static async start(store: EventStore, logger?: Logger): Promise<CertificatesView> {
    const live = await LiveView.start(
      store,
      {
        name: CertificatesView.viewName,
        sources: [{ context: 'ca' }],
        initialState: () => new CertificatesState(),
        evolve: (state, recorded) => (state.apply(recorded.event), state),
        // Checkpointed: a restart loads the newest checkpoint and replays only what follows. Bump the
        // version when the state or apply changes.
        checkpoint: {
          owner: 'onboarding',
          // 3: the platform certificates' PEMs and revocation times; no CrlPublished kept.
          // 4: renewals pending a switch (renewalPendingSince).
          // 5: a certificate revoked by an ownership transfer (affiliationChanged) does not revoke the device.
          version: 5,
          toCheckpoint: (state) => state.toCheckpoint(),
          fromCheckpoint: (stored) => CertificatesState.fromCheckpoint(stored),
        },
      },
      logger ? { logger } : {},
    );
    return new CertificatesView(live);
  }

  device(deviceId: string): DeviceCertificate | undefined {
    return this.state.devices.get(deviceId);
  }

  /** Every distinct chain seen for the authority, in log order (unverified). */
  chainCandidates(authorityId: string): readonly string[][] {
    return this.state.chains.get(authorityId) ?? [];
  }

  /** The certificate the authority was created with (AuthorityCreated), when the CA's log has it. */
  createdCertificatePem(authorityId: string): string | undefined {
    return this.state.authorities.get(authorityId)?.certificatePem;
  }

  /** Devices of `authorityId` revoked by a revocation, whose certificate a CRL numbered at most `crlNumber` lists. */
  revokedOnCrl(authorityId: string, crlNumber: number): (DeviceCertificate & { revocationId: string })[] {
    const listed: (DeviceCertificate & { revocationId: string })[] = [];
    for (const device of this.state.devices.values()) {
      if (!device.revoked || device.certificate?.authorityId !== authorityId || !device.revocationId) continue;
      if (device.listedOnCrl === undefined || device.listedOnCrl > crlNumber) continue;
      listed.push(device as DeviceCertificate & { revocationId: string });
    }
    return listed;
  }
}
