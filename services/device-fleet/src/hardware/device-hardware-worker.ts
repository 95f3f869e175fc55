/**
 * One worker thread of a DeviceHardwarePool: it stands for the chips of the devices it serves,
 * performing their PUF reads, fuzzy-extractor reconstructions and P-256 derivations. Nothing here
 * is logged or kept: each job's secrets are wiped by @tunnelkey/puf before the keys are posted.
 *
 * It runs at the lowest CPU priority: the silicon it stands for is not this machine's, so the
 * simulation takes the cycles the platform, the broker and the clients leave, instead of
 * competing with them for the cores they share.
 */
import { parentPort } from 'node:worker_threads';
import { deriveKeysFromRead } from '@tunnelkey/puf';
import { runThisThreadInBackground } from './background-priority.js';
import { toDescribedError, type HardwareJob, type HardwareReply } from './hardware-messages.js';

const port = parentPort;
if (!port) throw new Error('device-hardware-worker runs as a worker thread only');
runThisThreadInBackground();

port.on('message', (job: HardwareJob) => {
  deriveKeysFromRead(job.read, job.contexts, job.helperData, job.at).then(
    (pairs) => port.postMessage({ id: job.id, pairs } satisfies HardwareReply),
    (error: unknown) => port.postMessage({ id: job.id, error: toDescribedError(error) } satisfies HardwareReply),
  );
});
