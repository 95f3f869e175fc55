import { rolloutDecider, type ActiveRollout, type RolloutEvent } from '../deciders/rollout.decider.js';
import type { FleetDevice } from '../views/fleet.view.js';
import type { RolloutProgress } from '../views/rollout-progress.view.js';
import { nextSteps } from './next-step.js';

const rolloutId = 'r-1';
const now = Date.parse('2026-12-01T10:00:00.000Z');
const startedData = {
  rolloutId,
  firmwareId: 'fw-2',
  product: 'fridge-x200',
  version: '2.0.0',
  imageDigest: 'ab'.repeat(32),
  batchIds: ['b-1'],
  waves: [{ percent: 20 }, { percent: 100 }],
  maxFailurePercent: 50,
  deadlineSeconds: 60,
  chunkSize: 32 * 1024,
  deviceCount: 10,
  excluded: 0,
};
const device = (i: number, overrides: Partial<FleetDevice> = {}): FleetDevice => ({
  deviceId: `d-${i}`,
  batchId: 'b-1',
  enrolmentPublicKey: 'AAAA',
  certified: true,
  revoked: false,
  online: true,
  ownerEpoch: 0,
  keys: { ecdhPublicKey: 'AAAA', mlKemPublicKey: 'BBBB', ownerEpoch: 0 },
  ...overrides,
});
const plan = Array.from({ length: 10 }, (_, i) => device(i));

function progressOf(events: { type: string; data: object }[], devices: RolloutProgress['devices'] = new Map()) {
  let state = rolloutDecider.initialState();
  for (const e of events) state = rolloutDecider.evolve(state, { ...e, version: 1 } as unknown as RolloutEvent);
  const waves: RolloutProgress['waves'] = [];
  for (const d of devices.values()) {
    const tally = (waves[d.wave!] ??= { offered: 0, updated: 0, failed: 0, skipped: 0 });
    if (d.status === 'skipped') tally.skipped++;
    else tally.offered++;
    if (d.status === 'updated') tally.updated++;
    if (d.status === 'failed') tally.failed++;
  }
  return { rollout: state as ActiveRollout, devices, waves };
}
const started = { type: 'RolloutStarted', data: startedData };
const wave0 = { type: 'RolloutWaveStarted', data: { rolloutId, wave: 0, percent: 20, size: 2 } };

describe('next step of a rollout', () => {
  test('a started rollout starts its first wave, of its share of the devices', () => {
    expect(nextSteps(progressOf([started]), plan, now)).toEqual([{ kind: 'start-wave', wave: 0, size: 2 }]);
  });

  test('a wave picks devices in plan order up to its size; the ineligible are skipped with their reason', () => {
    const skipped = [device(0, { revoked: true }), device(1, { keys: undefined }), ...plan.slice(2)];
    expect(nextSteps(progressOf([started, wave0]), skipped, now)).toEqual([
      { kind: 'skip', deviceId: 'd-0', wave: 0, reason: 'revoked' },
      { kind: 'skip', deviceId: 'd-1', wave: 0, reason: 'no-firmware-keys' },
    ]);
    expect(nextSteps(progressOf([started, wave0]), plan, now)).toEqual([
      { kind: 'offer', deviceId: 'd-0', wave: 0 },
      { kind: 'offer', deviceId: 'd-1', wave: 0 },
    ]);
  });

  test('devices the log lists are never picked again (after a restart too)', () => {
    const devices = new Map([['d-0', { status: 'offered' as const, wave: 0, deadline: '2026-12-01T10:01:00.000Z' }]]);
    expect(nextSteps(progressOf([started, wave0], devices), plan, now)).toEqual([
      { kind: 'offer', deviceId: 'd-1', wave: 0 },
    ]);
  });

  test('a wave completes once every device it offered answered; then the next wave starts', () => {
    const devices = new Map([
      ['d-0', { status: 'updated' as const, wave: 0 }],
      ['d-1', { status: 'failed' as const, wave: 0, reason: 'rollback' }],
    ]);
    expect(nextSteps(progressOf([started, wave0], devices), plan, now)).toEqual([
      { kind: 'complete-wave', wave: 0, updated: 1, failed: 1, skipped: 0 },
    ]);
    const completed = { type: 'RolloutWaveCompleted', data: { rolloutId, wave: 0, updated: 1, failed: 1, skipped: 0 } };
    expect(nextSteps(progressOf([started, wave0, completed], devices), plan, now)).toEqual([
      { kind: 'start-wave', wave: 1, size: 8 },
    ]);
  });

  test('paused: no device is picked; an offer past its deadline times out whatever the state', () => {
    const paused = { type: 'RolloutPaused', data: { rolloutId, reason: 'operator', wave: 0, updated: 0, failed: 0 } };
    const devices = new Map([['d-0', { status: 'offered' as const, wave: 0, deadline: '2026-12-01T09:59:00.000Z' }]]);
    expect(nextSteps(progressOf([started, wave0, paused], devices), plan, now)).toEqual([
      { kind: 'timeout', deviceId: 'd-0' },
    ]);
  });
});
