/**
 * Issuance as a pipeline (smallstep's authority/tls.go shape): validate the request -> fill the
 * template (lifetime from the policy, CRL distribution point of the issuing CA) -> sign with the
 * owner's issuing CA (behind the Signer port) -> validate the result -> record it. The event
 * store decides which certificate is THE one for a request: a retry, or another CA instance
 * racing on the same request, gets the recorded certificate back, never a second one.
 */
import { handleCommand, isCommandRejected, load, type EventStore } from '@tunnelkey/eventstore';
import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { buildDeviceCertificate, deviceUri, summarizeCertificate, type IssuedCertificate } from '@tunnelkey/pki';
import type { Logger } from 'pino';
import type { CertificateAuthority, LoadedAuthority } from '../authority/certificate-authority.js';
import type { DeviceEligibility } from '../device-eligibility/device-eligibility.js';
import { AuthorityUnavailableError } from '../errors.js';
import { issuanceCommandId, rejectionCommandId, sha256Hex } from '../shared/derived-ids.js';
import { CertificateRefused, type CertificateRejectionReason } from './certificate-refused.js';
import {
  deviceCertificatesDecider,
  deviceCertificatesStream,
  type DeviceCertificateCommand,
  type IssuedCertificateData,
} from './device-certificates.decider.js';
import type { IssuanceContext, IssuanceRequest } from './issuance-request.js';
import { requestValidators, type RequestValidator } from './request-validators.js';

export type IssuanceOutcome =
  | { kind: 'issued'; certificate: IssuedCertificateData; /** true when an earlier certificate for this request was returned */ reused: boolean }
  | { kind: 'rejected'; reason: CertificateRejectionReason | 'request-id-reused'; message: string }
  /** The message failed the envelope checks (forged, unknown sender, replayed, malformed): nothing recorded, nobody answered. */
  | { kind: 'ignored'; reason: CertificateRejectionReason };

export interface CertificateIssuanceDeps {
  store: EventStore;
  authority: CertificateAuthority;
  eligibility: DeviceEligibility;
  logger: Logger;
  validators?: readonly RequestValidator[];
}

const day = 86_400_000;
const clientAuthOid = '1.3.6.1.5.5.7.3.2';

export class CertificateIssuance {
  readonly #validators: readonly RequestValidator[];

  constructor(private readonly deps: CertificateIssuanceDeps) {
    this.#validators = deps.validators ?? requestValidators;
  }

  async issue(request: IssuanceRequest): Promise<IssuanceOutcome> {
    const ctx: IssuanceContext = { request, facts: this.deps.eligibility.facts(request.deviceId), attested: false };
    try {
      await this.#validate(ctx);
    } catch (error) {
      if (error instanceof CertificateRefused) return this.reject(request.deviceId, request.requestId, error, request.receivedAt);
      throw error;
    }
    const authority = await this.deps.authority.issuingFor(ctx.facts.ownerId!);
    const issued = await this.#sign(ctx, authority);
    this.#validateResult(ctx, issued, authority);
    const certificate: IssuedCertificateData = {
      deviceId: request.deviceId,
      requestId: request.requestId,
      authorityId: authority.authorityId,
      serialNumber: issued.serialHex,
      subject: `CN=${request.deviceId}`,
      issuer: this.#issuerName(authority),
      notBefore: issued.notBefore.toISOString(),
      notAfter: issued.notAfter.toISOString(),
      fingerprintSha256: issued.fingerprintSha256,
      publicKeyDigest: sha256Hex(ctx.csr!.spki),
      keyId: request.keyId,
      certificatePem: issued.pem,
      chainPem: [...authority.chainPem],
    };
    return this.#record(request, certificate);
  }

  /** Records a refusal (CertificateRejected) unless the request already has a certificate. */
  async reject(deviceId: string, requestId: string, refusal: CertificateRefused, at: Date): Promise<IssuanceOutcome> {
    const data = { deviceId, requestId, reason: refusal.reason, detail: refusal.message.slice(0, 512) };
    const command: DeviceCertificateCommand = {
      type: 'RecordRejection',
      data,
      metadata: { commandId: rejectionCommandId(deviceId, requestId, refusal.reason), now: at.toISOString(), actor: { kind: 'service', id: 'ca' } },
    };
    await handleCommand({ store: this.deps.store, decider: deviceCertificatesDecider, stream: deviceCertificatesStream(deviceId), command, logger: this.deps.logger });
    this.deps.logger.info({ event: 'ca.certificate_rejected', deviceId, requestId, reason: refusal.reason }, 'certificate request refused');
    return { kind: 'rejected', reason: refusal.reason, message: refusal.message };
  }

