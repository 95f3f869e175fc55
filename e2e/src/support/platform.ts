/**
 * The platform in one process, as the e2e test, the demo and the onboarding bench run it: the
 * registry, the CA and the onboarding service on one NATS (isolated by a namespace; or, with
 * `envOf`, each on its own connection with its own user, as on the secured bus), plus a real
 * Mosquitto with the deploy/mosquitto settings (startMosquitto from @tunnelkey/testing), and the
 * operator's steps (policy + batch, import, verify, certify, register the broker, onboard).
 */
import 'reflect-metadata';
import { randomBytes, randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { brokerOnThisHost, serveBrokerAgent } from '@tunnelkey/broker-link';
import { connectNats, natsConnectionConfig, natsConnectionOptions } from '@tunnelkey/config';
import { inProcessCeremony, startCa, type RunningCa } from '@tunnelkey/ca';
import {
  CertifyDevices,
  CreateBatch,
  DefineServerPolicy,
  ImportIdentities,
  OnboardBatch,
  RegisterTarget,
  VerifyIdentity,
} from '@tunnelkey/contracts';
import { generatePlatformKey, type PlatformKey } from '@tunnelkey/device-protocol';
import type { Fleet } from '@tunnelkey/device-fleet';
import { CommandClient } from '@tunnelkey/messaging';
import {
  InMemoryTargetCredentialStore,
  InMemoryTargetSecrets,
  startOnboarding,
  type RunningOnboarding,
} from '@tunnelkey/onboarding';
import {
  buildCrl,
  buildRootCaCertificate,
  generateP256KeyPair,
  Kek,
  loadIssuer,
  WebCryptoSigner,
} from '@tunnelkey/pki';
import { startRegistry, type RunningRegistry } from '@tunnelkey/registry';
import type { Logger } from 'pino';
import {
  createBrokerServerIdentity,
  startMosquitto,
  type BrokerServerIdentity,
  type RunningMosquitto,
  freePort,
} from '@tunnelkey/testing';

/** The NATS users of the processes the platform starts (deploy/nats/nats.conf). */
export type PlatformUser = 'registry' | 'ca' | 'onboarding' | 'gateway' | 'broker_agent';

export type PlatformOptions = PlatformSettings &
  (
    | {
        /** One connection every service shares (a development server, isolated by the namespace). */
        nats: NatsConnection;
      }
    | {
        /**
         * The environment of each process (NATS_URL, NATS_USER, NATS_PASSWORD, NATS_TLS_*), as in
         * production: each service opens its own connection with its own user; the ceremony runs as
         * `ca`, the operator's commands go out as `gateway` (the only user that may send them).
         */
        envOf: (user: PlatformUser) => Record<string, string>;
      }
  );

interface PlatformSettings {
  namespace: string;
  logger: Logger;
  /** Onboarding's periodic telemetry counters (default 30 s). */
  telemetryIntervalMs?: number;
  /** Fixed HTTP ports (the demo prints them); default free ports. */
  ports?: { registry?: number; ca?: number; onboarding?: number };
  /** false: the registry and the CA only (provisioning, without a broker to onboard to). Default true. */
  onboarding?: boolean;
  /** The owners whose issuing CAs the ceremony signs (default: `ownerId` alone). */
  owners?: readonly string[];
}

export interface Platform {
  readonly registry: RunningRegistry;
  readonly ca: RunningCa;
  /** Throws when started with `onboarding: false`. */
  readonly onboarding: RunningOnboarding;
  /** Set by startBroker(). */
  readonly broker: RunningMosquitto;
  /**
   * Starts the local Mosquitto (deploy/mosquitto settings on free ports) trusting the issuing CA
   * chain the devices' certificates came with. Call once certificates exist.
   */
  /** A broker for the target: it trusts no one until onboarding installs the target's CA. */
  startBroker(id?: string): Promise<RunningMosquitto>;
  /** A broker startBroker(id) started. */
  brokerOf(id: string): RunningMosquitto;
  readonly serverIdentity: BrokerServerIdentity;
  readonly platformPublicKeySpki: Uint8Array;
  /** The platform key itself, for a service started beside the platform (the OTA service signs with it). */
  readonly platformKey: PlatformKey;
  readonly namespace: string;
  send<R>(command: { subject(namespace?: string): string }, payload: object, timeoutMs?: number): Promise<R>;
  /**
   * Stops the registry, the CA or onboarding and starts it again on the same log, keys and settings
   * (as a pod restart would; onboarding keeps its instance id and port); resolves when the new
   * instance is ready (its views rebuilt), with the time that took. `beforeStart` runs between the
   * stop and the start, untimed (a bench deletes the checkpoints the stop saved). `crash`: as a
   * SIGKILL would, the instance's NATS connection is closed first (nothing it does from then on
   * reaches the bus: no reply, no append, no checkpoint), then what is left of it is stopped.
   */
  restart(
    service: PlatformService,
    options?: { beforeStart?: () => Promise<unknown>; crash?: boolean },
  ): Promise<{ readyMs: number }>;
  /**
   * One more instance of the service beside the running ones, as a deployment's second replica: the
   * same log, keys and settings, its own connection, HTTP port (and onboarding instance id). They
   * share the work: commands and device messages are queue groups, reactions durables shared by name.
   */
  addReplica(service: PlatformService): Promise<void>;
  /** How many instances of the service run; `registry`, `ca`, `onboarding` name the first. */
  instances(service: PlatformService): number;
  /**
   * As a SIGKILL of one instance (`index` of `instances`), not started again: its NATS connection is
   * closed first (no reply, append, acknowledgement or checkpoint from then on), then what is left of
   * it stopped; the others carry on (the next one becomes the first).
   */
  crashInstance(service: PlatformService, index: number): Promise<void>;
  stop(): Promise<void>;
}

export type PlatformService = 'registry' | 'ca' | 'onboarding';

export const targetId = 'plant-broker';
/** The secret file holding the broker's admin password (never the password itself on the bus). */
export const adminPasswordFile = `${targetId}-admin`;
/** The admin password file of the broker of target `id`. */
export const adminPasswordFileOf = (id: string): string => `${id}-admin`;
/** The owner of the operator's batches: the ceremony signs its issuing CA at start. */
export const ownerId = 'acme';

/** Free loopback ports below the ephemeral range (@tunnelkey/testing's). */
export { freePort };

export async function startPlatform(options: PlatformOptions): Promise<Platform> {
  const { namespace, logger } = options;
  const stops: (() => Promise<void>)[] = [];
  /** Per service: the shared connection, or its own environment (it opens and closes its connection). */
  const natsOf = (user: PlatformUser) => ('nats' in options ? { nats: options.nats } : { env: options.envOf(user) });
  /** A connection as `user` the platform itself uses (ceremony, commands), closed at stop. */
  const connectionOf = async (user: PlatformUser, name: string): Promise<NatsConnection> => {
    if ('nats' in options) return options.nats;
    const nc = await connectNats(await natsConnectionOptions(natsConnectionConfig(options.envOf(user)), { name }));
    stops.push(() => nc.close());
    return nc;
  };
  const stop = async () => {
    for (const step of stops.reverse())
      await step().catch((error: unknown) => logger.warn({ error: String(error) }, 'stop step failed'));
    stops.length = 0;
  };
  try {
    const { key: platformKey } = await generatePlatformKey();
    const serverIdentity = await createBrokerServerIdentity();
    const brokers = new Map<string, RunningMosquitto>();
    const adminSecrets = new InMemoryTargetSecrets();
    const registryPort = options.ports?.registry ?? 0;
    /** Replica 0 on the configured ports; the others on free ones. */
    const startRegistryNow = (replica = 0) =>
      startRegistry({
        ...natsOf('registry'),
        namespace,
        platformKey,
        logger,
        nestLogger: ['error'],
        httpPort: replica === 0 ? registryPort : 0,
      });
    // Each service's running instances; the first is the one the platform's getters name.
    const running = {
      registry: [] as RunningRegistry[],
      ca: [] as RunningCa[],
      onboarding: [] as RunningOnboarding[],
    };
    const stopAll = (list: { stop(): Promise<void> }[]) => async () => {
      for (const instance of list.splice(0)) await instance.stop();
    };
    running.registry.push(await startRegistryNow());
    stops.push(stopAll(running.registry));
    const caPort = options.ports?.ca ?? (await freePort());
    const kek = await Kek.fromBytes(randomBytes(32));
    // The admin ceremony, in process (root key in memory, dropped after): the root and the issuing
    // CA of the owner the operator's batches use. The CA service creates no authority itself.
    const owners = [...(options.owners ?? [ownerId])];
    const ceremony = await inProcessCeremony({
      nats: await connectionOf('ca', 'ca-ceremony'),
      namespace,
      serviceKek: kek,
      owners,
      settings: { crlBaseUrl: `http://127.0.0.1:${caPort}/crl` },
      logger,
    });
    logger.info(
      { event: 'ca.ceremony', root: ceremony.root.fingerprintSha256, owners },
      'ceremony: root created offline, issuing CA signed',
    );
    const startCaNow = async (replica = 0) =>
      startCa({
        env: {},
        ...natsOf('ca'),
        namespace,
        platformKey,
        kek,
        logger,
        config: { httpPort: replica === 0 ? caPort : await freePort(), crlBaseUrl: `http://127.0.0.1:${caPort}/crl` },
      });
    running.ca.push(await startCaNow());
    stops.push(stopAll(running.ca));
    await running.registry[0]!.caSubscriptionStarted();
    // Onboarding installs only CA chains under the root it pins: the one this CA created at start.
    const trustedRootSha256 = (await running.ca[0]!.authority.root()).fingerprintSha256;
    const onboardingInstanceId = `demo-${randomBytes(3).toString('hex')}`;
    const onboardingPort = options.ports?.onboarding ?? (options.onboarding === false ? 0 : await freePort());
    // One KEK for every start: a restarted onboarding derives the same target CAs.
    const onboardingKek = await Kek.fromBytes(randomBytes(32));
    // How to reach the targets' admin API, kept across restarts as a deployment's database would
    // (the service's default store is in memory: a restart would forget the registered broker).
    const targetCredentials = new InMemoryTargetCredentialStore();
    const startOnboardingNow = async (replica = 0) =>
      startOnboarding({
        env: {},
        ...natsOf('onboarding'),
        namespace,
        platformKey,
        kek: onboardingKek,
        config: {
          httpPort: replica === 0 ? onboardingPort : await freePort(),
          instanceId: replica === 0 ? onboardingInstanceId : `${onboardingInstanceId}-${replica}`,
          trustedRootSha256,
          ...(options.telemetryIntervalMs ? { telemetryIntervalMs: options.telemetryIntervalMs } : {}),
        },
        serverCaPem: (id) => (id === targetId || brokers.has(id) ? serverIdentity.caPem : undefined),
        // The broker's admin password, as the platform team would mount it (registerBroker names it).
        secrets: adminSecrets,
        credentials: targetCredentials,
        logger,
      });
    if (options.onboarding !== false) running.onboarding.push(await startOnboardingNow());
    stops.push(stopAll(running.onboarding));
    const commands = new CommandClient(await connectionOf('gateway', 'operator-commands'));
    const startNow = (service: PlatformService, replica: number) =>
      service === 'registry'
        ? startRegistryNow(replica)
        : service === 'ca'
          ? startCaNow(replica)
          : startOnboardingNow(replica);
    const instancesOf = (service: PlatformService): { stop(): Promise<void>; service: { nats: NatsConnection } }[] => {
      if (service === 'onboarding' && options.onboarding === false) throw new Error('started with onboarding: false');
      return running[service];
    };
    /** Takes the instance out of the list and stops it: as a crash (its connection closed first) or gracefully. */
    const stopInstance = async (service: PlatformService, index: number, crash: boolean) => {
      const list = instancesOf(service);
      const [instance] = list.splice(index, 1);
      if (!instance) throw new Error(`no ${service} instance ${index}`);
      if (crash) {
        if ('nats' in options) throw new Error('a crash needs each service on its own connection (envOf)');
        await instance.service.nats.close();
        // Its stop fails where it needs the bus (drain, a last checkpoint): what a crash leaves undone.
        await instance.stop().catch(() => undefined);
      } else await instance.stop();
    };
    let replicasStarted = 0;
    return {
      get registry() {
        return running.registry[0]!;
      },
      get ca() {
        return running.ca[0]!;
      },
      async restart(service, restartOptions = {}) {
        await stopInstance(service, 0, restartOptions.crash === true);
        await restartOptions.beforeStart?.();
        const started = performance.now();
        const instance = await startNow(service, 0);
        (instancesOf(service) as unknown[]).unshift(instance);
        return { readyMs: performance.now() - started };
      },
      async addReplica(service) {
        const list = instancesOf(service) as unknown[];
        list.push(await startNow(service, ++replicasStarted));
      },
      instances: (service) => instancesOf(service).length,
      crashInstance: (service, index) => stopInstance(service, index, true),
      get onboarding() {
        const first = running.onboarding[0];
        if (!first) throw new Error('started with onboarding: false');
        return first;
      },
      get broker() {
        const broker = brokers.get(targetId);
        if (!broker) throw new Error('startBroker() first');
        return broker;
      },
      brokerOf(id) {
        const broker = brokers.get(id);
        if (!broker) throw new Error(`startBroker('${id}') first`);
        return broker;
      },
      async startBroker(id = targetId) {
        /*
         * A SIGHUP re-reads `cafile` only when the listener also has a `crlfile` (Mosquitto 2.0.11,
         * measured for issue 5), and every CA in the cafile needs its CRL there. So the broker starts
         * with a bootstrap CA (its key thrown away at once: it admits no one) and that CA's empty
         * CRL; onboarding replaces both with the target's own CA and CRL on its first install.
         */
        const bootstrap = await bootstrapTrust();
        const broker = await startMosquitto({
          tls: {
            caPem: bootstrap.caPem,
            certPem: serverIdentity.certPem,
            keyPem: serverIdentity.keyPem,
            crlPem: bootstrap.crlPem,
          },
        });
        const started = broker;
        brokers.set(id, started);
        adminSecrets.set(adminPasswordFileOf(id), started.admin.password);
        // Its agent beside it, on the bus as its own user (a sidecar's): onboarding reaches the broker over the network only.
        const agent = await serveBrokerAgent({
          nats: await connectionOf('broker_agent', 'broker-agent'),
          namespace,
          broker: brokerOnThisHost(id, { ...started, crlFile: started.crlFile! }),
        });
        stops.unshift(async () => {
          await agent.stop();
          await started.stop();
        });
        return started;
      },
      serverIdentity,
      platformPublicKeySpki: platformKey.publicKeySpki,
      platformKey,
      namespace,
      send: <R>(command: { subject(namespace?: string): string }, payload: object, timeoutMs = 60_000) =>
        commands.request<R>(command.subject(namespace), { commandId: randomUUID(), ...payload }, { timeoutMs }),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A self-signed CA whose key is dropped at once, and its empty CRL: what a broker starts with. */
async function bootstrapTrust(): Promise<{ caPem: string; crlPem: string }> {
  const signer = await WebCryptoSigner.fromKeyPair(await generateP256KeyPair());
  const now = Date.now();
  const ca = await buildRootCaCertificate({
    subject: { commonName: 'bootstrap (admits no one)', organization: 'tunnelkey' },
    signer,
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 30 * 24 * 3600_000),
    pathLength: 0,
  });
  const crl = await buildCrl({
    issuer: loadIssuer({ certificate: ca.der, signer }),
    thisUpdate: new Date(now - 3600_000),
    nextUpdate: new Date(now + 30 * 24 * 3600_000),
    crlNumber: 1n,
    revoked: [],
  });
  return { caPem: ca.pem, crlPem: crl.pem };
}

export type Progress = (done: number, total: number) => void;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `count` until it reaches `total` (progress on every change); fails after `stallMs` without progress. */
export async function until(
  what: string,
  count: () => number | Promise<number>,
  total: number,
  progress: Progress = () => undefined,
  stallMs = 120_000,
): Promise<void> {
  let last = -1;
  let lastChange = Date.now();
  for (;;) {
    const now = await count();
    if (now !== last) {
      last = now;
      lastChange = Date.now();
      progress(now, total);
    }
    if (now >= total) return;
    if (Date.now() - lastChange > stallMs) throw new Error(`${what}: stuck at ${now}/${total} for ${stallMs / 1000} s`);
    await sleep(100);
  }
}

/** The operator's steps up to certified devices: policy, batch, import (<= 2,500 rows per call), verify, certify. */
export const operator = {
  /** `owner` (default `ownerId`) and the target its policy names (default the plant broker). */
  async defineBatch(
    platform: Platform,
    batchId: string,
    size: number,
    options: { owner?: string; target?: string } = {},
  ): Promise<void> {
    const policyId = `fridge-policy-${batchId}`;
    const owner = options.owner ?? ownerId;
    await platform.send(DefineServerPolicy, {
      policyId,
      name: 'Fridges to the plant broker',
      targetIds: [options.target ?? targetId],
      ownerId: owner,
      topicRights: [
        { topic: 'fridges/{deviceId}/telemetry', access: 'publish' },
        { topic: 'fridges/{deviceId}/commands/#', access: 'subscribe' },
      ],
      certificateLifetimeDays: 365,
    });
    await platform.send(CreateBatch, {
      batchId,
      name: `${size} fridges`,
      policyId,
      ownerId: owner,
      expectedSize: size,
    });
  },

  async importIdentities(
    platform: Platform,
    fleet: Pick<Fleet, 'identityFile'>,
    batchId: string,
    progress?: Progress,
  ): Promise<{ accepted: number; rejected: number }> {
    const rows = JSON.parse(fleet.identityFile('json')) as unknown[];
    const total = { accepted: 0, rejected: 0 };
    for (let i = 0; i < rows.length; i += 2_500) {
      const report = await platform.send<{ accepted: number; rejected: number }>(ImportIdentities, {
        batchId,
        importId: `import-${i}`,
        source: { format: 'json', rows: rows.slice(i, i + 2_500) },
      });
      total.accepted += report.accepted;
      total.rejected += report.rejected;
      progress?.(Math.min(rows.length, i + 2_500), rows.length);
    }
    return total;
  },

  /** `timeoutMs`: how long the command's reply may take (a batch of 100,000 is under way only after minutes). */
  async verify(platform: Platform, batchId: string, size: number, progress?: Progress, timeoutMs?: number) {
    await platform.send(VerifyIdentity, { scope: { kind: 'batch', batchId } }, timeoutMs);
    await until(
      'identities verified',
      () => platform.registry.readModel.batchSummary(batchId)?.byStatus.Verified ?? 0,
      size,
      progress,
    );
  },

  async certify(platform: Platform, batchId: string, size: number, progress?: Progress, timeoutMs?: number) {
    await platform.send(CertifyDevices, { scope: { kind: 'batch', batchId }, keyId: 'tls-0' }, timeoutMs);
    await until(
      'devices certified',
      () => platform.registry.readModel.batchSummary(batchId)?.byStatus.Certified ?? 0,
      size,
      progress,
    );
  },

  /** Import, verify and certify a defined batch: every row must be accepted. */
  async certifyFleet(
    platform: Platform,
    fleet: Pick<Fleet, 'identityFile'>,
    batchId: string,
    size: number,
    timeoutMs?: number,
  ) {
    const report = await operator.importIdentities(platform, fleet, batchId);
    if (report.accepted !== size)
      throw new Error(
        `imported ${report.accepted} of ${size} identities into ${batchId} (${report.rejected} rejected)`,
      );
    await operator.verify(platform, batchId, size, undefined, timeoutMs);
    await operator.certify(platform, batchId, size, undefined, timeoutMs);
  },

  /** The broker startBroker(id) started, as target `id` of `owner` (default: the plant broker of `ownerId`). */
  registerBroker(platform: Platform, id = targetId, owner = ownerId): Promise<unknown> {
    const broker = platform.brokerOf(id);
    return platform.send(RegisterTarget, {
      targetId: id,
      kind: 'mosquitto',
      name: id === targetId ? 'Plant broker (local Mosquitto)' : `${id} (local Mosquitto)`,
      host: '127.0.0.1',
      tlsPort: broker.tlsPort,
      ownerId: owner,
      admin: { username: broker.admin.username, passwordFile: adminPasswordFileOf(id), port: broker.adminPort },
    });
  },

  /**
   * OnboardBatch; the progress is the devices that hold their connection parameters. With `failed`
   * (DeviceOnboardingFailed seen, e.g. OnboardingWatch.counts.onboardingFailed) it ends as soon as
   * every device either holds its parameters or failed, and throws if any failed.
   */
  async onboard(
    platform: Platform,
    fleet: Fleet,
    batchId: string,
    size: number,
    progress?: Progress,
    failed: () => number = () => 0,
  ): Promise<void> {
    await platform.send(OnboardBatch, { batchId });
    const configured = () => fleet.stats().byState.configured;
    await until(
      'devices onboarded',
      () => configured() + failed(),
      size,
      (_d, t) => progress?.(configured(), t),
      300_000,
    );
    if (failed() > 0)
      throw new Error(
        `${failed()} of ${size} devices failed onboarding (DeviceOnboardingFailed in the onboarding log says why)`,
      );
  },
};
