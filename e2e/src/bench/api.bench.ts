/**
 * `npm run bench:api`: the gateway's read side under load. The read models hold API_DEVICES
 * devices (10,000) and one of them API_TELEMETRY_EVENTS telemetry reports (10,000); then `wrk`
 * (Debian's package) sends the list, detail and history queries, and /health as the ceiling (the
 * same server, the same HTTP stack, no read model), each for API_SECONDS (10 s) with API_CLIENTS
 * (50) connections, and prints p50/p99, requests/s and this process's CPU time per request (the gateway
 * runs in it) per route next to the targets, with the gateway's event-loop delay (p99, max) and GC
 * pauses during the run (a p99 far above them is queueing behind the other clients and time the
 * process waited for a core).
 * /health is measured again right before each route and the route's rate compared with that run
 * (the machine's other load drifts from minute to minute). Each route is first run API_WARMUP_SECONDS (3 s)
 * unmeasured, its figures printed apart: the gateway keeps each device's list entry and detail once
 * derived (services/gateway/src/queries/kept-devices.ts), and a fresh one derives them at first read.
 *
 * The read models are filled by appending generated events straight into a fresh namespace's
 * streams (not by running the fleet): every device imported, verified, certified, onboarded,
 * connected and reporting once, as the services would have recorded them, so the gateway rebuilds
 * its views from a real JetStream log at start like in production. Detail requests pick a device at
 * random (a Lua script per route), list requests a page at random.
 *
 * Also printed: the rebuild time, the gateway process's heap with its views full, and one read of
 * the busy device's log (what GET .../history did before it had a read model).
 *
 * To look into one route: API_ROUTES, a regular expression, measures only the routes it matches
 * (and /health next to each); API_PROFILE, a directory, gets a V8 CPU profile of every measured run
 * (`<route>.cpuprofile`: Chrome DevTools or speedscope open it).
 */
import 'reflect-metadata';
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { JetStreamEventStore } from '@tunnelkey/eventstore-jetstream';
import { startGateway, type RunningGateway } from '@tunnelkey/gateway';
import { natsFixture, type NatsFixture } from '@tunnelkey/testing';
import { pino } from 'pino';
import { appendGeneratedFleet, generatedOwnerId } from '../support/generated-fleet.js';
import { MissingPrerequisiteError, useOrStartNats, type NatsServer } from '../support/infrastructure.js';
import { ProgressBar } from '../support/progress-bar.js';

const run = promisify(execFile);
const log = (line = '') => process.stderr.write(`${line}\n`);
const size = (name: string, fallback: number): number => {
  const n = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
  return n;
};

const devices = size('API_DEVICES', 10_000);
const telemetryEvents = size('API_TELEMETRY_EVENTS', 10_000);
const seconds = size('API_SECONDS', 10);
const clients = size('API_CLIENTS', 50);
/** Each route is first sent requests for this long, unmeasured: the gateway fills what it keeps per device (0: none). */
const warmupSeconds = Number(process.env['API_WARMUP_SECONDS'] ?? 3);
if (!Number.isInteger(warmupSeconds) || warmupSeconds < 0)
  throw new Error('API_WARMUP_SECONDS must be an integer >= 0');
/** Only the routes whose name matches this regular expression (`page|\{id\}$`); /health is always measured. */
const onlyRoutes = new RegExp(process.env['API_ROUTES']?.trim() || '.');
/** A directory: each measured run's CPU profile (V8's, `<route>.cpuprofile`) is written there. */
const profileDir = process.env['API_PROFILE']?.trim() || undefined;
const busyDevice = 'd-busy';
/** Device 0 is the busy one; the others are d-000001 ... */
const deviceIdOf = (i: number) => (i === 0 ? busyDevice : `d-${String(i).padStart(6, '0')}`);

interface Measured {
  route: string;
  p50: number;
  p99: number;
  rate: number;
  errors: number;
  /** CPU time of this process (the gateway's, plus the bench's idle loop) per request served, microseconds. */
  cpuUs: number;
  /** The gateway's event loop (it runs in this process): p99 and max delay, ms. */
  loopP99: number;
  loopMax: number;
  /** Garbage collection pauses during the run: their sum and the longest, ms. */
  gcMs: number;
  gcMaxMs: number;
}

