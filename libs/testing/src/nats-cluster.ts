/**
 * A 3-node NATS JetStream cluster on loopback for tests: three nats-server processes, each with
 * its own client port, route port and store directory, routed to each other. `kill(i)` is a
 * SIGKILL of one node (no lame duck, no flush): what a lost machine does to the cluster.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats } from '@tunnelkey/config';
import { freePorts } from './free-ports.js';
import { waitFor } from './wait-for.js';

export interface NatsClusterNode {
  readonly name: string;
  /** nats://127.0.0.1:<client port> */
  readonly url: string;
  readonly alive: boolean;
}

export interface NatsCluster {
  readonly nodes: readonly NatsClusterNode[];
  /** The temp directory (configurations, stores, logs), removed by stop(). */
  readonly dir: string;
  /** SIGKILL of node `index`; resolves once its process is gone. */
  kill(index: number): Promise<void>;
  /** Each node's log so far. */
  log(index: number): string;
  stop(): Promise<void>;
}

/** Starts the three nodes and resolves once JetStream answers on each and an R3 stream can be placed. */
export async function startNatsCluster(
  options: { binary?: string; name?: string; startTimeoutMs?: number } = {},
): Promise<NatsCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'tk-nats-cluster-'));
  const binary = options.binary ?? process.env['NATS_SERVER_BIN'] ?? 'nats-server';
  const [c1, c2, c3, r1, r2, r3] = await freePorts(6);
  const clients = [c1!, c2!, c3!];
  const routes = [r1!, r2!, r3!];
  const processes: ChildProcess[] = [];
  const logs = ['', '', ''];
  const nodes = clients.map((port, i) => ({ name: `n${i + 1}`, url: `nats://127.0.0.1:${port}`, alive: true }));
  const stop = async () => {
    await Promise.all(processes.map((_, i) => kill(i)));
    await rm(dir, { recursive: true, force: true });
  };
  const kill = async (index: number) => {
    const child = processes[index];
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    nodes[index]!.alive = false;
  };
  try {
    for (const [i, node] of nodes.entries()) {
      const store = join(dir, node.name);
      await mkdir(store);
      const conf = [
        `server_name: ${node.name}`,
        `listen: 127.0.0.1:${clients[i]}`,
        `jetstream { store_dir: "${store}" }`,
        `cluster {`,
        `  name: ${options.name ?? 'tk-test'}`,
        `  listen: 127.0.0.1:${routes[i]}`,
        `  routes: [${routes.map((r) => `nats://127.0.0.1:${r}`).join(', ')}]`,
        `}`,
      ].join('\n');
      const file = join(dir, `${node.name}.conf`);
      await writeFile(file, `${conf}\n`);
      const child = spawn(binary, ['-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.on('data', (chunk: Buffer) => (logs[i] += chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => (logs[i] += chunk.toString()));
      processes.push(child);
    }
    // JetStream answers on every node once the cluster has a meta leader.
    for (const node of nodes) {
      await waitFor(
        async () => {
          const nc = await connectNats({ servers: node.url, maxReconnectAttempts: 0 });
          try {
            await (await jetstreamManager(nc)).getAccountInfo();
            return true;
          } finally {
            await nc.close();
          }
        },
        { timeoutMs: options.startTimeoutMs ?? 30_000, intervalMs: 250, description: `JetStream on ${node.name}` },
      );
    }
    // A meta leader is not yet every peer: an R3 stream is refused ("no suitable peers for
    // placement") until all three have joined the meta group. A probe stream placed on three is.
    await waitFor(
      async () => {
        const nc = await connectNats({ servers: nodes.map((n) => n.url), maxReconnectAttempts: 0 });
        try {
          const jsm = await jetstreamManager(nc);
          await jsm.streams.add({ name: 'TK_CLUSTER_PROBE', subjects: ['tk.cluster.probe'], num_replicas: 3 });
          await jsm.streams.delete('TK_CLUSTER_PROBE');
          return true;
        } finally {
          await nc.close();
        }
      },
      { timeoutMs: options.startTimeoutMs ?? 30_000, intervalMs: 250, description: 'three peers for an R3 stream' },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { nodes, dir, kill, log: (index) => logs[index] ?? '', stop };
}
