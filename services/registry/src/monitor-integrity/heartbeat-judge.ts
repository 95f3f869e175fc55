/**
 * What one heartbeat says about a device, decided from what was accepted before it: pure, so the
 * rules read (and are tested) as given/when/then. The envelope's signature and time window were
 * checked first (DeviceMessageVerifier); this judges only counter, time and measurement.
 */
import type { IntegrityViolationKind } from '@tunnelkey/contracts';

/** The last heartbeat accepted from a device, and what is remembered of the ones before it. */
export interface LastHeartbeat {
  counter: number;
  /** Its signed send time, ms. */
  sentAt: number;
  /** Nonces of the heartbeats accepted within the replay window (older ones are refused as stale anyway). */
  nonces: readonly string[];
  /**
   * True once the device has been followed for longer than the replay window: every heartbeat that
   * could still arrive in time and was accepted is then among `nonces`.
   */
  rememberedForWindow: boolean;
}

export interface Heartbeat {
  counter: number;
  sentAt: number;
  nonce: string;
  firmwareMeasurement: string;
}

export type HeartbeatVerdict =
  /** Counter and time go forward; `violation` when the measurement is not the expected one. */
  | { verdict: 'accepted'; violation?: 'measurement-mismatch' }
  /**
   * Sent after the last accepted heartbeat (its own signed time) yet with a counter not above it:
   * one device never does that, two holders of its key do (a clone), or a device whose state was
   * rolled back. The genuine counter line is kept.
   */
  | { verdict: 'violation'; violation: Extract<IntegrityViolationKind, 'counter-regression'> }
  /**
   * A heartbeat accepted before, again (its nonce remembered), or an older one that cannot be told
   * from it (time not after the last accepted one, and not followed long enough to know every
   * accepted nonce): someone replayed what the bus carried. Refused; nothing is recorded.
   */
  | { verdict: 'replayed' };

export function judgeHeartbeat(
  heartbeat: Heartbeat,
  last: LastHeartbeat | undefined,
  expectedMeasurement: string | undefined,
): HeartbeatVerdict {
  if (last && heartbeat.counter <= last.counter) {
    if (last.nonces.includes(heartbeat.nonce)) return { verdict: 'replayed' };
    // Later than the last accepted, or never accepted while every accepted one is remembered: a
    // second holder of the key (a clone signing in step just before the device is the second case).
    return heartbeat.sentAt > last.sentAt || last.rememberedForWindow
      ? { verdict: 'violation', violation: 'counter-regression' }
      : { verdict: 'replayed' };
  }
  // Nothing expected (a device enrolled without a measurement): its reports cannot be judged, only followed.
  if (expectedMeasurement !== undefined && heartbeat.firmwareMeasurement !== expectedMeasurement)
    return { verdict: 'accepted', violation: 'measurement-mismatch' };
  return { verdict: 'accepted' };
}

/** Silence longer than the policy allows since the last heartbeat received. */
export function silentTooLong(
  lastReceivedAt: number,
  now: number,
  policy: { heartbeatPeriodSeconds: number; missedPeriods: number },
): boolean {
  return now - lastReceivedAt > policy.heartbeatPeriodSeconds * policy.missedPeriods * 1000;
}
