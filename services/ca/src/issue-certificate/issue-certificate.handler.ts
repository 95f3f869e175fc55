/**
 * Issuance as a pipeline (smallstep's authority/tls.go shape): validate the request -> fill the
 * template (template modifiers) -> sign with the owner's issuing CA -> check the result (result
 * checks) -> record it. The event store decides which certificate is THE one for a request: a
 * retry, or another CA instance racing on the same request, gets the recorded certificate back,
 * never a second one. The record is also where a revocation stops issuance: once the device's
 * stream holds its revocation, the certificate just signed is not recorded and the request is
 * refused (`device-revoked`), even before the registry's DeviceRevoked reaches this instance.
 */
import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  AggregateStateCache,
  derivedCommandId,
  handleCommand,
  isCommandRejected,
  load,
  type EventStore,
} from '@tunnelkey/eventstore';
import { EVENT_STORE } from '@tunnelkey/messaging';
import { buildDeviceCertificate, parseCertificate, summarizeCertificate, type IssuedCertificate } from '@tunnelkey/pki';
import type { Logger } from 'pino';
import { caActor, CertificateAuthority, type LoadedAuthority } from '../authority/certificate-authority.js';
import {
  deviceCertificatesDecider,
  deviceCertificatesStream,
  type DeviceCertificateCommand,
  type DeviceCertificatesState,
  type IssuedCertificateData,
} from '../deciders/device-certificates.decider.js';
import { AuthorityUnavailableError } from '../errors.js';
import { CA_LOGGER } from '../tokens.js';
import { DeviceEligibilityView } from '../views/device-eligibility.view.js';
import { certificateTemplate } from './certificate-template.js';
import { CertificateRefused, type CertificateRejectionReason } from './certificate-refused.js';
import type { IssuanceContext, IssuanceRequest } from './issuance-request.js';
import { requestValidators } from './request-validators.js';
import { failedChecks } from './result-checks.js';

export type IssuanceOutcome =
  | {
      kind: 'issued';
      certificate: IssuedCertificateData;
      /** true when an earlier certificate for this request was returned */ reused: boolean;
    }
  | { kind: 'rejected'; reason: CertificateRejectionReason | 'request-id-reused'; message: string }
  /** Failed the envelope checks (forged, unknown sender, replayed, malformed): nothing recorded or answered. */
  | { kind: 'ignored'; reason: CertificateRejectionReason };

const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

@Injectable()
export class IssueCertificateHandler {
  readonly #issuerNames = new WeakMap<LoadedAuthority, string>();
  /** Device certificate streams as this CA last wrote them; a device not seen yet is assumed to have none (no read for a first certificate). */
  readonly #streams = new AggregateStateCache<DeviceCertificatesState>({ maxStreams: 20_000 });

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly authority: CertificateAuthority,
    private readonly eligibility: DeviceEligibilityView,
    @Inject(CA_LOGGER) private readonly logger: Logger,
  ) {}

  /** One verified CSR: the certificate (new or the one recorded for this request), or a recorded refusal. */
  async issue(request: IssuanceRequest): Promise<IssuanceOutcome> {
    const ctx: IssuanceContext = { request, facts: this.eligibility.facts(request.deviceId), attested: false };
    try {
      await this.#validate(ctx);
    } catch (error) {
      if (error instanceof CertificateRefused) return this.#reject(request, error);
      throw error;
    }
    const authority = await this.authority.issuingFor(ctx.facts.ownerId!);
    if (!authority.issuer)
      throw new AuthorityUnavailableError('the issuing CA key is offline', { authorityId: authority.authorityId });
    const issued = await buildDeviceCertificate({ ...certificateTemplate(ctx, authority), issuer: authority.issuer });
    this.#checkResult(ctx, issued);
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
  async #reject(request: IssuanceRequest, refusal: CertificateRefused): Promise<IssuanceOutcome> {
    const { deviceId, requestId } = request;
    const command: DeviceCertificateCommand = {
      type: 'RecordRejection',
      data: { deviceId, requestId, reason: refusal.reason, detail: refusal.message.slice(0, 512) },
      metadata: {
        commandId: derivedCommandId('reject', deviceId, requestId, refusal.reason),
        now: request.receivedAt.toISOString(),
        actor: caActor,
      },
    };
    const stream = deviceCertificatesStream(deviceId);
    await handleCommand({
      store: this.store,
      decider: deviceCertificatesDecider,
      stream,
      cache: this.#streams.assumeNew(stream, deviceCertificatesDecider.initialState),
      command,
      logger: this.logger,
    });
    this.logger.info(
      { event: 'ca.certificate_rejected', deviceId, requestId, reason: refusal.reason },
      'certificate request refused',
    );
    return { kind: 'rejected', reason: refusal.reason, message: refusal.message };
  }

  #refuseRevoked(request: IssuanceRequest): Promise<IssuanceOutcome> {
    return this.#reject(
      request,
      new CertificateRefused('device-revoked', 'the device is revoked', { deviceId: request.deviceId }),
    );
  }

  async #validate(ctx: IssuanceContext): Promise<void> {
    let resynced = false;
    for (let i = 0; i < requestValidators.length; i++) {
      const validator = requestValidators[i]!;
      try {
        await validator.validate(ctx, this.eligibility);
      } catch (error) {
        // The registry may have moved on (imported, verified) since our last event: catch up once, then judge again.
        if (!(error instanceof CertificateRefused) || !validator.dependsOnRegistry || resynced) throw error;
        resynced = true;
        await this.eligibility.catchUp();
        ctx.facts = this.eligibility.facts(ctx.request.deviceId);
        i--;
      }
    }
  }

  #checkResult(ctx: IssuanceContext, issued: IssuedCertificate): void {
    const problems = failedChecks({ certificate: parseCertificate(issued.der), ctx });
    if (problems.length) {
      throw new AuthorityUnavailableError(`issued certificate failed its checks: ${problems.join(', ')}`, {
        deviceId: ctx.request.deviceId,
      });
    }
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
        commandId: derivedCommandId('issue', deviceId, requestId, certificate.publicKeyDigest),
        now: request.receivedAt.toISOString(),
        actor: { kind: 'device', id: deviceId },
      },
    };
    try {
      const result = await handleCommand({
        store: this.store,
        decider: deviceCertificatesDecider,
        stream,
        cache: this.#streams.assumeNew(stream, deviceCertificatesDecider.initialState),
        command,
        logger: this.logger,
      });
      if (!result.alreadyHandled && result.events.length === 1) {
        const { serialNumber } = certificate;
        this.logger.debug({ event: 'ca.certificate_issued', deviceId, requestId, serialNumber }, 'certificate issued');
        return { kind: 'issued', certificate, reused: false };
      }
    } catch (error) {
      if (isCommandRejected(error) && error.reason === 'device-revoked') return this.#refuseRevoked(request);
      if (isCommandRejected(error) && error.reason === 'request-id-reused') {
        return {
          kind: 'rejected',
          reason: 'request-id-reused',
          message: 'this request id was already used for another key',
        };
      }
      throw error;
    }
    // Someone (a retry, another instance) recorded this request first: what the log holds is the answer.
    const { state } = await load(this.store, deviceCertificatesDecider, stream);
    // Recorded before the revocation, so revoked with it: never handed out again.
    if (state.revokedBy !== undefined) return this.#refuseRevoked(request);
    const outcome = state.requests[requestId];
    if (outcome?.status !== 'Issued') {
      throw new AuthorityUnavailableError('the recorded certificate for this request was not found', {
        deviceId,
        requestId,
      });
    }
    return { kind: 'issued', certificate: outcome.certificate, reused: true };
  }
}
