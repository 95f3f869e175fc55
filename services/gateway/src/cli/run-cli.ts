import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { bashCompletion, commandHelp } from './command-help.js';
import { CliError, exitCodes, GatewayClient } from './gateway-client.js';
import { moreNote, readList, type Listed } from './list-pages.js';
import { keyValues, outputFormats, printer, progressBar, table, type OutputFormat, type Tabular } from './output.js';
import { watchEvents, watchTypes } from './watch-events.js';
import { integrityUsage, runIntegrityCli } from './integrity-cli.js';
import { runOwnersCli, runTransferCli, transferUsage } from './transfer-cli.js';
import { otaUsage, runOtaCli } from './ota-cli.js';

export interface CliIo {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  env: Record<string, string | undefined>;
  fetch?: typeof fetch;
  /** Pause between progress polls (tests pass a short one). */
  pollMs?: number;
}

export const usage = `tunnelkey — operate a tunnelkey platform through its gateway (TUNNELKEY_URL, TUNNELKEY_TOKEN)

  tunnelkey whoami
  tunnelkey policies list | show <id>
  tunnelkey policies create --id <id> --name <text> --topic <filter:access>... [--target <id>...] [--lifetime-days 365]
  tunnelkey batches list | show <id>
  tunnelkey batches create --id <id> --name <text> --policy <id> --owner <id> --size <n>
  tunnelkey import <batchId> <file.json|file.csv> [--import-id <id>]
  tunnelkey verify <batchId> [--device <id>...] [--no-wait]
  tunnelkey certify <batchId> [--device <id>...] [--key-id tls-0] [--no-wait]
  tunnelkey onboard <batchId> [--target <id>...] [--no-wait]
  tunnelkey revoke device <deviceId> --reason <rfc5280> | revoke batch <batchId> --reason <rfc5280>
  tunnelkey renew <batchId> [--device <id>...] [--reason operator|key-exposure] [--no-wait]
  tunnelkey renewals progress <operationId>
  tunnelkey policies renewal <policyId> [--renew-at <share, default 0.667>] [--jitter <share, default 0.1>] [--lifetime-seconds <n>]
  tunnelkey devices list [--batch <id>] [--state <s>] [--target <id>] [--connection never|connected|disconnected] [--q <id prefix>]
            [--sort <field>[:desc]] [--all | --limit n --offset n]
            (sort fields: deviceId batchId state connection importedAt certifiedAt connectedAt lastTelemetryAt certificateNotAfter)
  tunnelkey devices show <id> | devices history <id> [--all | --limit n --offset n]
  tunnelkey devices export [--batch <id>] [--state <s>] [--target <id>] [--connection c] [--q <prefix>] [--sort <field>[:desc]]
            [-o csv|json|yaml] [--file <path>]
  tunnelkey revocations status [--batch <id>] [--all] | revocations status <deviceId>
  tunnelkey watch [--batch <id>] [--device <id>...] [--type device|batch|devices-changed|catalog|fleet...] [--count n]
  tunnelkey targets list | show <id>
  tunnelkey targets register --id <id> --name <text> --host <h> --port <n> --admin-user <u> --admin-password-file <name>
            [--admin-host <h>] [--admin-port <n>] [--admin-ca <ca.pem>]
            (the password is a file mounted in the onboarding service's ONBOARDING_TARGET_SECRETS_DIR: name it, never send it)
  tunnelkey enrolments held <batchId> [--decision pending|approved|rejected] [--limit n] [--offset n]
  tunnelkey enrolments approve|reject <batchId> <requestId> --device <id>...
  tunnelkey tokens list | tokens create --name <n> --role viewer|operator|admin | tokens revoke <id>
  tunnelkey completion bash
${otaUsage}${integrityUsage}${transferUsage}
Options: -o table|wide|json|yaml|csv (--json = -o json), --no-headers, --url, --token, --idempotency-key <k>
Lists show one page (--limit, --offset) and say when there is more; --all reads every page.
\`tunnelkey <command> --help\` shows a command's flags and examples.
Exit codes: 0 ok, 2 usage, 3 refused or invalid, 4 not authenticated or not allowed, 5 gateway or service unavailable
`;

