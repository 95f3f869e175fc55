/**
 * The switch report: `<ns>.dev.*.certificate-switched` in the `ca` queue group. A device that
 * connected to a target with a renewed certificate says so, signed with its enrolment key; once
 * verified (the device-protocol verifier: subject, signature, counter, time) and matched to its
 * renewal (the CSR requestId, the same device, the renewed serial), the renewal is completed and
 * the previous certificate revoked as superseded: rotate, then revoke. A report that fails the
 * envelope checks, or matches no renewal of that device, changes nothing and is not answered.
 */
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  CertificateSwitchedMessage,
  deviceUplinkFilter,
  parseDeviceSubject,
  type DeviceBodyOf,
} from '@tunnelkey/contracts';
import { ConcurrencyLimiter } from '@tunnelkey/concurrency';
import { DeviceMessageVerifier, isDeviceMessageRejected } from '@tunnelkey/device-protocol';
import { describeError, isCommandRejected } from '@tunnelkey/eventstore';
import { NATS_CONNECTION } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import type { CaConfig } from '../config.js';
import { CA_CONFIG, CA_LOGGER, CLOCK, type Clock } from '../tokens.js';
import { DeviceEligibilityView } from '../views/device-eligibility.view.js';
import { RenewalsView } from '../views/renewals.view.js';
import { RenewalRecorder } from './renewal-recorder.js';
import { RenewalsJob } from './renewals.job.js';

export type SwitchOutcome =
  | { kind: 'completed'; renewalId: string; superseded: string }
  | { kind: 'already-completed'; renewalId: string }
  /** Verified, but not a renewal of this device in a state to complete (the typed reason says why). */
  | { kind: 'refused'; reason: string }
  /** Failed the envelope checks: nothing recorded. */
  | { kind: 'ignored'; reason: string };

@Injectable()
export class CertificateSwitchedUplinkController implements OnApplicationBootstrap, OnModuleDestroy {
  readonly verifier: DeviceMessageVerifier;
  readonly #limiter = new ConcurrencyLimiter(32);
  #subscription: Subscription | undefined;
  #loop: Promise<void> | undefined;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(CA_CONFIG) private readonly config: Pick<CaConfig, 'namespace'>,
    private readonly eligibility: DeviceEligibilityView,
    private readonly renewals: RenewalsView,
    private readonly recorder: RenewalRecorder,
    private readonly job: RenewalsJob,
    @Inject(CLOCK) clock: Clock,
    @Inject(CA_LOGGER) private readonly logger: Logger,
  ) {
    this.verifier = new DeviceMessageVerifier({
      direction: 'uplink',
      namespace: config.namespace,
      clock,
      resolveKey: async (envelope) => {
        const device = eligibility.facts(envelope.deviceId).device;
        if (!device) return undefined;
        return envelope.keyId === 'enrolment' ? eligibility.enrolmentKey(device) : null;
      },
    });
  }

  onApplicationBootstrap(): void {
    if (this.#subscription) return;
    const subscription = this.nc.subscribe(deviceUplinkFilter(CertificateSwitchedMessage.kind, this.config.namespace), {
      queue: 'ca',
    });
    this.#subscription = subscription;
    this.#loop = (async () => {
      for await (const msg of subscription)
        await this.#limiter.start(() =>
          this.handle(msg.subject, msg.data).catch((error: unknown) =>
            this.logger.error(
              { event: 'ca.switch_failed', subject: msg.subject, error: describeError(error) },
              'certificate-switched report failed; the device reports again on its next connection',
            ),
          ),
        );
    })();
  }

  async onModuleDestroy(): Promise<void> {
    if (this.#subscription) await this.#subscription.drain().catch(() => undefined);
    await this.#loop;
    await this.#limiter.idle();
  }

  async handle(subject: string, data: Uint8Array): Promise<SwitchOutcome> {
    let deviceId: string;
    let body: DeviceBodyOf<typeof CertificateSwitchedMessage>;
    try {
      const envelope = await this.verifier.verify(subject, data);
      deviceId = envelope.deviceId;
      body = envelope.body as DeviceBodyOf<typeof CertificateSwitchedMessage>;
    } catch (error) {
      if (!isDeviceMessageRejected(error)) throw error;
      const parts = parseDeviceSubject(subject, this.config.namespace);
      this.logger.warn(
        { event: 'ca.switch_ignored', deviceId: parts?.deviceId, code: error.code },
        'certificate-switched report failed its envelope checks; ignored',
      );
      return { kind: 'ignored', reason: error.code };
    }
    let renewal = this.renewals.renewalOfRequest(body.requestId);
    if (!renewal) {
      await this.renewals.catchUp();
      renewal = this.renewals.renewalOfRequest(body.requestId);
    }
    if (!renewal || renewal.deviceId !== deviceId) return this.#refuse(deviceId, 'unknown-renewal');
    if (renewal.status === 'completed') return { kind: 'already-completed', renewalId: renewal.renewalId };
    try {
      // The device may report before the job recorded the new certificate: the step comes first.
      if (renewal.status === 'requested' && renewal.issued?.serialNumber === body.serialNumber)
        await this.recorder.renewed(renewal);
      const { recorded } = await this.recorder.switched(renewal, body);
      if (!recorded) return { kind: 'already-completed', renewalId: renewal.renewalId };
    } catch (error) {
      if (isCommandRejected(error)) return this.#refuse(deviceId, error.reason);
      throw error;
    }
    this.job.superseded(renewal.previous.authorityId);
    this.logger.info(
      {
        event: 'ca.renewal_completed',
        deviceId,
        renewalId: renewal.renewalId,
        serialNumber: body.serialNumber,
        superseded: renewal.previous.serialNumber,
      },
      'device switched to its renewed certificate; the previous one is revoked',
    );
    return { kind: 'completed', renewalId: renewal.renewalId, superseded: renewal.previous.serialNumber };
  }

  #refuse(deviceId: string, reason: string): SwitchOutcome {
    this.logger.warn({ event: 'ca.switch_refused', deviceId, reason }, 'certificate-switched report refused');
    return { kind: 'refused', reason };
  }
}
