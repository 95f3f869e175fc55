import { Inject, Injectable } from '@nestjs/common';
import { METRICS_REGISTRY } from '@tunnelkey/messaging';
import { Counter, Histogram, type Registry } from 'prom-client';

/** Prometheus figures an operator watches during provisioning. */
@Injectable()
export class RegistryMetrics {
  readonly importRows: Counter<'status'>;
  readonly importDuration: Histogram;
  readonly deviceMessages: Counter<'kind' | 'outcome'>;
  readonly challengesIssued: Counter;
  readonly uplinksDropped: Counter<'reason'>;
  readonly heartbeats: Counter<'outcome'>;

  constructor(@Inject(METRICS_REGISTRY) registry: Registry) {
    this.importRows = new Counter({
      name: 'registry_import_rows_total',
      help: 'Identity rows imported, by outcome',
      labelNames: ['status'],
      registers: [registry],
    });
    this.importDuration = new Histogram({
      name: 'registry_import_duration_seconds',
      help: 'Duration of ImportIdentities calls',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
      registers: [registry],
    });
    this.deviceMessages = new Counter({
      name: 'registry_device_messages_total',
      help: 'Device messages handled, by kind and outcome',
      labelNames: ['kind', 'outcome'],
      registers: [registry],
    });
    this.uplinksDropped = new Counter({
      name: 'registry_uplinks_dropped_total',
      help: 'Device messages dropped without an answer, by reason (rate-limited, unverified-<code>, hold-full)',
      labelNames: ['reason'],
      registers: [registry],
    });
    this.heartbeats = new Counter({
      name: 'registry_heartbeats_total',
      help: 'Device heartbeats, by outcome (accepted, violation, replayed, unmonitored, or the verifier refusal: bad-signature, stale, ...)',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.challengesIssued = new Counter({
      name: 'registry_identity_challenges_total',
      help: 'Identity challenges sent to devices',
      registers: [registry],
    });
  }
}