  async #validate(ctx: IssuanceContext): Promise<void> {
    let resynced = false;
    for (let i = 0; i < this.#validators.length; i++) {
      const validator = this.#validators[i]!;
      try {
        await validator.validate(ctx, this.deps.eligibility);
      } catch (error) {
        // The registry may have moved on (imported, verified) since our last event: catch up once, then judge again.
        if (!(error instanceof CertificateRefused) || !validator.dependsOnRegistry || resynced) throw error;
        resynced = true;
        await this.deps.eligibility.syncNow();
        ctx.facts = this.deps.eligibility.facts(ctx.request.deviceId);
        i--;
      }
    }
  }

  /** Template modifiers: device identity, lifetime from the policy (capped by the issuer), the issuer's CRL DP. */
  #sign(ctx: IssuanceContext, authority: LoadedAuthority): Promise<IssuedCertificate> {
    if (!authority.issuer) throw new AuthorityUnavailableError('the issuing CA key is offline', { authorityId: authority.authorityId });
    const notBefore = new Date(Math.floor(ctx.request.receivedAt.getTime() / 1000) * 1000);
    const lifetime = ctx.facts.policy!.certificateLifetimeDays * day;
    // A policy may ask for more than the issuing CA has left; RFC 5280 wants the leaf inside it.
    const notAfter = new Date(Math.min(notBefore.getTime() + lifetime, authority.certificate.notAfter.getTime()));
    return buildDeviceCertificate({
      deviceId: ctx.request.deviceId,
      publicKeySpki: ctx.csr!.spki,
      issuer: authority.issuer,
      notBefore,
      notAfter,
      crlDistributionPointUrl: authority.crlUrl,
    });
  }

  /**
   * Validate the result, independently of the encoder that built it: OpenSSL (node's
   * X509Certificate) parses what we signed and checks the key, names, purpose and the signature
   * under the issuing CA's key. The issuing CA's own chain was checked when it was loaded. (A pkijs
   * re-parse here cost ~11 ms per certificate and capped issuance at ~50/s.)
   */
  #validateResult(ctx: IssuanceContext, issued: IssuedCertificate, authority: LoadedAuthority): void {
    const x509 = new X509Certificate(issued.der);
    const deviceId = ctx.request.deviceId;
    const problems: string[] = [];
    if (!x509.publicKey.export({ type: 'spki', format: 'der' }).equals(Buffer.from(ctx.csr!.spki))) problems.push('public key');
    if (x509.subject !== `CN=${deviceId}`) problems.push('subject');
    if (!(x509.subjectAltName ?? '').split(', ').includes(`URI:${deviceUri(deviceId)}`)) problems.push('SAN URI');
    if (!(x509.keyUsage ?? []).includes(clientAuthOid)) problems.push('extended key usage');
    if (!x509.verify(this.#issuerKey(authority))) problems.push('signature');
    if (problems.length) throw new AuthorityUnavailableError(`issued certificate failed its checks: ${problems.join(', ')}`, { deviceId });
  }

  readonly #issuerKeys = new WeakMap<LoadedAuthority, KeyObject>();
  readonly #issuerNames = new WeakMap<LoadedAuthority, string>();

  #issuerKey(authority: LoadedAuthority): KeyObject {
    let key = this.#issuerKeys.get(authority);
    if (!key) this.#issuerKeys.set(authority, (key = createPublicKey({ key: Buffer.from(authority.certificate.spki), format: 'der', type: 'spki' })));
    return key;
  }

  #issuerName(authority: LoadedAuthority): string {
    let name = this.#issuerNames.get(authority);
    if (!name) this.#issuerNames.set(authority, (name = summarizeCertificate(authority.certificate).subject));
    return name;
  }

  async #record(request: IssuanceRequest, certificate: IssuedCertificateData): Promise<IssuanceOutcome> {
    const { deviceId, requestId } = request;
    const stream = deviceCertificatesStream(deviceId);
    const command: DeviceCertificateCommand = {
      type: 'RecordIssuedCertificate',
      data: certificate,
      metadata: {
        commandId: issuanceCommandId(deviceId, requestId, certificate.publicKeyDigest),
        now: request.receivedAt.toISOString(),
        actor: { kind: 'device', id: deviceId },
      },
    };
    try {
      const result = await handleCommand({ store: this.deps.store, decider: deviceCertificatesDecider, stream, command, logger: this.deps.logger });
      if (!result.alreadyHandled && result.events.length === 1) {
        this.deps.logger.debug({ event: 'ca.certificate_issued', deviceId, requestId, serialNumber: certificate.serialNumber }, 'certificate issued');
        return { kind: 'issued', certificate, reused: false };
      }
    } catch (error) {
      if (isCommandRejected(error) && error.reason === 'request-id-reused') {
        return { kind: 'rejected', reason: 'request-id-reused', message: 'this request id was already used for another key' };
      }
      throw error;
    }
    // Someone (a retry, another instance) recorded this request first: what the log holds is the answer.
    const { state } = await load(this.deps.store, deviceCertificatesDecider, stream);
    const outcome = state.requests[requestId];
    if (outcome?.status !== 'Issued') throw new AuthorityUnavailableError('the recorded certificate for this request was not found', { deviceId, requestId });
    return { kind: 'issued', certificate: outcome.certificate, reused: true };
  }
}
