/**
 * What OTA's uplink controllers share: a subscription to one device message kind
 * (`<ns>.dev.*.<kind>`, queue group `ota`, instances share the load), each message verified by the
 * device-protocol verifier (the device's enrolment key from the fleet view; forged signatures,
 * replayed counters and stale messages refused) before `handle` sees it, handled with bounded
 * concurrency, one device's messages in arrival order (its counters only grow: a device with four
 * chunk requests in flight must not see the later ones verified first and the earlier refused). A message that fails the checks changes nothing and is answered nothing: its sender
 * is not authenticated. It is logged without its content and counted.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { deviceUplinkFilter, parseDeviceSubject, type DeviceEnvelope } from '@tunnelkey/contracts';
import { KeyedQueue } from '@tunnelkey/concurrency';
import {
  DeviceMessageVerifier,
  isDeviceMessageRejected,
  type DeviceMessageRejectionCode,
} from '@tunnelkey/device-protocol';
import { describeError } from '@tunnelkey/eventstore';
import type { Logger } from 'pino';
import type { Clock } from '../tokens.js';
import type { FleetView } from '../views/fleet.view.js';

export interface UplinkSubscriptionOptions {
  kind: string;
  namespace: string;
  fleet: FleetView;
  clock: Clock;
  logger: Logger;
  concurrency: number;
  handle: (envelope: DeviceEnvelope) => Promise<void>;
}

export class UplinkSubscription {
  readonly verifier: DeviceMessageVerifier;
  readonly #queue: KeyedQueue;
  readonly refused = new Map<DeviceMessageRejectionCode, number>();
  #subscription: Subscription | undefined;
  #loop: Promise<void> | undefined;

  constructor(private readonly options: UplinkSubscriptionOptions) {
    this.#queue = new KeyedQueue(options.concurrency);
    const { fleet } = options;
    this.verifier = new DeviceMessageVerifier({
      direction: 'uplink',
      namespace: options.namespace,
      clock: options.clock,
      // OTA's uplinks are signed with the device's enrolment key (contracts: ota-messages).
      resolveKey: async (envelope) => {
        let device = fleet.device(envelope.deviceId);
        if (!device) {
          await fleet.catchUp();
          device = fleet.device(envelope.deviceId);
        }
        if (!device) return undefined;
        if (envelope.keyId !== 'enrolment') return null;
        return fleet.enrolmentKey(device);
      },
    });
  }

  start(nc: NatsConnection): void {
    const { kind, namespace } = this.options;
    const subscription = nc.subscribe(deviceUplinkFilter(kind, namespace), { queue: 'ota' });
    this.#subscription = subscription;
    this.#loop = (async () => {
      for await (const msg of subscription) {
        const key = parseDeviceSubject(msg.subject, namespace)?.deviceId ?? msg.subject;
        void this.#queue.run(key, () => this.receive(msg.subject, msg.data));
      }
    })();
  }

  async stop(): Promise<void> {
    if (this.#subscription) await this.#subscription.drain().catch(() => undefined);
    await this.#loop;
    await this.#queue.idle();
    this.#subscription = undefined;
  }

  /** One message: verified, then handled; a refusal or a failure is logged, never thrown. */
  async receive(subject: string, data: Uint8Array): Promise<'handled' | 'refused' | 'failed'> {
    const { kind, logger, namespace } = this.options;
    let envelope: DeviceEnvelope;
    try {
      envelope = await this.verifier.verify(subject, data);
    } catch (error) {
      if (!isDeviceMessageRejected(error)) throw error;
      this.refused.set(error.code, (this.refused.get(error.code) ?? 0) + 1);
      const deviceId = parseDeviceSubject(subject, namespace)?.deviceId;
      logger.warn({ event: 'ota.uplink_refused', kind, deviceId, code: error.code }, 'device message refused; ignored');
      return 'refused';
    }
    try {
      await this.options.handle(envelope);
      return 'handled';
    } catch (error) {
      logger.error(
        { event: 'ota.uplink_failed', kind, deviceId: envelope.deviceId, error: describeError(error) },
        'device message not handled',
      );
      return 'failed';
    }
  }
}
