import { JetStreamApiError, type StreamConfig } from '@nats-io/jetstream';

/** The stream (or the consumer) does not exist. */
export function isNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && (error.code === 10059 || error.code === 10014);
}

/** True when the stream already has every setting of `wanted` (the server fills in the rest). */
export function sameStreamConfig(existing: StreamConfig, wanted: Partial<StreamConfig>): boolean {
  return Object.entries(wanted).every(
    ([key, value]) => JSON.stringify(existing[key as keyof StreamConfig]) === JSON.stringify(value),
  );
}
