import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';

/**
 * How long a JetStream API request that creates or looks up a stream or bucket may take. Creating
 * a replicated one on a busy cluster takes seconds: nats.js's 5 s default failed services' starts on
 * the 3-node test cluster (a gateway exited with a bare `TimeoutError` one run in five).
 */
export const jetStreamSetupTimeoutMs = 15_000;

/** A JetStream client for bucket managers (`new Kvm(...)`, `new Objm(...)`): set-up waits `jetStreamSetupTimeoutMs`. */
export const jetStreamForSetup = (nc: NatsConnection): JetStreamClient =>
  jetstream(nc, { timeout: jetStreamSetupTimeoutMs });

/** A stream manager whose requests wait `jetStreamSetupTimeoutMs`. */
export const jetStreamManagerForSetup = (nc: NatsConnection): Promise<JetStreamManager> =>
  jetstreamManager(nc, { timeout: jetStreamSetupTimeoutMs });

/** Where a bucket's stream lives: on `replicas` servers of a cluster (JETSTREAM_REPLICAS; 1 on a single server). */
export interface BucketPlacement {
  replicas?: number;
}

/**
 * A bucket's options for its placement. On a replicated bucket, gets go to the bucket's leader: a
 * direct get may be answered by a replica that has not applied the newest put yet (a token just
 * issued not found), as the event store's reads do. One server keeps direct gets.
 */
export const bucketOptions = ({ replicas = 1 }: BucketPlacement) => ({ replicas, allow_direct: replicas === 1 });
