import { jetstream, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { jetStreamManagerForSetup } from './jetstream-setup.js';
import type { ParkedEvent, ParkedEventStore } from '@tunnelkey/eventstore';
import { isNotFound, sameStreamConfig } from './stream-config.js';

const h = {
  stream: 'Tk-Parked-Stream',
  subject: 'Tk-Parked-Subject',
  sequence: 'Tk-Parked-Sequence',
  type: 'Tk-Parked-Type',
  version: 'Tk-Parked-Version',
  reason: 'Tk-Parked-Reason',
  foundBy: 'Tk-Parked-Found-By',
  parkedAt: 'Tk-Parked-At',
} as const;

/**
 * Parked events in their own stream (`PARKED`, or `<NS>_PARKED`; subjects `[<ns>.]parked.>`):
 * the original bytes as the body, what was wrong in headers. The message id `<stream>:<sequence>`
 * makes parking the same event twice (two consumers, a redelivery) a no-op within the window.
 */
export class JetStreamParkedEventStore implements ParkedEventStore {
  readonly streamName: string;
  readonly #subjectPrefix: string;
  readonly #js: JetStreamClient;

  constructor(
    private readonly nc: NatsConnection,
    namespace = '',
    private readonly duplicateWindowMs = 120_000,
    /** Replicas of the stream when it is created or updated (a JetStream cluster: 3). */
    private readonly replicas = 1,
  ) {
    this.streamName = namespace ? `${namespace.toUpperCase()}_PARKED` : 'PARKED';
    this.#subjectPrefix = namespace ? `${namespace}.parked` : 'parked';
    this.#js = jetstream(nc);
  }

  async ensureStream(jsm?: JetStreamManager): Promise<void> {
    const manager = jsm ?? (await jetStreamManagerForSetup(this.nc));
    const config = {
      name: this.streamName,
      subjects: [`${this.#subjectPrefix}.>`],
      storage: 'file' as const,
      duplicate_window: this.duplicateWindowMs * 1_000_000,
      allow_direct: true,
      num_replicas: this.replicas,
    };
    const existing = await manager.streams.info(this.streamName).then(
      (info) => info.config,
      (error: unknown) => (isNotFound(error) ? undefined : Promise.reject(error)),
    );
    // Only when it differs: every service runs this at start, and on a secured bus only the
    // services that park events may update the stream (deploy/nats).
    if (!existing) await manager.streams.add(config);
    else if (!sameStreamConfig(existing, config)) await manager.streams.update(this.streamName, config);
  }

  async park(event: ParkedEvent): Promise<boolean> {
    const hdrs = headers();
    hdrs.set(h.stream, event.stream);
    hdrs.set(h.subject, event.subject);
    hdrs.set(h.sequence, String(event.sequence));
    hdrs.set(h.type, event.type);
    if (event.version !== undefined) hdrs.set(h.version, String(event.version));
    hdrs.set(h.reason, event.reason.replace(/[\r\n]+/g, ' ').slice(0, 1000));
    hdrs.set(h.foundBy, event.foundBy);
    hdrs.set(h.parkedAt, event.parkedAt);
    const subjectToken = event.stream.toLowerCase().replace(/[^a-z0-9_-]/g, '_');
    const ack = await this.#js.publish(`${this.#subjectPrefix}.${subjectToken}`, event.payload, {
      msgID: `${event.stream}:${event.sequence}`,
      headers: hdrs,
    });
    return !ack.duplicate;
  }

  async list(): Promise<ParkedEvent[]> {
    const jsm = await jetStreamManagerForSetup(this.nc);
    const parked: ParkedEvent[] = [];
    for (let seq = 1; ; ) {
      const msg = await jsm.direct.getMessage(this.streamName, { seq, next_by_subj: `${this.#subjectPrefix}.>` });
      if (!msg) break;
      const g = (k: string) => msg.header.get(k);
      parked.push({
        stream: g(h.stream),
        subject: g(h.subject),
        sequence: Number(g(h.sequence)),
        type: g(h.type),
        version: g(h.version) ? Number(g(h.version)) : undefined,
        reason: g(h.reason),
        foundBy: g(h.foundBy),
        parkedAt: g(h.parkedAt),
        payload: msg.data,
      });
      seq = msg.seq + 1;
    }
    return parked;
  }
}
