/**
 * The simulated devices' own hardware. A real device reconstructs its key on its own silicon, in
 * parallel with every other device; a simulator that did it on the fleet's thread would charge
 * every device's PUF work to the platform it talks to (in one process, the same event loop). A
 * small pool of worker threads does the devices' PUF reads, fuzzy-extractor reconstructions and
 * P-256 derivations instead, and posts back the non-extractable CryptoKeys (they stay
 * non-extractable across postMessage). Each job is one fresh reconstruction: nothing is cached.
 *
 * Its threads run at the lowest CPU priority (nice 19 on Linux): on a machine shared with the
 * platform, the devices' silicon work does not take cycles from the platform and the broker.
 *
 * The read itself is reserved on the device's thread (`PufDevice.reserveRead`), so a device reads
 * exactly the bits, and derives exactly the keys, it would have in-thread.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  HelperDataFormatError,
  InvalidPufParameterError,
  KeyCheckMismatchError,
  KeyReconstructionError,
  type DerivedKeyPair,
  type KeyContext,
  type OperatingConditions,
  type PufRead,
} from '@tunnelkey/puf';
import { DeviceHardwareError, InvalidFleetOptionError } from '../errors.js';
import type { DescribedError, HardwareJob, HardwareReply } from './hardware-messages.js';

/** Where a device's PUF reads and key derivations run (SimulatedDevice option `hardware`). */
export interface DeviceHardware {
  deriveKeys(
    read: PufRead,
    contexts: readonly KeyContext[],
    helperData: Uint8Array,
    at: Partial<OperatingConditions>,
  ): Promise<DerivedKeyPair[]>;
}

interface Pending {
  resolve(pairs: DerivedKeyPair[]): void;
  reject(error: Error): void;
}

interface Lane {
  worker: Worker;
  pending: Map<number, Pending>;
}

const pufErrors = {
  PUF_RECONSTRUCTION_FAILED: KeyReconstructionError,
  PUF_KEY_CHECK_MISMATCH: KeyCheckMismatchError,
  PUF_HELPER_DATA_FORMAT: HelperDataFormatError,
  PUF_INVALID_PARAMETER: InvalidPufParameterError,
} as const;

/** The PUF's typed errors come back as themselves (callers tell a tampered helper data by them); anything else as DeviceHardwareError. */
function rebuild(described: DescribedError): Error {
  const PufErrorClass = described.code ? pufErrors[described.code as keyof typeof pufErrors] : undefined;
  if (PufErrorClass) return new PufErrorClass(described.message, described.context);
  return new DeviceHardwareError(`device hardware failed: ${described.message}`, {
    error: described.name,
    ...(described.code ? { errorCode: described.code } : {}),
  });
}

/** The built worker: next to this module in dist/, or dist/'s when running from sources (tests). */
function workerScript(): URL {
  const candidates = [
    new URL('./device-hardware-worker.js', import.meta.url),
    new URL('../../dist/hardware/device-hardware-worker.js', import.meta.url),
  ];
  const found = candidates.find((url) => existsSync(fileURLToPath(url)));
  if (!found)
    throw new DeviceHardwareError(
      'the device-hardware worker is not built: run `npx nx run @tunnelkey/device-fleet:build`',
      { looked: candidates.map((u) => fileURLToPath(u)).join(', ') },
    );
  return found;
}

export class DeviceHardwarePool implements DeviceHardware {
  readonly #lanes: Lane[] = [];
  readonly #script: URL;
  #nextId = 0;
  #closed = false;

  constructor(threads: number) {
    if (!Number.isInteger(threads) || threads < 1)
      throw new InvalidFleetOptionError('hardware threads must be a positive integer', { threads });
    this.#script = workerScript();
    for (let i = 0; i < threads; i++) this.#lanes.push(this.#spawn());
  }

  /** Threads running: as many as asked for until `close()`, then 0. */
  get threads(): number {
    return this.#lanes.length;
  }

  /** Jobs posted and not answered yet, over all threads. */
  get pending(): number {
    return this.#lanes.reduce((n, lane) => n + lane.pending.size, 0);
  }

  deriveKeys(
    read: PufRead,
    contexts: readonly KeyContext[],
    helperData: Uint8Array,
    at: Partial<OperatingConditions>,
  ): Promise<DerivedKeyPair[]> {
    if (this.#closed) return Promise.reject(new DeviceHardwareError('the device hardware pool is closed'));
    const lane = this.#lanes.reduce((best, l) => (l.pending.size < best.pending.size ? l : best));
    const id = ++this.#nextId;
    return new Promise<DerivedKeyPair[]>((resolve, reject) => {
      if (lane.pending.size === 0) lane.worker.ref();
      lane.pending.set(id, { resolve, reject });
      lane.worker.postMessage({ id, read, contexts, helperData, at } satisfies HardwareJob);
    });
  }

  /** Stops every thread; jobs still running are refused with DeviceHardwareError. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const lanes = this.#lanes.splice(0);
    await Promise.all(lanes.map((lane) => lane.worker.terminate()));
    for (const lane of lanes) this.#fail(lane, 'the device hardware pool closed while the job ran');
  }

  #spawn(): Lane {
    const worker = new Worker(this.#script);
    const lane: Lane = { worker, pending: new Map() };
    // Idle threads must not keep the process alive; a thread with jobs in flight does.
    worker.unref();
    worker.on('message', (reply: HardwareReply) => {
      const job = lane.pending.get(reply.id);
      if (!job) return;
      lane.pending.delete(reply.id);
      if (lane.pending.size === 0) worker.unref();
      if ('pairs' in reply) job.resolve(reply.pairs);
      else job.reject(rebuild(reply.error));
    });
    worker.on('error', (error) => this.#fail(lane, `device hardware thread failed: ${error.message}`));
    worker.on('exit', (exitCode) => {
      if (this.#closed) return;
      this.#fail(lane, `device hardware thread exited (code ${exitCode})`);
      // Replace it: the devices it served still need their hardware.
      const index = this.#lanes.indexOf(lane);
      if (index >= 0) this.#lanes[index] = this.#spawn();
    });
    return lane;
  }

  #fail(lane: Lane, message: string): void {
    const jobs = [...lane.pending.values()];
    lane.pending.clear();
    for (const job of jobs) job.reject(new DeviceHardwareError(message));
  }
}
