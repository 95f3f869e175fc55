/**
 * The CLI's firmware and rollout commands (issue 16):
 *   tunnelkey firmware upload <file> --product <p> --version <v> [--id <firmwareId>] [--notes <text>]
 *   tunnelkey firmware list [--product <p>] | firmware product --id <p> --name <text> --version <baseline>
 *   tunnelkey rollout start --id <rolloutId> --firmware <id> --batch <id>... [--waves 5,25,100]
 *                           [--max-failure 10] [--deadline-seconds n] [--watch]
 *   tunnelkey rollout pause|resume|abort <rolloutId>
 *   tunnelkey rollout status <rolloutId> [--watch]
 * The upload streams the file to the object store (the gateway checks its size and digest as it
 * arrives), then registers it: the OTA service checks it again and signs the release.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { DescribeRollout, ResultOf } from '@tunnelkey/contracts';
import { CliError, exitCodes, type GatewayClient } from './gateway-client.js';
import { keyValues, table } from './output.js';

export const otaUsage = `  tunnelkey firmware product --id <product> --name <text> --version <baseline version>
  tunnelkey firmware upload <file> --product <product> --version <v> [--id <firmwareId>] [--notes <text>]
  tunnelkey firmware list [--product <product>]
  tunnelkey rollout start --id <rolloutId> --firmware <firmwareId> --batch <id>... [--waves 5,25,100] [--max-failure 10]
            [--deadline-seconds n] [--watch]
  tunnelkey rollout pause|resume|abort <rolloutId>
  tunnelkey rollout status <rolloutId> [--watch]
`;

export interface OtaCliValues {
  json?: boolean;
  id?: string;
  name?: string;
  product?: string;
  version?: string;
  notes?: string;
  firmware?: string;
  batch?: string | string[];
  waves?: string;
  'max-failure'?: string;
  'deadline-seconds'?: string;
  watch?: boolean;
}

export interface OtaCliContext {
  client: GatewayClient;
  values: OtaCliValues;
  positionals: string[];
  command: (path: string, body: unknown) => Promise<{ commandId: string; result: unknown }>;
  print: (value: unknown, human: () => string) => void;
  stderr: { write(text: string): unknown };
  pollMs: number;
  usageError: (message: string) => CliError;
}

/** DescribeRollout's answer, as the gateway returns it. */
type RolloutStatus = ResultOf<typeof DescribeRollout>;

const need = (ctx: OtaCliContext, value: string | undefined, name: string): string => {
  if (!value) throw ctx.usageError(`--${name} is required`);
  return value;
};

function describe(status: RolloutStatus): string {
  const head = `rollout ${status.rolloutId}: ${status.status}${status.pauseReason ? ` (${status.pauseReason})` : ''}, wave ${status.wave}; ${status.updated} updated, ${status.failed} failed, ${status.skipped} skipped of ${status.deviceCount}`;
  const waves = table(
    status.waves.map((w) => ({ ...w, percent: `${w.percent} %`, done: w.completed ? 'yes' : '' })),
    ['wave', 'percent', 'size', 'offered', 'updated', 'failed', 'skipped', 'done'],
  );
  const failures = status.devices.filter((d) => d.status === 'failed' || d.status === 'skipped');
  const reasons = failures.length ? `\n${table(failures, ['deviceId', 'status', 'wave', 'reason'])}` : '';
  return `${head}\n${waves}${reasons}`;
}

