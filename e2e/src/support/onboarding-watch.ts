/**
 * Live view of the onboarding service's device events (DeviceOnboarded, DeviceConnected,
 * TelemetryReceived) through a core NATS subscription on its subjects: progress bars and the bench
 * read it without replaying the stream. Counts are per device (a set), so a redelivered or
 * deduplicated append never counts twice. The e2e test still counts from the log itself.
 */
import { contextSubject } from '@tunnelkey/contracts';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';

export interface DeviceMilestones {
  onboardedAt?: number;
  connectedAt?: number;
  disconnectedAt?: number;
  firstTelemetryAt?: number;
}

export class OnboardingWatch {
  readonly devices = new Map<string, DeviceMilestones>();
  readonly counts = { onboarded: 0, connected: 0, disconnected: 0, firstTelemetry: 0, onboardingFailed: 0 };
  readonly #subscription: Subscription;

  constructor(
    nc: NatsConnection,
    namespace: string,
    readonly targetId: string,
  ) {
    this.#subscription = nc.subscribe(`${contextSubject('onboarding', namespace)}.device.>`, {
      callback: (error, msg) => {
        if (error) return;
        let event: { type?: string; data?: { deviceId?: string; targetId?: string; kind?: string } };
        try {
          event = msg.json();
        } catch {
          return;
        }
        const data = event.data;
        if (!data?.deviceId || data.targetId !== this.targetId) return;
        const now = Date.now();
        const device = this.devices.get(data.deviceId) ?? {};
        this.devices.set(data.deviceId, device);
        if (event.type === 'DeviceOnboarded' && device.onboardedAt === undefined) {
          device.onboardedAt = now;
          this.counts.onboarded++;
        } else if (event.type === 'DeviceOnboardingFailed') {
          this.counts.onboardingFailed++;
        } else if (event.type === 'DeviceConnected' && device.connectedAt === undefined) {
          device.connectedAt = now;
          this.counts.connected++;
        } else if (event.type === 'DeviceDisconnected' && device.disconnectedAt === undefined) {
          device.disconnectedAt = now;
          this.counts.disconnected++;
        } else if (
          event.type === 'TelemetryReceived' &&
          data.kind === 'first' &&
          device.firstTelemetryAt === undefined
        ) {
          device.firstTelemetryAt = now;
          this.counts.firstTelemetry++;
        }
      },
    });
  }

  /** Forget connections seen so far (the bench's raw baseline connects the same identities first). */
  resetConnections(): void {
    for (const device of this.devices.values()) {
      delete device.connectedAt;
      delete device.disconnectedAt;
    }
    this.counts.connected = 0;
    this.counts.disconnected = 0;
  }

  stop(): void {
    this.#subscription.unsubscribe();
  }
}