/** wrk's `--latency` distribution and rate; milliseconds. */
export function parseWrk(output: string): {
  p50: number;
  p99: number;
  rate: number;
  errors: number;
  requests: number;
} {
  const ms = (value: string, unit: string) => Number(value) * ({ us: 0.001, ms: 1, s: 1000, m: 60_000 }[unit] ?? NaN);
  const at = (p: string) => {
    const m = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(output);
    return m ? ms(m[1]!, m[2]!) : NaN;
  };
  const rate = Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1] ?? NaN);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(output)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const errors = non2xx + (socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0);
  const requests = Number(/(\d+) requests in /.exec(output)?.[1] ?? NaN);
  return { p50: at('50'), p99: at('99'), rate, errors, requests };
}

async function wrk(
  url: string,
  token: string,
  script: string,
  dir: string,
  route: string,
  duration = seconds,
  profile?: string,
): Promise<Measured> {
  const file = join(dir, `${route.replace(/\W+/g, '-')}.lua`);
  await writeFile(file, script);
  const args = [
    '-t1',
    `-c${clients}`,
    `-d${duration}s`,
    '--latency',
    '-s',
    file,
    '-H',
    `Authorization: Bearer ${token}`,
    url,
  ];
  const loop = monitorEventLoopDelay({ resolution: 10 });
  const pauses: number[] = [];
  const gc = new PerformanceObserver((list) => pauses.push(...list.getEntries().map((entry) => entry.duration)));
  gc.observe({ entryTypes: ['gc'] });
  loop.enable();
  const profiler = profile ? await startProfile() : undefined;
  const cpuBefore = process.cpuUsage();
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.once('error', (error) =>
      reject(new MissingPrerequisiteError('cannot start wrk', 'sudo apt-get install -y wrk', { cause: error })),
    );
    child.once('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`wrk exited ${code}:\n${text}`))));
  });
  const cpu = process.cpuUsage(cpuBefore);
  if (profiler) await profiler.stop(join(profile!, `${route.replace(/\W+/g, '-')}.cpuprofile`));
  loop.disable();
  gc.disconnect();
  const { requests, ...measured } = parseWrk(output);
  return {
    route,
    ...measured,
    cpuUs: (cpu.user + cpu.system) / requests,
    loopP99: loop.percentile(99) / 1e6,
    loopMax: loop.max / 1e6,
    gcMs: pauses.reduce((sum, ms) => sum + ms, 0),
    gcMaxMs: Math.max(0, ...pauses),
  };
}

/** V8's CPU profiler on this process (the gateway's), until `stop` writes the profile to a file. */
async function startProfile(): Promise<{ stop(file: string): Promise<void> }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  return {
    async stop(file) {
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      await writeFile(file, JSON.stringify(profile));
    },
  };
}

/** A wrk script whose every request is `path()` (Lua), so each request may ask for another device or page. */
const pathScript = (lua: string) =>
  `math.randomseed(42)\nrequest = function()\n  return wrk.format(nil, ${lua})\nend\n`;

