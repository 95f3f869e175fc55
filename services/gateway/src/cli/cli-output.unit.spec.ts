import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { toCsv, toYaml } from './output.js';
import { runCli, type CliIo } from './run-cli.js';

// Issue 19: output formats, paging that never cuts silently, watch on live events, revocation
// status, export, per-command help and bash completion. The gateway is a double answering like the
// real routes (paged with limit/offset); the int test (cli.e2e.spec.ts) runs against a real one.
interface Call {
  method: string;
  path: string;
}

const devices = Array.from({ length: 1_203 }, (_, i) => ({
  deviceId: `d-${String(i).padStart(4, '0')}`,
  batchId: 'b-1',
  state: i % 100 === 0 ? 'Revoked' : 'Onboarded',
  stateChangedAt: '2026-01-01T00:00:00.000Z',
  connection: i === 100 ? 'connected' : 'disconnected',
  targets: [{ targetId: 't-1', status: i === 200 ? 'onboarded' : 'deprovisioned', connected: i === 100 }],
  messagesTotal: i,
  certificate: { serialNumber: `0a${i}`, notAfter: '2027-01-01T00:00:00.000Z', fingerprintSha256: 'ab' },
  ...(i === 7 ? { problem: 'has, "comma" and quotes' } : {}),
}));

function gatewayDouble(sse = '') {
  const calls: Call[] = [];
  let out = '';
  let err = '';
  const io: CliIo = {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (err += text) },
    env: { TUNNELKEY_URL: 'http://gateway.test', TUNNELKEY_TOKEN: 'tk_test' },
    fetch: (async (input: URL | string, init?: RequestInit) => {
      const url = new URL(String(input));
      calls.push({ method: init?.method ?? 'GET', path: `${url.pathname}${url.search}` });
      if (url.pathname === '/events')
        return new Response(new Blob([sse]).stream(), { headers: { 'content-type': 'text/event-stream' } });
      if (url.pathname === '/api/devices') {
        const limit = Number(url.searchParams.get('limit') ?? 50);
        const offset = Number(url.searchParams.get('offset') ?? 0);
        const state = url.searchParams.get('state');
        const q = url.searchParams.get('q');
        const sort = url.searchParams.get('sort');
        // The one sort this double knows; anything else answered as the gateway answers an unknown field.
        if (sort !== null && sort !== 'deviceId:desc')
          return Response.json(
            { error: { code: 'MALFORMED', message: 'query parameter sort must be <field>[:asc|:desc], ...' } },
            { status: 400 },
          );
        const all = devices.filter((d) => (!state || d.state === state) && (!q || d.deviceId.startsWith(q)));
        if (sort) all.reverse();
        return Response.json({ items: all.slice(offset, offset + limit), total: all.length, limit, offset });
      }
      const device = devices.find((d) => url.pathname === `/api/devices/${d.deviceId}`);
      if (device)
        return Response.json({
          ...device,
          revocation: { revocationId: 'r-1', reason: 'keyCompromise', revokedAt: 'x' },
        });
      return Response.json({ error: { code: 'NOT_FOUND', message: 'no' } }, { status: 404 });
    }) as typeof fetch,
  };
  return { io, calls, out: () => out, err: () => err };
}

describe('CLI output formats', () => {
  it('writes RFC 4180 CSV: quotes a field with a comma, quote or line break', () => {
    expect(toCsv([{ a: 'x,y', b: 'say "hi"', c: 'line\nbreak', d: 3, e: undefined }], ['a', 'b', 'c', 'd', 'e'])).toBe(
      'a,b,c,d,e\r\n"x,y","say ""hi""","line\nbreak",3,',
    );
  });

  it('writes YAML that reads back as the same value, whatever the strings look like', () => {
    const value = {
      plain: 'd-0001',
      number: 12,
      numericString: '0012',
      bool: 'true',
      date: '2026-01-01T00:00:00.000Z',
      colon: 'a: b',
      hash: '# not a comment',
      empty: '',
      multi: 'two\nlines',
      nested: { list: [1, 'two', { three: 3 }], emptyList: [], emptyObject: {}, nil: null },
      'odd key': true,
    };
    expect(parseYaml(toYaml(value))).toEqual(value);
  });
});

