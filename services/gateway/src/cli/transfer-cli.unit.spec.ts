import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { custodySignatureValid } from '@tunnelkey/device-protocol';
import { cliWithGatewayDouble, type GatewayCall } from '../test-support/gateway-double.test-helper.js';
import { runCli } from './run-cli.js';
import type { CustodyFile } from './transfer-cli.js';

// Issue 17 at the CLI: a custody file prepared by the old owner, signed by both owners, submitted.
describe('tunnelkey devices transfer / owners custody-key', () => {
  let dir: string;
  const keys = () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return {
      publicPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      privatePem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      spki: pair.publicKey.export({ type: 'spki', format: 'der' }),
    };
  };
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tk-cli-transfer-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const answers = (call: GatewayCall) => {
    if (call.path === '/api/whoami') return { ownerId: 'acme', name: 'acme-ops', role: 'admin' };
    if (call.path.startsWith('/api/devices/'))
      return { deviceId: call.path.split('/')[3], identity: { enrolmentKeyDigest: 'ab'.repeat(32) }, ownerEpoch: 2 };
    if (call.path === '/api/transfers')
      return { commandId: 'c', result: { transferId: 't-1', transferred: 2, alreadyTransferred: 0 } };
    return { commandId: 'c', result: { ownerId: 'acme', keyId: 'ops', keyDigest: 'cd'.repeat(32) } };
  };

  it('registers a custody key from a PEM file: its DER, base64, under the owner', async () => {
    const key = keys();
    await writeFile(join(dir, 'acme.pub.pem'), key.publicPem);
    const { io, calls } = cliWithGatewayDouble(answers);
    expect(
      await runCli(['owners', 'custody-key', 'acme', '--id', 'ops', '--file', join(dir, 'acme.pub.pem')], io),
    ).toBe(0);
    expect(calls.map(({ path, body }) => ({ path, body }))).toEqual([
      { path: '/api/owners/acme/custody-keys', body: { keyId: 'ops', publicKey: key.spki.toString('base64') } },
    ]);
  });

  it('prepares the statements (the next epoch), signs them as each owner, submits the records without the statements', async () => {
    const [acme, globex] = [keys(), keys()];
    await writeFile(join(dir, 'acme.pem'), acme.privatePem);
    await writeFile(join(dir, 'globex.pem'), globex.privatePem);
    const file = join(dir, 'custody.json');
    const { io, calls } = cliWithGatewayDouble(answers);
    const prepare = [
      'devices',
      'transfer',
      'prepare',
      '--to',
      'globex',
      '--to-batch',
      'g-1',
      '--device',
      'd-1',
      '--device',
      'd-2',
    ];
    expect(await runCli([...prepare, '--id', 't-1', '--file', file], io)).toBe(0);
    const sign = (role: string, key: string) =>
      runCli(['devices', 'transfer', 'sign', file, '--role', role, '--key', key], io);
    expect(await sign('authorisation', join(dir, 'acme.pem'))).toBe(0);
    expect(await sign('acceptance', join(dir, 'globex.pem'))).toBe(0);
    const custody = JSON.parse(await readFile(file, 'utf8')) as CustodyFile;
    expect(custody.devices.map((d) => d.statement)).toEqual(
      ['d-1', 'd-2'].map((deviceId) => ({
        transferId: 't-1',
        deviceId,
        enrolmentKeyDigest: 'ab'.repeat(32),
        fromOwnerId: 'acme',
        toOwnerId: 'globex',
        toBatchId: 'g-1',
        ownerEpoch: 3,
      })),
    );
    const [first] = custody.devices;
    expect(
      await custodySignatureValid(
        'authorisation',
        first!.statement,
        first!.custody.authorisation!.signature,
        acme.spki,
      ),
    ).toBe(true);
    expect(
      await custodySignatureValid('acceptance', first!.statement, first!.custody.acceptance!.signature, globex.spki),
    ).toBe(true);
    // The device's acknowledgement is the device's to add; then the file is submitted.
    expect(await runCli(['devices', 'transfer', 'submit', file], io)).toBe(0);
    const sent = calls.at(-1)!;
    expect(sent.path).toBe('/api/transfers');
    expect(sent.body).toMatchObject({ transferId: 't-1', fromOwnerId: 'acme', toOwnerId: 'globex', toBatchId: 'g-1' });
    expect(JSON.stringify(sent.body)).not.toContain('statement');
  });

  it('refuses a key that is not P-256, changing nothing in the file', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await writeFile(join(dir, 'rsa.pem'), rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    const file = join(dir, 'custody.json');
    const { io } = cliWithGatewayDouble(answers);
    const prepare = ['devices', 'transfer', 'prepare', '--to', 'globex', '--to-batch', 'g-1', '--device', 'd-1'];
    expect(await runCli([...prepare, '--id', 't-1', '--file', file], io)).toBe(0);
    const before = await readFile(file, 'utf8');
    expect(
      await runCli(['devices', 'transfer', 'sign', file, '--role', 'authorisation', '--key', join(dir, 'rsa.pem')], io),
    ).toBe(2);
    expect(await readFile(file, 'utf8')).toBe(before);
  });

  it('refuses a role other than the owners’ and a file that is no custody file, sending nothing', async () => {
    const { io, calls } = cliWithGatewayDouble(answers);
    await writeFile(join(dir, 'x.json'), '{"nope":1}');
    expect(
      await runCli(['devices', 'transfer', 'sign', join(dir, 'x.json'), '--role', 'acknowledgement', '--key', 'k'], io),
    ).toBe(2);
    expect(await runCli(['devices', 'transfer', 'submit', join(dir, 'x.json')], io)).toBe(2);
    expect(calls).toEqual([]);
  });
});
