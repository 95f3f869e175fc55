/**
 * The CLI's ownership transfer (issue 17): a custody file travels between the parties, like a FIDO
 * Device Onboard voucher. The old owner prepares it (the statement each party signs, per device),
 * signs its authorisation; the new owner signs its acceptance; each device adds its own
 * acknowledgement (its enrolment key signs the same statement: the device does this, not the CLI);
 * the old owner submits it. Signing is local: private keys never leave the signer's machine.
 *   tunnelkey owners custody-key <ownerId> --id <keyId> --file <public-key.pem>
 *   tunnelkey devices transfer prepare --to <ownerId> --to-batch <batchId> --device <id>... [--id <transferId>] --file <custody.json>
 *   tunnelkey devices transfer sign <custody.json> --role authorisation|acceptance --key <private-key.pem>
 *   tunnelkey devices transfer submit <custody.json>
 */
import { createHash, createPrivateKey, createPublicKey, randomUUID, webcrypto } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import type { CustodyRole, CustodyStatement } from '@tunnelkey/contracts';
import { signCustodyStatement } from '@tunnelkey/device-protocol';
import { CliError, exitCodes, type GatewayClient } from './gateway-client.js';

export const transferUsage = `  tunnelkey owners custody-key <ownerId> --id <keyId> --file <public-key.pem>
  tunnelkey devices transfer prepare --to <ownerId> --to-batch <batchId> --device <id>... [--id <transferId>] --file <custody.json>
  tunnelkey devices transfer sign <custody.json> --role authorisation|acceptance --key <private-key.pem>
  tunnelkey devices transfer submit <custody.json>
            (each device adds its own acknowledgement to the file: its enrolment key signs the same statement)
`;

type Signature = { keyDigest: string; signature: string };

/** The file the parties pass along: the request, and per device the statement each one signs. */
export interface CustodyFile {
  transferId: string;
  fromOwnerId: string;
  toOwnerId: string;
  toBatchId: string;
  devices: { deviceId: string; statement: CustodyStatement; custody: Partial<Record<CustodyRole, Signature>> }[];
}

export interface TransferCliContext {
  client: GatewayClient;
  values: {
    id?: string;
    file?: string;
    to?: string;
    'to-batch'?: string;
    device?: string[];
    role?: string;
    key?: string;
  };
  positionals: string[];
  command: (path: string, body: unknown) => Promise<{ commandId: string; result: unknown }>;
  print: (value: unknown, human: () => string) => void;
  usageError: (message: string) => CliError;
}

const roles: readonly CustodyRole[] = ['authorisation', 'acceptance'];