const options = {
  json: { type: 'boolean' },
  output: { type: 'string', short: 'o' },
  'no-headers': { type: 'boolean' },
  all: { type: 'boolean' },
  q: { type: 'string' },
  sort: { type: 'string' },
  type: { type: 'string', multiple: true },
  count: { type: 'string' },
  file: { type: 'string' },
  url: { type: 'string' },
  token: { type: 'string' },
  'idempotency-key': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  id: { type: 'string' },
  name: { type: 'string' },
  policy: { type: 'string' },
  owner: { type: 'string' },
  size: { type: 'string' },
  topic: { type: 'string', multiple: true },
  target: { type: 'string', multiple: true },
  device: { type: 'string', multiple: true },
  'lifetime-days': { type: 'string' },
  'import-id': { type: 'string' },
  'key-id': { type: 'string' },
  'no-wait': { type: 'boolean' },
  reason: { type: 'string' },
  batch: { type: 'string' },
  state: { type: 'string' },
  connection: { type: 'string' },
  limit: { type: 'string' },
  offset: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  'admin-user': { type: 'string' },
  'admin-password-file': { type: 'string' },
  'admin-host': { type: 'string' },
  'admin-port': { type: 'string' },
  'admin-ca': { type: 'string' },
  decision: { type: 'string' },
  role: { type: 'string' },
  'renew-at': { type: 'string' },
  jitter: { type: 'string' },
  'lifetime-seconds': { type: 'string' },
  product: { type: 'string' },
  version: { type: 'string' },
  notes: { type: 'string' },
  firmware: { type: 'string' },
  waves: { type: 'string' },
  'max-failure': { type: 'string' },
  'deadline-seconds': { type: 'string' },
  watch: { type: 'boolean' },
  period: { type: 'string' },
  missed: { type: 'string' },
  action: { type: 'string' },
  note: { type: 'string' },
  to: { type: 'string' },
  'to-batch': { type: 'string' },
  key: { type: 'string' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];

function usageError(message: string): CliError {
  return new CliError(`${message}\n\n${usage}`, exitCodes.usage);
}

function required(values: Values, name: keyof Values): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '') throw usageError(`--${String(name)} is required`);
  return value;
}

function integer(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,9}$/.test(value)) throw usageError(`--${name} must be a whole number`);
  return Number(value);
}

function share(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^(0(\.\d{1,6})?|1)$/.test(value)) throw usageError(`--${name} must be a share between 0 and 1 (e.g. 0.667)`);
  return Number(value);
}

interface RenewalProgress {
  operationId: string;
  requested: number;
  renewed: number;
  completed: number;
  expired: number;
}

function positional(positionals: string[], index: number, what: string): string {
  const value = positionals[index];
  if (!value) throw usageError(`${what} is missing`);
  return value;
}

interface BatchProgress {
  batchId: string;
  expectedSize: number;
  devices: number;
  counts: Record<string, number>;
  verificationFailures: number;
  certificateRejections: number;
  connected: number;
}

