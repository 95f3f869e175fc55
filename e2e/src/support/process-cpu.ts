/**
 * CPU time as the kernel accounts it (Linux /proc), for benches that must tell apart whose cycles
 * a run cost: the platform's processes (this one, the NATS server) and the simulated devices (a
 * child process, whose silicon threads run at nice 19). Read, never estimated: utime + stime of a
 * process or of each of its threads, in clock ticks (USER_HZ: 100 on every Linux we run on).
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

const ticksPerSecond = 100;

interface ThreadStat {
  /** utime + stime, ms. */
  cpuMs: number;
  nice: number;
}

/** Fields after the command name (which may hold spaces and parentheses): see proc(5). */
function statFields(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

function readStat(path: string): ThreadStat {
  const fields = statFields(path);
  // proc(5) numbers from 1 with pid and comm first: utime is 14, stime 15, nice 19.
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  return { cpuMs: ((utime + stime) * 1000) / ticksPerSecond, nice: Number(fields[19 - 3]) };
}

/** A process's CPU time so far (all its threads, live and ended), ms. */
export function processCpuMs(pid: number): number {
  return readStat(`/proc/${pid}/stat`).cpuMs;
}

/**
 * A process's CPU time split by the priority its threads run at: the simulated silicon threads
 * set themselves to nice 19, everything else of the process is `normal`. Threads that ended are
 * only in the process total, so `normal` is the total minus the live nice-19 threads.
 */
export function processCpuByPriority(pid: number): { totalMs: number; background: number; normal: number } {
  const totalMs = processCpuMs(pid);
  let background = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const thread = readStat(`/proc/${pid}/task/${tid}/stat`);
      if (thread.nice === 19) background += thread.cpuMs;
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return { totalMs, background, normal: totalMs - background };
}

/** The process listening on a local TCP port (e.g. the NATS server on 4222), by its socket's inode; undefined if none is visible. */
export function pidListeningOn(port: number): number | undefined {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const columns = line.trim().split(/\s+/);
      // local_address is column 1 ("0100007F:1086"), st column 3 (0A = LISTEN), inode column 9.
      if (columns[1]?.endsWith(`:${hexPort}`) && columns[3] === '0A') inodes.add(columns[9]!);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const target = readlinkSync(`/proc/${entry}/fd/${fd}`);
        if (target.startsWith('socket:[') && inodes.has(target.slice(8, -1))) return Number(entry);
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}

/** A process's write system calls so far (syscw in /proc/<pid>/io: write, writev, send...); 0 when not readable. */
export function processWriteCalls(pid: number): number {
  try {
    const line = readFileSync(`/proc/${pid}/io`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('syscw:'));
    return line ? Number(line.slice('syscw:'.length)) : 0;
  } catch {
    return 0;
  }
}

/** CPU time so far of each process a bench with the fleet in its own process runs, ms. */
export interface CpuSample {
  /** This process: the platform's services. */
  platform: number;
  nats: number;
  broker: number;
  /** The fleet process, its nice-19 silicon threads apart. */
  devices: number;
  silicon: number;
}

/** A sampler of those processes; `brokerPid` is asked at each sample (the broker starts later than the others). */
export function cpuSampler(pids: {
  fleet: number;
  nats: number | undefined;
  broker?: () => number | undefined;
}): () => CpuSample {
  return () => {
    const devices = processCpuByPriority(pids.fleet);
    const broker = pids.broker?.();
    return {
      platform: processCpuMs(process.pid),
      nats: pids.nats ? processCpuMs(pids.nats) : 0,
      broker: broker ? processCpuMs(broker) : 0,
      devices: devices.normal,
      silicon: devices.background,
    };
  };
}

/**
 * CPU ms per device between two samples, by process, and the share of the machine's `cores` they
 * used: `platform | NATS | broker | devices (silicon) | all, share %`. `devices` may be a
 * fraction (a rate scaled to another duration).
 */
export function cpuRow(from: CpuSample, to: CpuSample, devices: number, seconds: number, cores: number): string {
  const d = (k: keyof CpuSample) => (to[k] - from[k]) / devices;
  const all = d('platform') + d('nats') + d('broker') + d('devices') + d('silicon');
  const share = (all * devices) / (seconds * 1000 * cores);
  return `${d('platform').toFixed(2)} | ${d('nats').toFixed(2)} | ${d('broker').toFixed(2)} | ${d('devices').toFixed(2)} (${d('silicon').toFixed(2)}) | ${all.toFixed(2)}, ${(100 * share).toFixed(0)} %`;
}