export async function runOtaCli(
  noun: 'firmware' | 'rollout',
  verb: string | undefined,
  ctx: OtaCliContext,
): Promise<number> {
  const { values, positionals, command, print } = ctx;
  if (noun === 'firmware') {
    switch (verb) {
      case 'product': {
        const outcome = await command('/api/firmware/products', {
          product: need(ctx, values.id, 'id'),
          name: need(ctx, values.name, 'name'),
          baselineVersion: need(ctx, values.version, 'version'),
        });
        print(outcome, () => `product ${values.id} registered`);
        return exitCodes.ok;
      }
      case 'upload': {
        const file = positionals[2];
        if (!file) throw ctx.usageError('the image file is missing');
        const product = need(ctx, values.product, 'product');
        const version = need(ctx, values.version, 'version');
        const image = new Uint8Array(await readFile(file));
        const sha256 = createHash('sha256').update(image).digest('hex');
        const uploaded = await ctx.client.request<{ objectName: string; sizeBytes: number; sha256: string }>(
          'POST',
          `/api/firmware/uploads?sha256=${sha256}&size=${image.length}`,
          image,
        );
        const firmwareId = values.id ?? `${product}-${version}`.replace(/[^A-Za-z0-9_-]/g, '-');
        const outcome = await command('/api/firmware', {
          firmwareId,
          product,
          version,
          imageDigest: sha256,
          sizeBytes: image.length,
          objectName: uploaded.objectName,
          ...(values.notes ? { releaseNotes: values.notes } : {}),
        });
        print({ upload: uploaded, ...outcome }, () =>
          keyValues({
            firmwareId,
            file: basename(file),
            sizeBytes: image.length,
            sha256,
            ...(outcome.result as object),
          }),
        );
        return exitCodes.ok;
      }
      case 'list': {
        const outcome = (await command('/api/firmware/list', values.product ? { product: values.product } : {})) as {
          result: {
            images: {
              firmwareId: string;
              product: string;
              version: string;
              sizeBytes: number;
              metadataVersion: number;
              expiresAt: string;
            }[];
          };
        };
        print(outcome, () =>
          table(outcome.result.images, [
            'firmwareId',
            'product',
            'version',
            'sizeBytes',
            'metadataVersion',
            'expiresAt',
          ]),
        );
        return exitCodes.ok;
      }
      default:
        throw ctx.usageError('firmware product | upload | list');
    }
  }
  // A read: sent without the invocation's Idempotency-Key (which the start used for its command;
  // the gateway would refuse the same key with another payload as idempotency-key-reused).
  const statusOf = async (rolloutId: string) =>
    (
      await ctx.client.request<{ result: RolloutStatus }>(
        'POST',
        `/api/rollouts/${encodeURIComponent(rolloutId)}/progress`,
        {},
      )
    ).result;
  const watch = async (rolloutId: string): Promise<RolloutStatus> => {
    for (;;) {
      const status = await statusOf(rolloutId);
      const settled = status.updated + status.failed;
      ctx.stderr.write(
        `\r${status.status} wave ${status.wave}: ${settled}/${status.deviceCount} (${status.failed} failed)${status.pauseReason ? ` ${status.pauseReason}` : ''}   `,
      );
      if (status.status !== 'running') {
        ctx.stderr.write('\n');
        return status;
      }
      await new Promise((resolve) => setTimeout(resolve, ctx.pollMs));
    }
  };
  switch (verb) {
    case 'start': {
      const rolloutId = need(ctx, values.id, 'id');
      const batchIds = typeof values.batch === 'string' ? [values.batch] : (values.batch ?? []);
      if (batchIds.length === 0) throw ctx.usageError('--batch is required');
      const waves = (values.waves ?? '5,25,100').split(',').map((p) => {
        if (!/^\d{1,3}$/.test(p)) throw ctx.usageError('--waves is a list of percentages, e.g. 5,25,100');
        return { percent: Number(p) };
      });
      const maxFailure = values['max-failure'] ?? '10';
      if (!/^\d{1,3}$/.test(maxFailure)) throw ctx.usageError('--max-failure is a percentage');
      const deadline = values['deadline-seconds'];
      const outcome = await command('/api/rollouts', {
        rolloutId,
        firmwareId: need(ctx, values.firmware, 'firmware'),
        batchIds,
        waves,
        maxFailurePercent: Number(maxFailure),
        ...(deadline ? { deadlineSeconds: Number(deadline) } : {}),
      });
      if (!values.watch) {
        print(outcome, () => keyValues(outcome.result as Record<string, unknown>));
        return exitCodes.ok;
      }
      const status = await watch(rolloutId);
      print({ ...outcome, status }, () => describe(status));
      return status.status === 'completed' ? exitCodes.ok : exitCodes.refused;
    }
    case 'pause':
    case 'resume':
    case 'abort': {
      const rolloutId = positionals[2];
      if (!rolloutId) throw ctx.usageError('the rollout id is missing');
      const outcome = await command(`/api/rollouts/${encodeURIComponent(rolloutId)}/${verb}`, {});
      print(outcome, () => `rollout ${rolloutId}: ${verb}d`);
      return exitCodes.ok;
    }
    case 'status': {
      const rolloutId = positionals[2];
      if (!rolloutId) throw ctx.usageError('the rollout id is missing');
      const status = values.watch ? await watch(rolloutId) : await statusOf(rolloutId);
      print(status, () => describe(status));
      return exitCodes.ok;
    }
    default:
      throw ctx.usageError('rollout start | pause | resume | abort | status');
  }
}