/** Runs one CLI invocation; returns the exit code (never calls process.exit: testable in-process). */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    io.stderr.write(`${(error as Error).message}\n\n${usage}`);
    return exitCodes.usage;
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) {
    const help = (positionals[0] && commandHelp(usage, positionals[0], positionals[1])) || usage;
    (values.help ? io.stdout : io.stderr).write(help);
    return values.help ? exitCodes.ok : exitCodes.usage;
  }
  const format = (values.json ? 'json' : (values.output ?? 'table')) as OutputFormat;
  if (!outputFormats.includes(format)) {
    io.stderr.write(`-o must be one of ${outputFormats.join(', ')}\n`);
    return exitCodes.usage;
  }
  const out = printer(io.stdout, format, !values['no-headers']);
  const url = values.url ?? io.env.TUNNELKEY_URL ?? 'http://127.0.0.1:8080';
  const token = values.token ?? io.env.TUNNELKEY_TOKEN;
  const client = new GatewayClient({ url, ...(token ? { token } : {}), ...(io.fetch ? { fetch: io.fetch } : {}) });
  const print = (value: unknown, human: () => string, tabular?: Tabular) => out.print(value, human, tabular);
  const listRequest = () => ({
    all: values.all ?? false,
    ...(values.limit !== undefined ? { limit: integer(values.limit, 'limit') } : {}),
    ...(values.offset !== undefined ? { offset: integer(values.offset, 'offset') } : {}),
  });
  /** A list: its rows in the chosen format on stdout; on stderr, what was left out. */
  const printList = (
    listed: Listed<Record<string, unknown>>,
    noun: string,
    tabular: Omit<Tabular, 'rows'>,
    rows = listed.items,
  ) => {
    print(listed.body, () => table(rows, tabular.columns), { ...tabular, rows });
    io.stderr.write(moreNote(listed, noun));
  };
  const commandHeaders = { 'idempotency-key': values['idempotency-key'] ?? randomUUID() };
  const command = (path: string, body: unknown) =>
    client.request<{ commandId: string; result: unknown }>('POST', path, body, commandHeaders);
  const scopeOf = (batchId: string) =>
    values.device?.length
      ? values.device.length === 1
        ? { kind: 'device', deviceId: values.device[0] }
        : { kind: 'devices', deviceIds: values.device }
      : { kind: 'batch', batchId };

  /** Polls the batch's counts until `done` says so, with a bar on stderr (kept out of --json stdout). */
  const follow = async (
    batchId: string,
    title: string,
    progress: (b: BatchProgress) => { done: number; total: number; finished: boolean; label?: string },
  ) => {
    const bar = progressBar(io.stderr, title);
    for (;;) {
      const batch = await client.request<BatchProgress>('GET', `/api/batches/${encodeURIComponent(batchId)}`);
      const p = progress(batch);
      bar.update(p.done, p.total, p.label);
      if (p.finished) {
        bar.finish();
        return batch;
      }
      await new Promise((resolve) => setTimeout(resolve, io.pollMs ?? 500));
    }
  };
  const reached = (b: BatchProgress, states: string[]) => states.reduce((sum, s) => sum + (b.counts[s] ?? 0), 0);

  /**
   * Where revocations stand, from the fleet's read model: a revoked device is done once every
   * target deprovisioned it and it is connected nowhere. One device: its revocation and targets.
   */
  const revocationStatus = async (deviceId: string | undefined): Promise<number> => {
    if (deviceId) {
      const device = await client.request<Record<string, unknown>>(
        'GET',
        `/api/devices/${encodeURIComponent(deviceId)}`,
      );
      const targets = (device.targets ?? []) as { targetId: string; status: string; connected?: boolean }[];
      const revocation = device.revocation as Record<string, unknown> | undefined;
      const status = {
        device: device.deviceId,
        state: device.state,
        revocationId: revocation?.revocationId,
        reason: revocation?.reason,
        revokedAt: revocation?.revokedAt,
        targets: targets.map((t) => `${t.targetId}:${t.status}${t.connected ? ' (connected)' : ''}`).join(' '),
        connection: device.connection,
        done: revocationDone(device.state, targets, device.connection),
      };
      print(device, () => keyValues(status), { rows: [status], columns: Object.keys(status) });
      return device.state === 'Revoked' ? exitCodes.ok : exitCodes.refused;
    }
    const query = new URLSearchParams({ state: 'Revoked' });
    if (values.batch) query.set('batchId', values.batch);
    const listed = await readList<Record<string, unknown>>(client, '/api/devices', query, listRequest());
    const rows = listed.items.map((d) => {
      const targets = (d.targets ?? []) as { targetId: string; status: string; connected?: boolean }[];
      return {
        ...deviceRow(d),
        revokedAt: d.stateChangedAt,
        done: revocationDone(d.state, targets, d.connection),
      };
    });
    const pending = rows.filter((r) => r.done !== 'yes');
    print(
      { ...listed.body, pending: pending.length },
      () =>
        `${table(rows, ['deviceId', 'batchId', 'revokedAt', 'targets', 'connection', 'done'])}\n` +
        `${listed.total} revoked devices${values.batch ? ` in ${values.batch}` : ''}; of those shown, ` +
        `${pending.length} not yet deprovisioned everywhere or still connected`,
      { rows, columns: ['deviceId', 'batchId', 'revokedAt', 'targets', 'connection', 'done'], wide: ['serial'] },
    );
    io.stderr.write(moreNote(listed, 'revoked devices'));
    return exitCodes.ok;
  };

  try {
    const [noun, verb] = positionals;
    switch (noun) {
      case 'firmware':
      case 'rollout':
        return await runOtaCli(noun, verb, {
          client,
          values,
          positionals,
          command,
          print,
          stderr: io.stderr,
          pollMs: io.pollMs ?? 500,
          usageError,
        });
      case 'integrity':
        return await runIntegrityCli(verb, { values, positionals, command, print, usageError });
      case 'owners':
        return await runOwnersCli(verb, { client, values, positionals, command, print, usageError });
      case 'whoami': {
        const me = await client.request<Record<string, unknown>>('GET', '/api/whoami');
        print(me, () => keyValues(me));
        return exitCodes.ok;
      }
      case 'policies':
      case 'targets':
      case 'batches': {
        if (verb === 'list' || verb === undefined) {
          const listed = await readList<Record<string, unknown>>(
            client,
            `/api/${noun}`,
            new URLSearchParams(),
            listRequest(),
          );
          const tabular = {
            policies: {
              columns: ['policyId', 'name', 'targetIds', 'certificateLifetimeDays'],
              wide: ['topicRights', 'definedAt'],
            },
            targets: {
              columns: ['targetId', 'kind', 'name', 'host', 'tlsPort', 'onboarded', 'connected'],
              wide: ['registeredAt'],
            },
            batches: {
              columns: ['batchId', 'name', 'policyId', 'expectedSize', 'devices', 'states', 'connected'],
              wide: ['ownerId', 'verificationFailures', 'certificateRejections', 'createdAt'],
            },
          }[noun];
          const rows =
            noun === 'batches'
              ? listed.items.map((b) => ({ ...b, states: statesOf(b.counts as Record<string, number>) }))
              : listed.items;
          printList(listed, noun, tabular, rows);
          return exitCodes.ok;
        }
        if (verb === 'show') {
          const item = await client.request<Record<string, unknown>>(
            'GET',
            `/api/${noun}/${encodeURIComponent(positional(positionals, 2, 'the id'))}`,
          );
          print(item, () => keyValues(item));
          return exitCodes.ok;
        }
        if (verb === 'create' && noun === 'policies') {
          const topicRights = (values.topic ?? []).map((spec) => {
            const at = spec.lastIndexOf(':');
            if (at < 1) throw usageError('--topic takes <filter>:<publish|subscribe|publish-subscribe>');
            return { topic: spec.slice(0, at), access: spec.slice(at + 1) };
          });
          if (topicRights.length === 0) throw usageError('at least one --topic is required');
          const outcome = await command('/api/policies', {
            policyId: required(values, 'id'),
            name: required(values, 'name'),
            targetIds: values.target ?? [],
            topicRights,
            certificateLifetimeDays: integer(values['lifetime-days'], 'lifetime-days') ?? 365,
          });
          print(outcome, () => `policy ${values.id} defined`);
          return exitCodes.ok;
        }
        if (verb === 'renewal' && noun === 'policies') {
          const policyId = positional(positionals, 2, 'the policy id');
          const renewAtShare = share(values['renew-at'], 'renew-at');
          const jitterShare = share(values.jitter, 'jitter');
          const lifetime = integer(values['lifetime-seconds'], 'lifetime-seconds');
          const outcome = await command(`/api/policies/${encodeURIComponent(policyId)}/renewal`, {
            ...(renewAtShare === undefined ? {} : { renewAtShare }),
            ...(jitterShare === undefined ? {} : { jitterShare }),
            ...(lifetime === undefined ? {} : { certificateLifetimeSeconds: lifetime }),
          });
          print(outcome, () => `policy ${policyId}: renewal settings recorded`);
          return exitCodes.ok;
        }
        if (verb === 'create' && noun === 'batches') {
          const outcome = await command('/api/batches', {
            batchId: required(values, 'id'),
            name: required(values, 'name'),
            policyId: required(values, 'policy'),
            ownerId: required(values, 'owner'),
            expectedSize: integer(required(values, 'size'), 'size'),
          });
          print(outcome, () => `batch ${values.id} created`);
          return exitCodes.ok;
        }
        if (verb === 'register' && noun === 'targets') {
          // The admin password never leaves the platform team's secret store: the onboarding service
          // reads it from the file named here (ONBOARDING_TARGET_SECRETS_DIR); the CLI sends no password.
          const adminPort = integer(values['admin-port'], 'admin-port');
          const caPem = values['admin-ca'] === undefined ? undefined : await readText(values['admin-ca']);
          const outcome = await command('/api/targets', {
            targetId: required(values, 'id'),
            kind: 'mosquitto',
            name: required(values, 'name'),
            host: required(values, 'host'),
            tlsPort: integer(required(values, 'port'), 'port'),
            admin: {
              username: required(values, 'admin-user'),
              passwordFile: required(values, 'admin-password-file'),
              ...(values['admin-host'] ? { host: values['admin-host'] } : {}),
              ...(adminPort === undefined ? {} : { port: adminPort }),
              ...(caPem ? { tls: { caPem } } : {}),
            },
          });
          print(outcome, () => `target ${values.id} registered`);
          return exitCodes.ok;
        }
        throw usageError(`unknown: ${noun} ${verb}`);
      }
      case 'enrolments': {
        const batchId = positional(positionals, 2, 'the batch id');
        const batchPath = `/api/batches/${encodeURIComponent(batchId)}`;
        if (verb === 'held') {
          const query = new URLSearchParams();
          if (values.decision !== undefined) query.set('decision', values.decision);
          const listed = await readList<Record<string, unknown>>(
            client,
            `${batchPath}/held-enrolments`,
            query,
            listRequest(),
          );
          const columns = ['requestId', 'deviceId', 'reason', 'decision', 'heldAt', 'enrolmentKeyDigest'];
          print(
            listed.body,
            () =>
              `${table(listed.items, columns)}\n${listed.items.length} of ${listed.total} held devices (from ${listed.offset})`,
            { rows: listed.items, columns },
          );
          io.stderr.write(moreNote(listed, 'held devices'));
          return exitCodes.ok;
        }
        if (verb === 'approve' || verb === 'reject') {
          const requestId = positional(positionals, 3, 'the request id');
          if (!values.device?.length) throw usageError('name the devices to decide with --device <id>...');
          const outcome = (await command(
            `${batchPath}/enrolment-key-requests/${encodeURIComponent(requestId)}/decisions`,
            { deviceIds: values.device, decision: verb },
          )) as { result: { devices: { deviceId: string; outcome: string }[] } };
          print(outcome, () => table(outcome.result.devices, ['deviceId', 'outcome']));
          const decided = verb === 'approve' ? 'approved' : 'rejected';
          return outcome.result.devices.some((d) => d.outcome !== decided) ? exitCodes.refused : exitCodes.ok;
        }
        throw usageError(`unknown: enrolments ${verb}`);
      }
      case 'import': {
        const batchId = positional(positionals, 1, 'the batch id');
        const file = positional(positionals, 2, 'the identity file');
        const text = await readText(file);
        const body = /\.csv$/i.test(file)
          ? text
          : { rows: JSON.parse(text) as unknown, ...(values['import-id'] ? { importId: values['import-id'] } : {}) };
        const path = `/api/batches/${encodeURIComponent(batchId)}/identities${values['import-id'] && typeof body === 'string' ? `?importId=${encodeURIComponent(values['import-id'])}` : ''}`;
        // The import is one request; the bar follows the batch's device count while it runs.
        let finished = false;
        const request = command(path, body).finally(() => (finished = true));
        const watching = values.json
          ? Promise.resolve()
          : follow(batchId, 'importing', (b) => ({
              done: b.devices,
              total: b.expectedSize,
              finished,
              label: 'devices',
            })).catch(() => undefined);
        const outcome = (await request) as {
          result: {
            accepted: number;
            rejected: number;
            rows: { row: number; deviceId?: string; status: string; reason?: string }[];
          };
        };
        await watching;
        const rejected = outcome.result.rows.filter((r) => r.status === 'rejected');
        print(
          outcome,
          () =>
            `${outcome.result.accepted} accepted, ${outcome.result.rejected} rejected${rejected.length ? `\n${table(rejected, ['row', 'deviceId', 'reason'])}` : ''}`,
        );
        return outcome.result.rejected > 0 && outcome.result.accepted === 0 ? exitCodes.refused : exitCodes.ok;
      }
      case 'verify':
      case 'certify':
      case 'onboard': {
        const batchId = positional(positionals, 1, 'the batch id');
        const outcome =
          noun === 'verify'
            ? await command('/api/verifications', { scope: scopeOf(batchId) })
            : noun === 'certify'
              ? await command('/api/certifications', {
                  scope: scopeOf(batchId),
                  ...(values['key-id'] ? { keyId: values['key-id'] } : {}),
                })
              : await command(
                  `/api/batches/${encodeURIComponent(batchId)}/onboarding`,
                  values.target?.length ? { targetIds: values.target } : {},
                );
        const devices = (outcome.result as { devices?: number }).devices ?? 0;
        if (values['no-wait'] || devices === 0) {
          print(outcome, () => `${noun}: ${devices} devices set in motion`);
          return exitCodes.ok;
        }
        const states = {
          verify: ['Verified', 'Certified', 'Onboarded'],
          certify: ['Certified', 'Onboarded'],
          onboard: ['Onboarded'],
        }[noun];
        const batch = await follow(batchId, noun, (b) => {
          const failed = noun === 'verify' ? b.verificationFailures : noun === 'certify' ? b.certificateRejections : 0;
          const done = Math.min(reached(b, states), b.devices);
          const total = values.device?.length ? values.device.length : b.devices;
          return { done, total, finished: done + failed >= total, label: failed ? `(${failed} failed)` : '' };
        });
        print(
          { ...outcome, batch },
          () => `${noun}: ${reached(batch, states)} of ${batch.devices} devices done; states ${statesOf(batch.counts)}`,
        );
        return exitCodes.ok;
      }
      case 'renew': {
        const batchId = positional(positionals, 1, 'the batch id');
        const outcome = (await command('/api/renewals', {
          scope: scopeOf(batchId),
          ...(values.reason ? { reason: values.reason } : {}),
        })) as { result: { operationId: string; devices: number; skipped: number } };
        const { operationId, devices, skipped } = outcome.result;
        if (values['no-wait'] || devices === 0) {
          print(outcome, () => `renewal ${operationId}: ${devices} devices set in motion, ${skipped} skipped`);
          return exitCodes.ok;
        }
        const progressPath = `/api/renewals/${encodeURIComponent(operationId)}/progress`;
        const bar = progressBar(io.stderr, 'renew');
        let last: RenewalProgress;
        for (;;) {
          last = ((await command(progressPath, {})) as { result: RenewalProgress }).result;
          const settled = last.completed + last.expired;
          bar.update(settled, devices, last.expired ? `(${last.expired} expired)` : '');
          if (settled >= devices) break;
          await new Promise((resolve) => setTimeout(resolve, io.pollMs ?? 500));
        }
        bar.finish();
        print(
          { ...outcome, progress: last },
          () =>
            `renewal ${operationId}: ${last.completed} of ${devices} devices renewed (old certificates revoked), ${last.expired} expired, ${skipped} skipped`,
        );
        return last.expired > 0 ? exitCodes.refused : exitCodes.ok;
      }
      case 'renewals': {
        const operationId = positional(positionals, 2, 'the operation id');
        if (verb !== 'progress') throw usageError('renewals progress <operationId>');
        const outcome = (await command(`/api/renewals/${encodeURIComponent(operationId)}/progress`, {})) as {
          result: RenewalProgress;
        };
        print(outcome, () => keyValues(outcome.result as unknown as Record<string, unknown>));
        return exitCodes.ok;
      }
      case 'watch': {
        const types = values.type?.flatMap((t) => t.split(','));
        const unknown = types?.find((t) => !(watchTypes as readonly string[]).includes(t));
        if (unknown) throw usageError(`--type takes ${watchTypes.join(', ')} (not ${unknown})`);
        const count = integer(values.count, 'count');
        return await watchEvents(client, {
          ...(values.batch ? { batchId: values.batch } : {}),
          ...(values.device ? { deviceIds: values.device } : {}),
          ...(types ? { types } : {}),
          ...(count !== undefined ? { count } : {}),
          format,
          headers: !values['no-headers'],
          stdout: io.stdout,
          stderr: io.stderr,
        });
      }
      case 'revocations': {
        if (verb !== 'status') throw usageError('revocations status [--batch <id>] | revocations status <deviceId>');
        return await revocationStatus(positionals[2]);
      }
      case 'completion': {
        if (verb !== 'bash') throw usageError('completion bash (zsh: autoload bashcompinit && bashcompinit first)');
        io.stdout.write(bashCompletion(usage, Object.keys(options)));
        return exitCodes.ok;
      }
      case 'revoke': {
        const id = positional(positionals, 2, 'the id');
        const reason = required(values, 'reason');
        if (verb !== 'device' && verb !== 'batch') throw usageError('revoke device <id> | revoke batch <id>');
        const outcome = await command(
          `/api/${verb === 'device' ? 'devices' : 'batches'}/${encodeURIComponent(id)}/revocation`,
          { reason },
        );
        print(outcome, () => `revocation started: ${JSON.stringify(outcome.result)}`);
        return exitCodes.ok;
      }
      case 'devices': {
        if (verb === 'transfer')
          return await runTransferCli({ client, values, positionals, command, print, usageError });
        if (verb === 'list' || verb === undefined || verb === 'export') {
          const query = deviceFilter(values);
          const exporting = verb === 'export';
          const listed = await readList<Record<string, unknown>>(
            client,
            '/api/devices',
            query,
            exporting ? { all: true } : { limit: 50, ...listRequest() },
          );
          const rows = listed.items.map(deviceRow);
          if (!exporting) {
            printList(listed, 'devices', deviceColumns, rows);
            return exitCodes.ok;
          }
          // An export is every matching device, csv unless -o says otherwise, to stdout or --file.
          const fileFormat = values.output || values.json ? format : 'csv';
          let text = '';
          printer({ write: (t: string) => (text += t) }, fileFormat, !values['no-headers']).print(
            listed.items,
            () => table(rows, [...deviceColumns.columns, ...deviceColumns.wide]),
            { rows, columns: [...deviceColumns.columns, ...deviceColumns.wide] },
          );
          if (values.file) {
            await writeFile(values.file, text);
            io.stderr.write(`${listed.items.length} devices written to ${values.file}\n`);
          } else io.stdout.write(text);
          return exitCodes.ok;
        }
        const id = positional(positionals, 2, 'the device id');
        if (verb === 'show') {
          const device = await client.request<Record<string, unknown>>('GET', `/api/devices/${encodeURIComponent(id)}`);
          const cert = device.certificate as Record<string, unknown> | undefined;
          print(device, () =>
            keyValues({
              device: device.deviceId,
              batch: device.batchId,
              state: device.state,
              connection: device.connection,
              subject: cert?.subject,
              issuer: cert?.issuer,
              serial: cert?.serialNumber,
              validity: cert ? `${cert.notBefore} .. ${cert.notAfter}` : undefined,
              'sha-256': cert?.fingerprintSha256,
              chain: cert ? (cert.chain as { subject: string }[]).map((c) => c.subject).join(' <- ') : undefined,
              telemetry: device.telemetry,
            }),
          );
          return exitCodes.ok;
        }
        if (verb === 'history') {
          const listed = await readList<Record<string, unknown>>(
            client,
            `/api/devices/${encodeURIComponent(id)}/history`,
            new URLSearchParams(),
            { limit: 100, ...listRequest() },
            'events',
          );
          const rows = listed.items.map((e) => ({
            ...e,
            actor: (e.actor as { id?: string } | undefined)?.id,
            reports: e.reports ?? '',
          }));
          printList(
            listed,
            'events',
            {
              columns: ['occurredAt', 'context', 'type', 'reports', 'actor'],
              wide: ['sequence', 'correlationId', 'causationId'],
            },
            rows,
          );
          return exitCodes.ok;
        }
        throw usageError(`unknown: devices ${verb}`);
      }
      case 'tokens': {
        if (verb === 'list' || verb === undefined) {
          const list = await client.request<{ items: Record<string, unknown>[] }>('GET', '/api/tokens');
          print(list, () => table(list.items, ['id', 'name', 'role', 'createdAt', 'createdBy', 'revokedAt']));
          return exitCodes.ok;
        }
        if (verb === 'create') {
          const issued = await client.request<{ token: string; record: Record<string, unknown> }>(
            'POST',
            '/api/tokens',
            { name: required(values, 'name'), role: required(values, 'role') },
          );
          print(issued, () => `${issued.token}\n(shown once: store it now)`);
          return exitCodes.ok;
        }
        if (verb === 'revoke') {
          const revoked = await client.request<Record<string, unknown>>(
            'DELETE',
            `/api/tokens/${encodeURIComponent(positional(positionals, 2, 'the token id'))}`,
          );
          print(revoked, () => `token ${revoked.id} revoked`);
          return exitCodes.ok;
        }
        throw usageError(`unknown: tokens ${verb}`);
      }
      default:
        throw usageError(`unknown command: ${noun}`);
    }
  } catch (error) {
    if (error instanceof CliError) {
      if (format === 'json' && error.body !== undefined) io.stdout.write(`${JSON.stringify(error.body, null, 2)}\n`);
      io.stderr.write(`tunnelkey: ${error.message}\n`);
      return error.exitCode;
    }
    if (error instanceof SyntaxError) {
      io.stderr.write(`tunnelkey: the file is not valid JSON\n`);
      return exitCodes.usage;
    }
    io.stderr.write(`tunnelkey: ${(error as Error).message}\n`);
    return exitCodes.unavailable;
  }
}