async function read(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read ${file}`, exitCodes.usage, undefined, { cause: error });
  }
}

/** `tunnelkey owners custody-key`: registers a P-256 public key (PEM) the owner signs custody statements with. */
export async function runOwnersCli(verb: string | undefined, ctx: TransferCliContext): Promise<number> {
  if (verb !== 'custody-key') throw ctx.usageError('owners custody-key <ownerId> --id <keyId> --file <public-key.pem>');
  const ownerId = ctx.positionals[2];
  if (!ownerId || !ctx.values.id || !ctx.values.file)
    throw ctx.usageError('owners custody-key <ownerId> --id <keyId> --file <public-key.pem>');
  let spki: Buffer;
  try {
    spki = createPublicKey(await read(ctx.values.file)).export({ type: 'spki', format: 'der' });
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw ctx.usageError(`${ctx.values.file} holds no public key (PEM)`);
  }
  const outcome = await ctx.command(`/api/owners/${encodeURIComponent(ownerId)}/custody-keys`, {
    keyId: ctx.values.id,
    publicKey: spki.toString('base64'),
  });
  const { keyDigest } = outcome.result as { keyDigest: string };
  ctx.print(outcome, () => `custody key ${ctx.values.id} of owner ${ownerId} registered (sha-256 ${keyDigest})`);
  return exitCodes.ok;
}

/** `tunnelkey devices transfer prepare|sign|submit`. */
export async function runTransferCli(ctx: TransferCliContext): Promise<number> {
  const step = ctx.positionals[2];
  switch (step) {
    case 'prepare':
      return prepare(ctx);
    case 'sign':
      return signFile(ctx);
    case 'submit':
      return submit(ctx);
    default:
      throw ctx.usageError('devices transfer prepare|sign|submit');
  }
}

async function prepare(ctx: TransferCliContext): Promise<number> {
  const { to, device, file } = ctx.values;
  const toBatchId = ctx.values['to-batch'];
  if (!to || !toBatchId || !device?.length || !file)
    throw ctx.usageError(
      'devices transfer prepare --to <ownerId> --to-batch <batchId> --device <id>... --file <custody.json>',
    );
  const me = await ctx.client.request<{ ownerId: string }>('GET', '/api/whoami');
  const transferId = ctx.values.id ?? `t-${randomUUID()}`;
  const devices: CustodyFile['devices'] = [];
  for (const deviceId of device) {
    const detail = await ctx.client.request<{ identity?: { enrolmentKeyDigest: string }; ownerEpoch?: number }>(
      'GET',
      `/api/devices/${encodeURIComponent(deviceId)}`,
    );
    if (!detail.identity) throw ctx.usageError(`device ${deviceId} has no enrolled key yet`);
    const statement: CustodyStatement = {
      transferId,
      deviceId,
      enrolmentKeyDigest: detail.identity.enrolmentKeyDigest,
      fromOwnerId: me.ownerId,
      toOwnerId: to,
      toBatchId,
      ownerEpoch: (detail.ownerEpoch ?? 0) + 1,
    };
    devices.push({ deviceId, statement, custody: {} });
  }
  const custody: CustodyFile = { transferId, fromOwnerId: me.ownerId, toOwnerId: to, toBatchId, devices };
  await writeFile(file, `${JSON.stringify(custody, null, 2)}\n`);
  ctx.print(custody, () => `custody file ${file}: transfer ${transferId} of ${devices.length} devices to ${to}`);
  return exitCodes.ok;
}

async function loadFile(ctx: TransferCliContext): Promise<{ path: string; custody: CustodyFile }> {
  const path = ctx.positionals[3];
  if (!path) throw ctx.usageError(`devices transfer ${ctx.positionals[2]} <custody.json>`);
  try {
    const custody = JSON.parse(await read(path)) as CustodyFile;
    if (!Array.isArray(custody.devices)) throw new Error('no devices');
    return { path, custody };
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw ctx.usageError(`${path} is not a custody file`);
  }
}

/** Signs every device's statement under the role with a local P-256 private key (PEM); writes the file back. */
async function signFile(ctx: TransferCliContext): Promise<number> {
  const role = ctx.values.role as CustodyRole | undefined;
  if (!role || !roles.includes(role) || !ctx.values.key)
    throw ctx.usageError(
      'devices transfer sign <custody.json> --role authorisation|acceptance --key <private-key.pem>',
    );
  const { path, custody } = await loadFile(ctx);
  let key: webcrypto.CryptoKey;
  let keyDigest: string;
  try {
    const pem = createPrivateKey(await read(ctx.values.key));
    // The protocol's one signing path (signCustodyStatement, as the devices sign theirs) takes a
    // P-256 WebCrypto key: any other key is refused here rather than signing what no one can verify.
    key = await webcrypto.subtle.importKey(
      'pkcs8',
      pem.export({ type: 'pkcs8', format: 'der' }),
      { name: 'ECDSA', namedCurve: 'P-256' },
      false,
      ['sign'],
    );
    keyDigest = createHash('sha256')
      .update(createPublicKey(pem).export({ type: 'spki', format: 'der' }))
      .digest('hex');
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw ctx.usageError(`${ctx.values.key} holds no P-256 private key (PEM)`);
  }
  for (const entry of custody.devices)
    entry.custody[role] = { keyDigest, signature: await signCustodyStatement(role, entry.statement, key) };
  await writeFile(path, `${JSON.stringify(custody, null, 2)}\n`);
  ctx.print(
    { transferId: custody.transferId, role, devices: custody.devices.length, keyDigest },
    () =>
      `${role} signed for ${custody.devices.length} devices of transfer ${custody.transferId} (key sha-256 ${keyDigest})`,
  );
  return exitCodes.ok;
}

async function submit(ctx: TransferCliContext): Promise<number> {
  const { custody } = await loadFile(ctx);
  const outcome = await ctx.command('/api/transfers', {
    transferId: custody.transferId,
    fromOwnerId: custody.fromOwnerId,
    toOwnerId: custody.toOwnerId,
    toBatchId: custody.toBatchId,
    devices: custody.devices.map(({ deviceId, custody: record }) => ({ deviceId, custody: record })),
  });
  const result = outcome.result as { transferId: string; transferred: number; alreadyTransferred: number };
  ctx.print(
    outcome,
    () =>
      `transfer ${result.transferId}: ${result.transferred} devices moved to ${custody.toOwnerId} ` +
      `(${result.alreadyTransferred} moved before); their old certificates are being revoked, ` +
      `${custody.toOwnerId} verifies, certifies and onboards them next`,
  );
  return exitCodes.ok;
}