describe('tunnelkey lists: one page by default, never cut silently', () => {
  it('devices list shows one page and says on stderr what was left out', async () => {
    const run = gatewayDouble();
    expect(await runCli(['devices', 'list'], run.io)).toBe(0);
    expect(run.calls).toEqual([{ method: 'GET', path: '/api/devices?limit=50&offset=0' }]);
    expect(run.out()).toContain('d-0049');
    expect(run.out()).not.toContain('d-0050');
    expect(run.err()).toBe('1-50 of 1203 devices shown: --all for every one, --offset 50 for the next page\n');
  });

  it('--all reads every page (of at most 500) and prints every device, csv without headers', async () => {
    const run = gatewayDouble();
    expect(await runCli(['devices', 'list', '--all', '-o', 'csv', '--no-headers'], run.io)).toBe(0);
    expect(run.calls.map((c) => c.path)).toEqual([
      '/api/devices?limit=500&offset=0',
      '/api/devices?limit=500&offset=500',
      '/api/devices?limit=500&offset=1000',
    ]);
    const lines = run.out().trimEnd().split('\r\n');
    expect(lines).toHaveLength(1_203);
    expect(lines[0]).toMatch(/^d-0000,b-1,Revoked,/);
    expect(lines[7]).toContain('"has, ""comma"" and quotes"');
    expect(run.err()).toBe('');
  });

  it('--q filters by id prefix; -o yaml prints the page as YAML; -o wide adds columns', async () => {
    const run = gatewayDouble();
    expect(await runCli(['devices', 'list', '--q', 'd-001', '-o', 'yaml'], run.io)).toBe(0);
    expect(run.calls[0]!.path).toBe('/api/devices?q=d-001&limit=50&offset=0');
    const page = parseYaml(run.out()) as { items: { deviceId: string }[]; total: number };
    expect(page.total).toBe(10);
    expect(page.items[0]!.deviceId).toBe('d-0010');
    const wide = gatewayDouble();
    await runCli(['devices', 'list', '--limit', '2', '-o', 'wide'], wide.io);
    expect(wide.out().split('\n')[0]).toMatch(/DEVICEID.*SERIAL.*PROBLEM.*STATECHANGEDAT.*TARGETS.*NOTAFTER/);
  });

  it('--sort asks the gateway for the fleet in that order, every page in it with --all', async () => {
    const run = gatewayDouble();
    expect(
      await runCli(['devices', 'list', '--sort', 'deviceId:desc', '--all', '-o', 'csv', '--no-headers'], run.io),
    ).toBe(0);
    expect(run.calls.map((c) => c.path)).toEqual([
      '/api/devices?sort=deviceId%3Adesc&limit=500&offset=0',
      '/api/devices?sort=deviceId%3Adesc&limit=500&offset=500',
      '/api/devices?sort=deviceId%3Adesc&limit=500&offset=1000',
    ]);
    const ids = run
      .out()
      .trimEnd()
      .split('\r\n')
      .map((line) => line.split(',')[0]);
    expect(ids[0]).toBe('d-1202');
    expect(ids.at(-1)).toBe('d-0000');
    const bad = gatewayDouble();
    expect(await runCli(['devices', 'list', '--sort', 'colour'], bad.io)).toBe(3);
    expect(bad.err()).toContain('query parameter sort must be');
    expect(bad.calls.map((c) => c.path)).toEqual(['/api/devices?sort=colour&limit=50&offset=0']);
  });

  it('refuses an unknown output format, asking nothing of the gateway', async () => {
    const run = gatewayDouble();
    expect(await runCli(['devices', 'list', '-o', 'xml'], run.io)).toBe(2);
    expect(run.err()).toContain('-o must be one of table, wide, json, yaml, csv');
    expect(run.calls).toEqual([]);
  });
});

describe('tunnelkey devices export', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tk-export-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('writes every matching device to a CSV file with the wide columns', async () => {
    const run = gatewayDouble();
    const file = join(dir, 'revoked.csv');
    expect(await runCli(['devices', 'export', '--state', 'Revoked', '--file', file], run.io)).toBe(0);
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\r\n');
    expect(lines[0]).toBe(
      'deviceId,batchId,state,connection,messagesTotal,serial,problem,stateChangedAt,lastTelemetryAt,targets,notAfter,fingerprintSha256',
    );
    expect(lines).toHaveLength(1 + 13);
    expect(run.err()).toContain('13 devices written to');
    expect(run.out()).toBe('');
  });
});

describe('tunnelkey revocations status', () => {
  it('lists revoked devices and which are not done (still onboarded at a target, or connected)', async () => {
    const run = gatewayDouble();
    expect(await runCli(['revocations', 'status', '--all', '-o', 'csv'], run.io)).toBe(0);
    expect(run.calls[0]!.path).toBe('/api/devices?state=Revoked&limit=500&offset=0');
    const rows = run.out().trimEnd().split('\r\n');
    expect(rows).toHaveLength(1 + 13);
    expect(rows.find((r) => r.startsWith('d-0100,'))).toContain('no: still connected');
    expect(rows.find((r) => r.startsWith('d-0200,'))).toContain('no: still onboarded at a target');
    expect(rows.find((r) => r.startsWith('d-0300,'))).toMatch(/,yes$/);
  });

  it("shows one device's revocation, and exits 3 for a device that is not revoked", async () => {
    const revoked = gatewayDouble();
    expect(await runCli(['revocations', 'status', 'd-0300'], revoked.io)).toBe(0);
    expect(revoked.out()).toMatch(/reason\s+keyCompromise/);
    expect(revoked.out()).toMatch(/done\s+yes/);
    const active = gatewayDouble();
    expect(await runCli(['revocations', 'status', 'd-0301'], active.io)).toBe(3);
    expect(active.out()).toMatch(/done\s+no: not revoked/);
  });
});