const deviceColumns = {
  columns: ['deviceId', 'batchId', 'state', 'connection', 'messagesTotal', 'serial', 'problem'],
  wide: ['stateChangedAt', 'lastTelemetryAt', 'targets', 'notAfter', 'fingerprintSha256'],
};

/** A device summary as a row: its certificate and targets flattened into cells. */
function deviceRow(device: Record<string, unknown>): Record<string, unknown> {
  const certificate = device.certificate as Record<string, unknown> | undefined;
  const targets = (device.targets ?? []) as { targetId: string; status: string; connected?: boolean }[];
  return {
    ...device,
    serial: certificate?.serialNumber,
    notAfter: certificate?.notAfter,
    fingerprintSha256: certificate?.fingerprintSha256,
    targets: targets.map((t) => `${t.targetId}:${t.status}${t.connected ? '+connected' : ''}`).join(' '),
  };
}

/** `--batch`, `--state`, `--target`, `--connection`, `--q`, `--sort` as the device list's query (the gateway checks them). */
function deviceFilter(values: Values): URLSearchParams {
  const query = new URLSearchParams();
  for (const [option, param] of [
    ['batch', 'batchId'],
    ['state', 'state'],
    ['target', 'targetId'],
    ['connection', 'connection'],
    ['q', 'q'],
    ['sort', 'sort'],
  ] as const) {
    const value = values[option];
    if (typeof value === 'string') query.set(param, value);
    else if (Array.isArray(value) && value[0]) query.set(param, value[0]);
  }
  return query;
}

/** A revoked device is done once no target still has it onboarded and it is connected nowhere. */
function revocationDone(
  state: unknown,
  targets: readonly { status: string; connected?: boolean }[],
  connection: unknown,
) {
  if (state !== 'Revoked') return 'no: not revoked';
  if (targets.some((t) => t.status === 'onboarded')) return 'no: still onboarded at a target';
  if (connection === 'connected' || targets.some((t) => t.connected)) return 'no: still connected';
  return 'yes';
}

function statesOf(counts: Record<string, number> | undefined): string {
  return Object.entries(counts ?? {})
    .filter(([, n]) => n > 0)
    .map(([state, n]) => `${state}:${n}`)
    .join(' ');
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read ${file}`, exitCodes.usage, undefined, { cause: error });
  }
}
