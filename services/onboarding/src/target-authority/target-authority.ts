/**
 * A target's own CA (docs/decisions/0001): the only issuer the target's broker trusts. Onboarding a
 * device to the target is issuing it a target certificate for the TLS key its platform certificate
 * names; revoking it is listing that certificate on this CA's CRL. A certificate the platform never
 * issued for this target fails the handshake.
 *
 * The key is derived from the onboarding KEK and the target id (nothing is stored, every instance
 * computes the same one); the certificate is self-signed (a broker's cafile needs a self-signed
 * anchor) and recorded once (TargetTrustAnchorInstalled carries it), so instances and restarts
 * install that same certificate.
 */
import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  buildCrl,
  buildDeviceCertificate,
  buildRootCaCertificate,
  deriveP256SignerUnderKek,
  derToPem,
  loadIssuer,
  parseCertificate,
  spkiEqual,
  type CertificateIssuer,
  type Kek,
  type Signer,
} from '@tunnelkey/pki';
import { CLOCK, ONBOARDING_KEK, type Clock } from '../tokens.js';
import { TargetsView } from '../views/targets.view.js';

/** A target CA certificate lives this long; a recorded one with less than a year left is replaced. */
const AUTHORITY_LIFETIME_MS = 20 * 365 * 24 * 3600_000;
const RENEW_BEFORE_MS = 365 * 24 * 3600_000;
/** Backdated, so a device whose clock is a little behind still accepts what was just issued. */
const BACKDATE_MS = 3600_000;

export const targetAuthorityId = (targetId: string): string =>
  targetId.length <= 120
    ? `tca-${targetId}`
    : `tca-${createHash('sha256').update(targetId).digest('hex').slice(0, 40)}`;

/** As DeviceOnboarded carries it (certificates are public). */
export interface TargetCertificate {
  authorityId: string;
  serialNumber: string;
  fingerprintSha256: string;
  /** ISO 8601. */
  notAfter: string;
  certificatePem: string;
}

export interface TargetCrlEntry {
  serialNumber: string;
  revokedAt: Date;
}

export interface TargetCrl {
  authorityId: string;
  crlNumber: number;
  crlPem: string;
  /** SHA-256 of the CRL's DER. */
  crlDigest: string;
  thisUpdate: Date;
  nextUpdate: Date;
}

export class TargetAuthority {
  readonly authorityId: string;
  readonly certificatePem: string;
  readonly fingerprintSha256: string;
  readonly notAfter: Date;

  constructor(
    readonly targetId: string,
    private readonly issuer: CertificateIssuer,
  ) {
    this.authorityId = targetAuthorityId(targetId);
    const certificate = issuer.certificate;
    this.certificatePem = derToPem(certificate.der, 'CERTIFICATE');
    this.fingerprintSha256 = createHash('sha256').update(certificate.der).digest('hex');
    this.notAfter = certificate.notAfter;
  }

  /** A new self-signed CA for the target, from `now` for 20 years. */
  static async selfSigned(targetId: string, signer: Signer, now: Date): Promise<TargetAuthority> {
    const issued = await buildRootCaCertificate({
      subject: { organization: 'tunnelkey', commonName: `target CA ${targetId}`.slice(0, 64) },
      signer,
      notBefore: new Date(now.getTime() - BACKDATE_MS),
      notAfter: new Date(now.getTime() + AUTHORITY_LIFETIME_MS),
      pathLength: 0,
    });
    return new TargetAuthority(targetId, loadIssuer({ certificate: issued.der, signer }));
  }

  /** The device's certificate for this target: its TLS key, no later than its platform certificate. */
  async issue(device: {
    deviceId: string;
    publicKeySpki: Uint8Array;
    notBefore: Date;
    notAfter: Date;
  }): Promise<TargetCertificate> {
    // Within both the platform certificate's validity and this CA's.
    const notBefore = new Date(Math.max(device.notBefore.getTime(), this.issuer.certificate.notBefore.getTime()));
    const notAfter = new Date(Math.min(device.notAfter.getTime(), this.notAfter.getTime()));
    const issued = await buildDeviceCertificate({
      deviceId: device.deviceId,
      publicKeySpki: device.publicKeySpki,
      issuer: this.issuer,
      notBefore,
      notAfter,
    });
    return {
      authorityId: this.authorityId,
      serialNumber: issued.serialHex.toLowerCase(),
      fingerprintSha256: issued.fingerprintSha256,
      notAfter: issued.notAfter.toISOString(),
      certificatePem: issued.pem,
    };
  }

  /** The CRL listing `revoked`, numbered `crlNumber`, valid from `now` for `lifetimeMs`. */
  async crl(input: {
    crlNumber: number;
    revoked: readonly TargetCrlEntry[];
    now: Date;
    lifetimeMs: number;
  }): Promise<TargetCrl> {
    const thisUpdate = new Date(input.now.getTime() - 60_000);
    const nextUpdate = new Date(input.now.getTime() + input.lifetimeMs);
    const crl = await buildCrl({
      issuer: this.issuer,
      thisUpdate,
      nextUpdate,
      crlNumber: BigInt(input.crlNumber),
      revoked: input.revoked.map((entry) => ({
        serialHex: entry.serialNumber,
        revokedAt: entry.revokedAt,
        reason: 'privilegeWithdrawn' as const,
      })),
    });
    return {
      authorityId: this.authorityId,
      crlNumber: input.crlNumber,
      crlPem: crl.pem,
      crlDigest: createHash('sha256').update(crl.der).digest('hex'),
      thisUpdate: crl.thisUpdate,
      nextUpdate: crl.nextUpdate,
    };
  }
}

/**
 * The target authorities, one per target: the key derived on first use, the certificate the one
 * recorded for the target (so instances that each made one at the same first onboarding converge on
 * the one recorded last), or a new one when none is recorded, or it is not this key's or near its end.
 */
@Injectable()
export class TargetAuthorities {
  readonly #signers = new Map<string, Promise<Signer>>();
  readonly #authorities = new Map<string, TargetAuthority>();

  constructor(
    @Inject(ONBOARDING_KEK) private readonly kek: Kek,
    private readonly targets: TargetsView,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async for(targetId: string): Promise<TargetAuthority> {
    const signer = await this.#signer(targetId);
    const recordedPem = this.targets.anchorCertificate(targetId, targetAuthorityId(targetId));
    const current = this.#authorities.get(targetId);
    if (current && (recordedPem === undefined || recordedPem === current.certificatePem)) return current;
    const now = this.clock();
    let authority: TargetAuthority | undefined;
    if (recordedPem) {
      const recorded = parseCertificate(recordedPem);
      // The recorded one is kept while it is this key's (the KEK unchanged) and not near its end.
      if (
        spkiEqual(recorded.spki, signer.publicKeySpki) &&
        recorded.notAfter.getTime() - now.getTime() > RENEW_BEFORE_MS
      )
        authority = new TargetAuthority(targetId, loadIssuer({ certificate: recorded, signer }));
    }
    authority ??= current ?? (await TargetAuthority.selfSigned(targetId, signer, now));
    this.#authorities.set(targetId, authority);
    return authority;
  }

  #signer(targetId: string): Promise<Signer> {
    let signer = this.#signers.get(targetId);
    if (!signer) {
      signer = deriveP256SignerUnderKek(this.kek, `onboarding/target-ca/${targetId}`);
      this.#signers.set(targetId, signer);
      signer.catch(() => this.#signers.delete(targetId));
    }
    return signer;
  }
}