describe('tunnelkey watch', () => {
  const sse = [
    'event: hello\ndata: {"name":"olivia","role":"viewer","ready":true}\n\n',
    'event: ping\ndata: {}\n\n',
    'event: device\ndata: {"deviceId":"d-1","state":"Revoked","connection":"disconnected","messagesTotal":3}\n\n',
    ': a comment\n\n',
    'event: batch\ndata: {"batchId":"b-1","counts":{"Onboarded":9,"Revoked":1},"connected":8}\n\n',
    'event: device\ndata: {"deviceId":"d-2","state":"Onboarded","connection":"connected","messagesTotal":5}\n\n',
  ].join('');

  it('prints each live event as it comes, skipping pings, until --count', async () => {
    const run = gatewayDouble(sse);
    expect(await runCli(['watch', '--count', '2'], run.io)).toBe(0);
    expect(run.calls).toEqual([{ method: 'GET', path: '/events' }]);
    expect(run.err()).toContain('watching live events as olivia (viewer)');
    const lines = run.out().trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/device\s+d-1\s+Revoked, disconnected, messages 3/);
    expect(lines[1]).toMatch(/batch\s+b-1\s+Onboarded 9, Revoked 1, connected 8/);
  });

  it('filters by --type and --batch, one JSON object per line with -o json', async () => {
    const run = gatewayDouble(sse);
    expect(await runCli(['watch', '--type', 'device', '--batch', 'b-1', '-o', 'json'], run.io)).toBe(0);
    expect(run.calls[0]!.path).toBe('/events?batchId=b-1');
    const events = run
      .out()
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; data: { deviceId: string } });
    expect(events.map((e) => [e.type, e.data.deviceId])).toEqual([
      ['device', 'd-1'],
      ['device', 'd-2'],
    ]);
  });

  it('shows only the named devices with --device', async () => {
    const run = gatewayDouble(sse);
    expect(await runCli(['watch', '--device', 'd-2', '-o', 'json'], run.io)).toBe(0);
    const events = run
      .out()
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; data: { deviceId: string } });
    expect(events.map((e) => [e.type, e.data.deviceId])).toEqual([['device', 'd-2']]);
  });

  it('refuses an unknown event type', async () => {
    const run = gatewayDouble(sse);
    expect(await runCli(['watch', '--type', 'nope'], run.io)).toBe(2);
    expect(run.calls).toEqual([]);
  });
});

describe('tunnelkey help and completion', () => {
  it('answers a command --help with its usage and examples', async () => {
    const run = gatewayDouble();
    expect(await runCli(['devices', 'list', '--help'], run.io)).toBe(0);
    expect(run.out()).toContain('tunnelkey devices list [--batch <id>]');
    expect(run.out()).toContain('Examples:\n  tunnelkey devices list --state Onboarded --connection connected');
    expect(run.out()).not.toContain('tunnelkey tokens list');
    const ota = gatewayDouble();
    expect(await runCli(['rollout', '--help'], ota.io)).toBe(0);
    expect(ota.out()).toContain('tunnelkey rollout status <rolloutId> [--watch]');
  });

  it('prints a bash completion that bash accepts and that completes nouns, verbs and -o values', async () => {
    const run = gatewayDouble();
    expect(await runCli(['completion', 'bash'], run.io)).toBe(0);
    const complete = (words: string[]) =>
      execFileSync(
        'bash',
        [
          '-c',
          `${run.out()}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _tunnelkey; echo "\${COMPREPLY[*]}"`,
        ],
        { encoding: 'utf8' },
      ).trim();
    expect(complete(['tunnelkey', 'dev'])).toBe('devices');
    expect(complete(['tunnelkey', 'devices', '']).split(' ').sort()).toEqual([
      'export',
      'history',
      'list',
      'show',
      'transfer',
    ]);
    expect(complete(['tunnelkey', 'revocations', 'st'])).toBe('status');
    expect(complete(['tunnelkey', 'devices', 'list', '-o', 'y'])).toBe('yaml');
    expect(complete(['tunnelkey', 'devices', 'list', '--no-h'])).toBe('--no-headers');
  });
});
