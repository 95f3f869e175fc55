/**
 * `@tunnelkey/contracts` as another team gets it (issue 19): a copy of this package packed with
 * `npm pack` (its prepack builds the JavaScript with swc and the declarations with tsc, in the copy:
 * never the dist another test may be building), unpacked into a scratch project beside nothing but its one
 * dependency, then used there by plain node (guards, subjects, upcasting, the public reading,
 * CloudEvents) and by tsc under NodeNext (its types resolve from the package's own declarations).
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const contractsDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const root = resolve(contractsDir, '..');
const tsc = join(root, 'node_modules', '.bin', 'tsc');

const consumerScript = `
import {
  DeviceRevoked, DeviceConnectedV1, aggregateSubject, readPublicEvent, toCloudEvent, upcastEvent, findEventDefinition,
} from '@tunnelkey/contracts';
const revoked = DeviceRevoked.create({
  id: '123e4567-e89b-12d3-a456-426614174000', aggregateId: 'd-7f3a', occurredAt: '2026-01-02T03:04:05.000Z',
  causationId: 'c-1', correlationId: 'k-1',
  data: { deviceId: 'd-7f3a', revocationId: 'r-1', reason: 'keyCompromise', revokedAt: '2026-01-02T03:04:05.000Z' },
});
const v1 = {
  type: 'DeviceConnected', version: 1, id: '123e4567-e89b-12d3-a456-426614174001', aggregateId: 'd-7f3a',
  occurredAt: '2026-01-02T03:04:05.000Z', causationId: 'c-2', correlationId: 'k-2',
  data: { deviceId: 'd-7f3a', targetId: 't-1', clientId: 'd-7f3a', connectedAt: '2026-01-02T03:04:05.000Z' },
};
let refused = '';
try { DeviceRevoked.parse({ ...revoked, data: { ...revoked.data, reason: 'bored' } }); } catch (e) { refused = e.name; }
console.log(JSON.stringify({
  guard: [DeviceRevoked.is(revoked), DeviceRevoked.is({ ...revoked, data: {} }), DeviceConnectedV1.is(v1)],
  refused,
  subject: [DeviceRevoked.subject('d-7f3a'), DeviceRevoked.subject('d-7f3a', 'acme'), aggregateSubject('ca', 'device', 'd-1')],
  upcast: upcastEvent(v1),
  reading: readPublicEvent(new TextEncoder().encode(JSON.stringify(v1))).kind,
  garbage: readPublicEvent(new TextEncoder().encode('{')).kind,
  cloudType: toCloudEvent(revoked).type,
  known: findEventDefinition('DeviceRevoked', 1)?.public,
}));
`;

const consumerTypes = `
import { DeviceRevoked, readPublicEvent, type EventOf } from '@tunnelkey/contracts';
export function reasonOf(event: EventOf<typeof DeviceRevoked>): string {
  return event.data.reason;
}
export function kindOf(bytes: Uint8Array): 'public' | 'internal' | 'invalid' {
  return readPublicEvent(bytes).kind;
}
// @ts-expect-error a revocation has no such field: the declarations are real types, not any
export const wrong = (event: EventOf<typeof DeviceRevoked>): string => event.data.firmwareVersion;
`;

describe('@tunnelkey/contracts as a published package', () => {
  let work: string;
  let packed: { files: { path: string }[]; filename: string };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'tk-contracts-pack-'));
    // A copy of the package beside what its build reads from the repository root.
    const pkg = join(work, 'contracts');
    await mkdir(pkg);
    for (const entry of ['package.json', 'tsconfig.build.json', 'README.md', 'asyncapi.yaml', 'src'])
      await cp(join(contractsDir, entry), join(pkg, entry), { recursive: true });
    await cp(join(root, 'tsconfig.base.json'), join(work, 'tsconfig.base.json'));
    await cp(join(root, '.swcrc'), join(work, '.swcrc'));
    await symlink(join(root, 'node_modules'), join(work, 'node_modules'), 'dir');
    // npm pack runs the package's prepack: the swc build, then tsc for the declarations.
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: pkg });
    packed = (JSON.parse(stdout.slice(stdout.indexOf('[\n'))) as (typeof packed)[])[0]!;

    // The scratch project: the unpacked tarball and its one dependency, nothing else of ours.
    const consumer = join(work, 'consumer');
    await mkdir(join(consumer, 'node_modules', '@tunnelkey'), { recursive: true });
    await mkdir(join(consumer, 'node_modules', '@sinclair'), { recursive: true });
    await mkdir(join(consumer, 'node_modules', '@types'), { recursive: true });
    await run('tar', ['-xzf', join(work, packed.filename), '-C', join(consumer, 'node_modules', '@tunnelkey')]);
    await run('mv', ['package', 'contracts'], { cwd: join(consumer, 'node_modules', '@tunnelkey') });
    await symlink(
      join(root, 'node_modules', '@sinclair', 'typebox'),
      join(consumer, 'node_modules', '@sinclair', 'typebox'),
    );
    await symlink(join(root, 'node_modules', '@types', 'node'), join(consumer, 'node_modules', '@types', 'node'));
    await writeFile(
      join(consumer, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    );
    await writeFile(join(consumer, 'check.mjs'), consumerScript);
    await writeFile(join(consumer, 'check.ts'), consumerTypes);
  }, 240_000);

  afterAll(() => rm(work, { recursive: true, force: true }));

  it('packs the built JavaScript, its declarations and the AsyncAPI document; no sources, tests or private flag', async () => {
    const files = packed.files.map((f) => f.path).sort();
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'asyncapi.yaml',
        'dist/index.js',
        'dist/index.d.ts',
        'dist/cloudevents.js',
        'dist/upcasting.d.ts',
      ]),
    );
    expect(files.filter((f) => f.startsWith('src/') || /spec|\.map$|write-asyncapi/.test(f))).toEqual([]);
    const manifest = JSON.parse(
      await readFile(join(work, 'consumer/node_modules/@tunnelkey/contracts/package.json'), 'utf8'),
    );
    expect(manifest.private).toBeUndefined();
    expect(manifest.exports['.']).toMatchObject({ types: './dist/index.d.ts', import: './dist/index.js' });
  });

  it('imports and works in plain node: guards, parse, subjects, upcasters, the public reading, CloudEvents', async () => {
    const { stdout } = await run('node', ['check.mjs'], { cwd: join(work, 'consumer') });
    const result = JSON.parse(stdout);
    expect(result).toEqual({
      guard: [true, false, true],
      refused: 'ContractViolation',
      subject: ['registry.device.d-7f3a', 'acme.registry.device.d-7f3a', 'ca.device.d-1'],
      upcast: expect.objectContaining({
        type: 'DeviceConnected',
        version: 2,
        data: expect.objectContaining({ tlsProtocol: 'unknown', cipher: 'unknown' }),
      }),
      reading: 'public',
      garbage: 'invalid',
      cloudType: 'io.tunnelkey.registry.DeviceRevoked.v1',
      known: true,
    });
  });

  it('type-checks a consumer under NodeNext with the declarations it ships', async () => {
    const args = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext'];
    await expect(
      run(tsc, [...args, '--target', 'es2022', '--types', 'node', 'check.ts'], { cwd: join(work, 'consumer') }),
    ).resolves.toBeDefined();
  }, 180_000);
});
