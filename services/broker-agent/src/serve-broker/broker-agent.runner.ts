/**
 * The agent's one job, on the bus for its broker: installs of its trust answered (files written,
 * broker reloaded, reload confirmed from its log) and the connections its broker logs reported,
 * with the metrics and log lines an operator reads. The mechanics are @tunnelkey/broker-link's, so
 * a test or a one-process demo runs the very same agent beside its broker.
 */
import { readFileSync } from 'node:fs';
import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { brokerOnThisHost, serveBrokerAgent, type RunningBrokerAgent } from '@tunnelkey/broker-link';
import { METRICS_REGISTRY, NATS_CONNECTION, READINESS_CHECKS, type ReadinessRegistry } from '@tunnelkey/messaging';
import type { Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { BrokerAgentConfig } from '../config.js';
import { BROKER_AGENT_CONFIG, BROKER_AGENT_LOGGER } from '../tokens.js';

@Injectable()
export class BrokerAgentRunner implements OnModuleInit, OnModuleDestroy {
  #running: RunningBrokerAgent | undefined;
  readonly #installs: Histogram<'outcome'>;
  readonly #facts: Counter;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nats: NatsConnection,
    @Inject(BROKER_AGENT_CONFIG) private readonly config: BrokerAgentConfig,
    @Inject(BROKER_AGENT_LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) metrics: Registry,
    @Inject(READINESS_CHECKS) readiness: ReadinessRegistry,
  ) {
    this.#installs = new Histogram({
      name: 'broker_agent_trust_installs_seconds',
      help: 'Trust installs answered (files written, broker reloaded) by outcome (ok, refused, unreachable), latency',
      labelNames: ['outcome'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [metrics],
    });
    this.#facts = new Counter({
      name: 'broker_agent_connection_facts_total',
      help: 'Connections and disconnections read from the broker log and published on the bus',
      registers: [metrics],
    });
    readiness.add({ name: 'agent', ready: () => this.#running !== undefined });
    readiness.add({ name: 'broker', ready: () => brokerRunning(this.config.pidFile) });
  }

  async onModuleInit(): Promise<void> {
    const { config, logger } = this;
    this.#running = await serveBrokerAgent({
      nats: this.nats,
      namespace: config.namespace,
      broker: {
        ...brokerOnThisHost(config.brokerId, config),
        reloadTimeoutMs: config.reloadTimeoutMs,
      },
      onInstalled: (outcome, seconds, detail) => {
        this.#installs.observe({ outcome }, seconds);
        const entry = { event: 'broker_agent.trust_installed', brokerId: config.brokerId, outcome, ms: seconds * 1000 };
        if (outcome === 'ok') logger.info(entry, 'broker reloaded with the trust it was sent');
        else logger.warn({ ...entry, detail }, 'trust not installed');
      },
      onFactPublished: () => this.#facts.inc(),
      reportEveryMs: config.connectionsReportMs,
    });
    logger.info(
      { event: 'broker_agent.serving', brokerId: config.brokerId, subject: this.#running.subjects.applyTrust },
      'broker agent serving',
    );
  }

  async onModuleDestroy(): Promise<void> {
    await this.#running?.stop();
    this.#running = undefined;
  }
}

/** The broker's pid file names a live process (signal 0 checks without sending anything). */
function brokerRunning(pidFile: string): boolean {
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 1) return false;
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