async function main(): Promise<void> {
  const logger = pino({ level: process.env['LOG_LEVEL'] ?? 'warn' });
  let nats: NatsServer | undefined;
  let fixture: NatsFixture | undefined;
  let gateway: RunningGateway | undefined;
  const dir = await mkdtemp(join(tmpdir(), 'tk-bench-api-'));
  const stopAll = async () => {
    await gateway?.stop().catch(() => undefined);
    await fixture?.teardown().catch(() => undefined);
    await nats?.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await run('wrk', ['--version']).catch((error: { code?: string }) => {
      if (error.code === 'ENOENT')
        throw new MissingPrerequisiteError('wrk is not installed', 'sudo apt-get install -y wrk', { cause: error });
    });
    nats = await useOrStartNats(log);
    fixture = natsFixture({ url: nats.url, prefix: 'benchapi' });
    await fixture.setup();
    const namespace = fixture.namespace;
    log(
      `bench:api — ${devices} devices in the read models, one with ${telemetryEvents} telemetry reports; wrk ${clients} connections, ${seconds} s per route`,
    );
    const store = new JetStreamEventStore(fixture.nc, { namespace, logger });
    const filled = Date.now();
    const bar = new ProgressBar('appending generated events (not timed)');
    const { events: appended } = await appendGeneratedFleet(store, {
      batchId: 'bench-batch',
      devices,
      deviceIdOf,
      firstDeviceReports: telemetryEvents,
      progress: (done, total) => bar.update(done, total),
    });
    bar.finish();
    log(`appended ${appended} events in ${((Date.now() - filled) / 1000).toFixed(1)} s`);

    const logRead = Date.now();
    const fromLog = await store.read({ context: 'onboarding', aggregate: 'device', id: busyDevice });
    const logReadMs = Date.now() - logRead;
    log(`before: the busy device's onboarding events read from the log: ${fromLog.events.length} in ${logReadMs} ms`);

    const adminToken = `bench-admin-${randomUUID()}`;
    const started = Date.now();
    gateway = await startGateway({
      nats: fixture.nc,
      namespace,
      httpPort: 0,
      adminToken,
      // The bench measures the read side, not the per-token limit that protects it.
      rateLimit: 1_000_000,
      logger,
      announce: () => undefined,
    });
    const rebuildMs = Date.now() - started;
    (globalThis as { gc?: () => void }).gc?.();
    const heapMb = process.memoryUsage().heapUsed / 2 ** 20;
    log(
      `gateway ready (read models rebuilt from the log) in ${(rebuildMs / 1000).toFixed(1)} s; heap ${heapMb.toFixed(0)} MB`,
    );

    const url = gateway.url;
    // A viewer's token of the fleet's owner, as a console or script would hold (checked against the
    // token store per request; its lists are filtered to the owner's batches).
    const issued = await fetch(`${url}/api/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench-viewer', role: 'viewer', ownerId: generatedOwnerId }),
    });
    const viewerToken = ((await issued.json()) as { token: string }).token;
    const check = await fetch(`${url}/api/devices/${busyDevice}/history`, {
      headers: { authorization: `Bearer ${viewerToken}` },
    });
    const busy = (await check.json()) as { total: number; events: { type: string; reports?: number }[] };
    const folded = busy.events.find((e) => e.type === 'TelemetryReceived')?.reports;
    if (check.status !== 200 || folded !== telemetryEvents)
      throw new Error(`the busy device's history is not what was appended: ${check.status}, ${folded} reports`);
    // The viewer sees the whole fleet (its owner's): a list answered empty would measure nothing.
    const listed = await fetch(`${url}/api/devices?limit=1`, { headers: { authorization: `Bearer ${viewerToken}` } });
    const listedTotal = ((await listed.json()) as { total?: number }).total;
    if (listed.status !== 200 || listedTotal !== devices)
      throw new Error(`the viewer's device list is not the fleet: ${listed.status}, ${listedTotal} devices`);

    const health = pathScript('"/health"');
    const routes: [string, string][] = [
      ['GET /health (ceiling)', health],
      [
        'GET /api/devices (a page of 50)',
        pathScript(`"/api/devices?limit=50&offset=" .. math.random(0, ${devices - 50})`),
      ],
      [
        'GET /api/devices?state=Onboarded',
        pathScript(`"/api/devices?state=Onboarded&limit=50&offset=" .. math.random(0, ${devices - 50})`),
      ],
      [
        'GET /api/devices/{id}',
        pathScript(`"/api/devices/d-" .. string.format("%06d", math.random(1, ${devices - 1}))`),
      ],
      [
        'GET /api/devices/{id}/history',
        pathScript(`"/api/devices/d-" .. string.format("%06d", math.random(1, ${devices - 1})) .. "/history"`),
      ],
      [
        `GET /api/devices/{busy}/history (${telemetryEvents} reports)`,
        pathScript(`"/api/devices/${busyDevice}/history"`),
      ],
    ];
    const measured = routes.filter(([route]) => route.startsWith('GET /health') || onlyRoutes.test(route));
    if (profileDir) await mkdir(profileDir, { recursive: true });
    const load = loadavg();
    const results: Measured[] = [];
    const warmups: Measured[] = [];
    // /health again right before each route: the machine's other load drifts within minutes, so a
    // route is compared with the ceiling measured next to it, not with one from minutes before.
    const ceilings = new Map<string, Measured>();
    for (const [route, script] of measured) {
      if (warmupSeconds > 0) {
        log(`wrk: ${route} (warm-up, ${warmupSeconds} s, not measured)`);
        warmups.push(await wrk(url, viewerToken, script, dir, route, warmupSeconds));
      }
      if (!route.startsWith('GET /health')) {
        log(`wrk: GET /health (the ceiling next to ${route})`);
        ceilings.set(
          route,
          await wrk(url, viewerToken, health, dir, `GET /health next to ${route}`, seconds, profileDir),
        );
      }
      log(`wrk: ${route}`);
      results.push(await wrk(url, viewerToken, script, dir, route, seconds, profileDir));
    }
    const after = loadavg();
    const ceilingOf = (m: Measured) => (ceilings.get(m.route) ?? results[0]!).rate;
    const target = (route: string) =>
      route.startsWith('GET /health')
        ? ''
        : route.includes('history')
          ? 'p99 < 100 ms'
          : 'p99 < 50 ms, rate >= 50 % of /health';
    const met = (m: Measured) =>
      m.route.startsWith('GET /health')
        ? ''
        : m.route.includes('history')
          ? m.p99 < 100
            ? 'met'
            : 'MISSED'
          : m.p99 < 50 && m.rate >= ceilingOf(m) / 2
            ? 'met'
            : 'MISSED';
    log('');
    log(
      `| route | p50 ms | p99 ms | requests/s | /health next to it, requests/s (p99 ms) | of /health | CPU µs/request | event loop delay p99 / max ms | GC pauses ms (longest) | errors | target | |`,
    );
    log(`| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |`);
    for (const m of results) {
      const next = ceilings.get(m.route) ?? m;
      log(
        `| ${m.route} | ${m.p50.toFixed(2)} | ${m.p99.toFixed(2)} | ${m.rate.toFixed(0)} | ${next.rate.toFixed(0)} (${next.p99.toFixed(0)}) | ${((100 * m.rate) / ceilingOf(m)).toFixed(0)} % | ${m.cpuUs.toFixed(0)} | ${m.loopP99.toFixed(1)} / ${m.loopMax.toFixed(1)} | ${m.gcMs.toFixed(0)} (${m.gcMaxMs.toFixed(1)}) | ${m.errors} | ${target(m.route)} | ${met(m)} |`,
      );
    }
    if (warmups.length > 0) {
      // A fresh gateway derives each device's list entry and detail at its first read (then keeps it).
      log('');
      log(`Warm-up runs (${warmupSeconds} s each, the gateway's kept device entries filling):`);
      log(`| route | p50 ms | p99 ms | requests/s | CPU µs/request | errors |`);
      log(`| --- | --- | --- | --- | --- | --- |`);
      for (const m of warmups)
        log(
          `| ${m.route} | ${m.p50.toFixed(2)} | ${m.p99.toFixed(2)} | ${m.rate.toFixed(0)} | ${m.cpuUs.toFixed(0)} | ${m.errors} |`,
        );
    }
    log('');
    log(
      `${devices} devices, ${appended} events; rebuild ${(rebuildMs / 1000).toFixed(1)} s, heap ${heapMb.toFixed(0)} MB; ` +
        `the busy device's log read ${logReadMs} ms (${fromLog.events.length} events); ${clients} connections, ${seconds} s per route; ` +
        `load average ${load.map((l) => l.toFixed(2)).join(' ')} before, ${after.map((l) => l.toFixed(2)).join(' ')} after`,
    );
    if (results.some((m) => m.errors > 0)) process.exitCode = 1;
  } finally {
    await stopAll();
  }
}

main().catch((error: unknown) => {
  if (error instanceof MissingPrerequisiteError) log(`bench:api: ${error.message}; install with: ${error.install}`);
  else log(`bench:api failed: ${(error as Error).stack ?? String(error)}`);
  process.exit(1);
});
