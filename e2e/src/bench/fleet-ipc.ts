/** What a bench and its fleet process (fleet-process.ts) say to each other, and the bench's side of it. */
import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { FleetStats, HeartbeatStats, IntegrityFault, MqttLinkEvent } from '@tunnelkey/device-fleet';
import { operator, until, type Platform } from '../support/platform.js';
import type { RawConnectResult } from './raw-mqtt-clients.js';

export type FleetRequest =
  | {
      type: 'manufacture';
      natsUrl: string;
      namespace: string;
      size: number;
      seedBase: string;
      /** Base64 DER SPKI of the platform's downlink key, which the devices pin. */
      platformPublicKeySpki: string;
      hardwareThreads: number;
    }
  | { type: 'stats' }
  /** Connects every onboarded device (Fleet.connect); its link events come back as `links` messages. */
  | { type: 'connect'; telemetryIntervalMs: number; concurrency: number }
  | { type: 'devices' }
  /** Every device sends a heartbeat each period from now on (Fleet.heartbeats). */
  | { type: 'heartbeats'; periodMs: number }
  /** An integrity fault played on each device named. */
  | { type: 'inject'; deviceIds: string[]; fault: IntegrityFault }
  | { type: 'heartbeat-stats' }
  /** bench:onboard's baseline (raw-mqtt-clients.ts): keys derived, not timed; then connected; then ended. */
  | { type: 'raw-prepare'; targetId: string }
  | { type: 'raw-connect'; concurrency: number }
  | { type: 'raw-end' }
  | { type: 'stop' };

export type FleetReply =
  | { type: 'manufactured'; identityFileJson: string }
  | { type: 'stats'; byState: Record<string, number>; mqtt: FleetStats['mqtt'] }
  | { type: 'connecting'; started: number }
  | { type: 'devices'; deviceIds: string[] }
  | { type: 'heartbeating' }
  /** `at`: the fleet process's Date.now() once every fault was played. */
  | { type: 'injected'; at: number }
  | { type: 'heartbeat-stats'; stats: HeartbeatStats }
  | { type: 'raw-prepared'; clients: number }
  | ({ type: 'raw-connected' } & RawConnectResult)
  | { type: 'raw-ended' }
  | { type: 'stopped' }
  | { type: 'failed'; message: string };

/** Link events, sent unasked in batches (one IPC message per ~50 ms, not one per event). */
export interface FleetLinks {
  type: 'links';
  events: MqttLinkEvent[];
}

/** The fleet process, one request at a time. */
export class FleetProcess {
  readonly #child: ChildProcess;
  #exited = false;
  #onLinks: ((events: readonly MqttLinkEvent[]) => void) | undefined;

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.once('exit', () => (this.#exited = true));
    child.on('message', (message: FleetReply | FleetLinks) => {
      if (message.type === 'links') this.#onLinks?.(message.events);
    });
  }

  /** Where the link events of `connect` go (timestamps are the fleet process's `Date.now()`). */
  onLinks(listener: (events: readonly MqttLinkEvent[]) => void): void {
    this.#onLinks = listener;
  }

  /** `profileDir`: the fleet process writes its whole CPU profile there when it stops (node --cpu-prof). */
  static start(options: { profileDir?: string } = {}): FleetProcess {
    const script = fileURLToPath(new URL('./fleet-process.js', import.meta.url));
    const execArgv = options.profileDir ? ['--cpu-prof', '--cpu-prof-dir', options.profileDir] : [];
    return new FleetProcess(fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv }));
  }

  get pid(): number {
    return this.#child.pid!;
  }

  /** Manufactures the devices (their PUF enrolment, on the fleet's NATS connection); returns their identity file. */
  async manufacture(options: {
    natsUrl: string;
    namespace: string;
    size: number;
    seedBase: string;
    /** DER SPKI of the platform's downlink key, which the devices pin. */
    platformPublicKeySpki: Uint8Array;
    hardwareThreads: number;
  }): Promise<string> {
    const platformPublicKeySpki = Buffer.from(options.platformPublicKeySpki).toString('base64');
    const reply = await this.request({ type: 'manufacture', ...options, platformPublicKeySpki }, 'manufactured');
    return reply.identityFileJson;
  }

  /** Devices holding their connection parameters (onboarded): what the benches wait for after OnboardBatch. */
  async onboarded(): Promise<number> {
    return (await this.request({ type: 'stats' }, 'stats')).byState['configured'] ?? 0;
  }

  request<T extends FleetReply['type']>(request: FleetRequest, expected: T): Promise<Extract<FleetReply, { type: T }>> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) =>
        reject(new Error(`the fleet process exited (${code}) during ${request.type}`));
      const onMessage = (message: FleetReply | FleetLinks) => {
        if (message.type === 'links') return;
        this.#child.off('exit', onExit);
        this.#child.off('message', onMessage);
        if (message.type === expected) resolve(message as Extract<FleetReply, { type: T }>);
        else reject(new Error(message.type === 'failed' ? message.message : `unexpected ${message.type}`));
      };
      this.#child.once('exit', onExit);
      this.#child.on('message', onMessage);
      this.#child.send(request);
    });
  }

  async stop(): Promise<void> {
    if (this.#exited) return;
    await this.request({ type: 'stop' }, 'stopped').catch(() => this.#child.kill('SIGKILL'));
  }
}

/**
 * A batch of `size` devices from `fleet`, manufactured, imported, verified and certified: the
 * set-up of the benches that measure what happens to certified devices. Returns the identity
 * file and how long the certify phase took (a bench compares its own rate with it).
 */
export async function certifiedBatch<Sample = undefined>(
  platform: Platform,
  fleet: FleetProcess,
  options: {
    natsUrl: string;
    namespace: string;
    batchId: string;
    size: number;
    seedBase: string;
    /** Threads standing for the devices' silicon (default cores - 1, at least 1). */
    hardwareThreads?: number;
  },
  /** Taken at the certify phase's start and end (e.g. CPU time per process), returned as they were. */
  sample?: () => Sample,
): Promise<{ identityFileJson: string; certifySeconds: number; certifySamples?: { from: Sample; to: Sample } }> {
  const { batchId, size } = options;
  const identityFileJson = await fleet.manufacture({
    natsUrl: options.natsUrl,
    namespace: options.namespace,
    size,
    seedBase: options.seedBase,
    platformPublicKeySpki: platform.platformPublicKeySpki,
    hardwareThreads: options.hardwareThreads ?? Math.max(1, availableParallelism() - 1),
  });
  await operator.defineBatch(platform, batchId, size);
  await operator.importIdentities(platform, { identityFile: () => identityFileJson }, batchId);
  await operator.verify(platform, batchId, size, undefined, setupTimeoutMs);
  const from = sample?.();
  const certifyStarted = performance.now();
  await operator.certify(platform, batchId, size, undefined, setupTimeoutMs);
  // Ended as bench:provision ends its certify phase: once the devices hold their certificates too
  // (the registry may count one a moment before), as a renewal ends once the device has used its.
  const held = async () => (await fleet.request({ type: 'stats' }, 'stats')).byState['certified'] ?? 0;
  await until('certificates held by the devices', held, size, undefined, 10_000);
  const certifySeconds = (performance.now() - certifyStarted) / 1000;
  const to = sample?.();
  return { identityFileJson, certifySeconds, ...(sample ? { certifySamples: { from: from!, to: to! } } : {}) };
}

/** How long a bench's untimed set-up step may take. */
export const setupTimeoutMs = 600_000;
