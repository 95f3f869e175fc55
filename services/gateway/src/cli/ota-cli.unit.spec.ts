import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliWithGatewayDouble } from '../test-support/gateway-double.test-helper.js';
import { runCli } from './run-cli.js';

// Issue 16 at the CLI: an image is streamed as bytes, then registered with its digest and size;
// a rollout is started and followed until it stops; pause/resume/abort name the rollout.
const cli = cliWithGatewayDouble;

const status = (s: string) => ({
  commandId: 'c',
  result: {
    rolloutId: 'r-1',
    firmwareId: 'fw-2',
    version: '2.0.0',
    status: s,
    wave: 2,
    deviceCount: 2,
    updated: 1,
    failed: 1,
    skipped: 0,
    waves: [{ wave: 0, percent: 100, size: 2, offered: 2, updated: 1, failed: 1, skipped: 0, completed: true }],
    devices: [{ deviceId: 'd-2', status: 'failed', wave: 0, reason: 'rollback' }],
  },
});

describe('tunnelkey firmware / rollout', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tk-ota-cli-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('firmware upload streams the bytes with their digest and size, then registers them', async () => {
    const file = join(dir, 'fw.bin');
    const image = Buffer.from('firmware image bytes');
    await writeFile(file, image);
    const digest = createHash('sha256').update(image).digest('hex');
    const run = cli((call) =>
      call.path.startsWith('/api/firmware/uploads')
        ? { objectName: 'upload-1', sizeBytes: image.length, sha256: digest }
        : { commandId: 'c', result: { firmwareId: 'fridge-x200-2-0-0', metadataVersion: 1 } },
    );
    const code = await runCli(['firmware', 'upload', file, '--product', 'fridge-x200', '--version', '2.0.0'], run.io);
    expect(code).toBe(0);
    expect(run.calls[0]).toMatchObject({
      path: `/api/firmware/uploads?sha256=${digest}&size=${image.length}`,
      contentType: 'application/octet-stream',
    });
    expect(run.calls[1]).toMatchObject({
      path: '/api/firmware',
      body: {
        firmwareId: 'fridge-x200-2-0-0',
        product: 'fridge-x200',
        version: '2.0.0',
        imageDigest: digest,
        sizeBytes: image.length,
        objectName: 'upload-1',
      },
    });
  });

  it('rollout start --watch follows the rollout until it stops and shows the failures with their reasons', async () => {
    let polls = 0;
    const run = cli((call) =>
      call.path === '/api/rollouts'
        ? { commandId: 'c', result: { rolloutId: 'r-1', deviceCount: 2, excluded: 0 } }
        : status(++polls < 3 ? 'running' : 'completed'),
    );
    const code = await runCli(
      ['rollout', 'start', '--id', 'r-1', '--firmware', 'fw-2', '--batch', 'b-1', '--waves', '50,100', '--watch'],
      run.io,
    );
    expect(code).toBe(0);
    expect(run.calls[0]!.body).toEqual({
      rolloutId: 'r-1',
      firmwareId: 'fw-2',
      batchIds: ['b-1'],
      waves: [{ percent: 50 }, { percent: 100 }],
      maxFailurePercent: 10,
    });
    expect(polls).toBe(3);
    // The start is a command with a key; the progress reads carry none (the same key with another
    // payload is refused by the gateway as idempotency-key-reused).
    expect(run.calls[0]!.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
    expect(run.calls.slice(1).map((c) => c.idempotencyKey)).toEqual([undefined, undefined, undefined]);
    expect(run.out()).toMatch(/rollout r-1: completed/);
    expect(run.out()).toMatch(/d-2.*failed.*rollback/);
  });

  it('rollout pause|resume|abort name the rollout; a missing id is a usage error', async () => {
    for (const verb of ['pause', 'resume', 'abort']) {
      const run = cli(() => ({ commandId: 'c', result: { rolloutId: 'r-1' } }));
      expect(await runCli(['rollout', verb, 'r-1'], run.io)).toBe(0);
      expect(run.calls[0]!.path).toBe(`/api/rollouts/r-1/${verb}`);
    }
    expect(await runCli(['rollout', 'pause'], cli(() => ({})).io)).toBe(2);
  });
});
