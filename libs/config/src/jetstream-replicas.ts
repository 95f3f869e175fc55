/**
 * Replicas of the event log's streams and KV buckets: 1 on a single NATS server, 3 on a 3-node
 * JetStream cluster (a node lost loses no event). Read by every service at start (startService),
 * as METRICS_TOKEN is: one deployment-wide setting, not a service's own.
 */
import { defineConfig, integer, type Env } from './config-schema.js';

export const jetStreamReplicasSchema = defineConfig({
  replicas: integer(
    'JETSTREAM_REPLICAS',
    1,
    'Replicas of the streams and KV buckets a service creates (3 on a 3-node JetStream cluster)',
    { min: 1, max: 5 },
  ),
});

export const jetStreamReplicasFromEnv = (env: Env = process.env): number => jetStreamReplicasSchema.read(env).replicas;
