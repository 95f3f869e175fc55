/**
 * RenewCertificates (an operator, for a device, a list or a batch) and the scheduler's due
 * renewals: for each device that may be certified and holds a certificate, a renewal is recorded
 * first (CertificateRenewalRequested, with the next TLS key generation and the certificate it
 * replaces), then the device is asked for a CSR for that key through CertifyDevices' window, which
 * asks again whoever does not answer and gives up whoever never does. The rest (the new certificate,
 * the switch, the old certificate revoked) follows from the device and the renewals job. Ids are
 * derived from the operation and the device: a retried command starts nothing twice.
 */
import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { type CommandOf, type RenewalReason, type RenewCertificates, type ResultOf } from '@tunnelkey/contracts';
import { mapBounded } from '@tunnelkey/concurrency';
import type { Logger } from 'pino';
import { CertificateAuthority } from '../authority/certificate-authority.js';
import { CsrRequestsJob } from '../certify-devices/csr-requests.job.js';
import type { CaConfig } from '../config.js';
import { CaCommandRejected } from '../errors.js';
import { CertificateRefused } from '../issue-certificate/certificate-refused.js';
import type { IssuanceContext } from '../issue-certificate/issuance-request.js';
import {
  deviceInBatch,
  deviceKnown,
  deviceNotRevoked,
  deviceVerified,
  policyAllowsIssuance,
} from '../issue-certificate/request-validators.js';
import { PublishCrlHandler } from '../publish-crl/publish-crl.handler.js';
import { CA_CONFIG, CA_LOGGER, CLOCK, type Clock } from '../tokens.js';
import { DeviceEligibilityView } from '../views/device-eligibility.view.js';
import { RenewalsView } from '../views/renewals.view.js';
import { RenewalRecorder } from './renewal-recorder.js';
import { nextTlsKeyId } from './renewal-schedule.js';

/** The registry checks issuance applies: a device failing them is not renewed (its CSR would be refused). */
const eligibilityChecks = [deviceKnown, deviceNotRevoked, deviceInBatch, deviceVerified, policyAllowsIssuance];

const digest = (...parts: string[]) => createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);

/** One renewal per operation and device. */
export const renewalIdOf = (operationId: string, deviceId: string): string =>
  `rn-${digest('renewal', operationId, deviceId)}`;
/** The CSR request of a renewal (travels in the device protocol). */
export const renewalRequestIdOf = (renewalId: string): string => `r-${digest('renew', renewalId)}`;

/** Renewals recorded at once: a batch of 10,000 must not swamp the log. */
const maxConcurrentRecords = 32;

export interface RenewalsStarted {
  /** Renewals this call started. */
  started: number;
  /** Devices with a renewal under way already: counted, not started twice. */
  underWay: number;
  /** Devices that cannot be renewed (not certified, revoked, not eligible). */
  skipped: number;
}

@Injectable()
export class RenewCertificatesHandler {
  constructor(
    private readonly eligibility: DeviceEligibilityView,
    private readonly renewals: RenewalsView,
    private readonly recorder: RenewalRecorder,
    private readonly requests: CsrRequestsJob,
    private readonly authority: CertificateAuthority,
    private readonly crls: PublishCrlHandler,
    @Inject(CA_CONFIG) private readonly config: Pick<CaConfig, 'renewalExpirySeconds'>,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(CA_LOGGER) private readonly logger: Logger,
  ) {}

  async handle(command: CommandOf<typeof RenewCertificates>): Promise<ResultOf<typeof RenewCertificates>> {
    await Promise.all([this.eligibility.catchUp(), this.renewals.catchUp()]);
    const operationId = command.commandId;
    const deviceIds = this.eligibility.devicesInScope(command.scope);
    if (command.scope.kind === 'device') {
      // One device named: say why it cannot be renewed, and change nothing.
      const refusal = await this.#refusal(command.scope.deviceId);
      if (refusal) throw new CaCommandRejected(refusal.reason, refusal.message, { deviceId: command.scope.deviceId });
    }
    const started = await this.start(deviceIds, command.reason ?? 'operator', operationId);
    return { operationId, devices: started.started + started.underWay, skipped: started.skipped };
  }

  /** Starts the renewals of these devices (the scheduler's entry too); each device is asked once recorded. */
  async start(deviceIds: readonly string[], reason: RenewalReason, operationId: string): Promise<RenewalsStarted> {
    const candidates: string[] = [];
    let underWay = 0;
    let skipped = 0;
    for (const deviceId of deviceIds) {
      if (await this.#refusal(deviceId)) skipped++;
      else if (this.renewals.device(deviceId)?.renewalId) underWay++;
      else candidates.push(deviceId);
    }
    // A renewed certificate comes from the owner's issuing CA; make sure it exists with its CRL.
    for (const ownerId of new Set(candidates.map((id) => this.eligibility.facts(id).ownerId!)))
      await this.crls.ensurePublished((await this.authority.issuingFor(ownerId)).authorityId);
    const now = this.clock();
    const expiresAt = new Date(now.getTime() + this.config.renewalExpirySeconds * 1000).toISOString();
    const recorded = await mapBounded(candidates, maxConcurrentRecords, async (deviceId) => {
      const device = this.renewals.device(deviceId)!;
      const current = device.current!;
      const renewalId = renewalIdOf(operationId, deviceId);
      const requestId = renewalRequestIdOf(renewalId);
      const keyId = nextTlsKeyId(device.highestTlsGeneration, this.eligibility.facts(deviceId).device?.ownerEpoch ?? 0);
      const previous = {
        authorityId: current.authorityId,
        serialNumber: current.serialNumber,
        keyId: current.keyId,
        notAfter: current.notAfter,
      };
      const data = { renewalId, deviceId, reason, operationId, requestId, keyId, previous, expiresAt };
      const { state } = await this.recorder.request(data, operationId);
      // Recorded before (a retried command): asked again only while it waits for its CSR.
      return state.status === 'Requested'
        ? { deviceId, requestId: state.request.requestId, keyId: state.request.keyId }
        : undefined;
    });
    const asks = recorded.filter((ask) => ask !== undefined);
    this.requests.ask(asks.map((ask) => ({ ...ask, correlationId: operationId })));
    this.logger.info(
      { event: 'ca.renewals_requested', operationId, reason, devices: asks.length, underWay, skipped },
      'certificate renewals requested',
    );
    return { started: asks.length, underWay, skipped };
  }

  /** Why the device cannot be renewed now (a typed reason), or undefined. */
  async #refusal(deviceId: string): Promise<{ reason: string; message: string } | undefined> {
    const facts = this.eligibility.facts(deviceId);
    const request = { deviceId, requestId: 'probe', keyId: 'tls-0', csrDer: new Uint8Array(), receivedAt: new Date(0) };
    const ctx: IssuanceContext = { request, facts, attested: false };
    try {
      for (const check of eligibilityChecks) await check.validate(ctx, this.eligibility);
    } catch (error) {
      if (error instanceof CertificateRefused) return error;
      throw error;
    }
    const device = this.renewals.device(deviceId);
    if (device?.revoked) return { reason: 'device-revoked', message: 'the device is revoked' };
    if (!device?.current)
      return { reason: 'device-not-certified', message: 'the device holds no certificate to renew' };
    return undefined;
  }
}
