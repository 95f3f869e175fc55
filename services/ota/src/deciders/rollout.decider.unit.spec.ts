import { CommandRejected } from '@tunnelkey/eventstore';
import { deciderSpecification } from '@tunnelkey/testing';
import { crossesThreshold, rolloutDecider, waveTarget, type RolloutCommand } from './rollout.decider.js';

const metadata = { commandId: 'c-1', now: '2026-12-01T00:00:00.000Z' };
const rolloutId = 'r-1';
const startedData = {
  rolloutId,
  firmwareId: 'fw-2',
  product: 'fridge-x200',
  version: '2.0.0',
  imageDigest: 'ab'.repeat(32),
  batchIds: ['b-1'],
  waves: [{ percent: 10 }, { percent: 50 }, { percent: 100 }],
  maxFailurePercent: 20,
  deadlineSeconds: 60,
  chunkSize: 32 * 1024,
  deviceCount: 20,
  excluded: 1,
};
const started = { type: 'RolloutStarted', version: 1, data: startedData };
const waveStarted = (wave: number, size: number) => ({
  type: 'RolloutWaveStarted',
  version: 1,
  data: { rolloutId, wave, percent: startedData.waves[wave]!.percent, size },
});
const waveCompleted = (wave: number, updated: number, failed: number, skipped = 0) => ({
  type: 'RolloutWaveCompleted',
  version: 1,
  data: { rolloutId, wave, updated, failed, skipped },
});
const paused = {
  type: 'RolloutPaused',
  version: 1,
  data: { rolloutId, reason: 'operator', wave: 0, updated: 0, failed: 0 },
};
const command = <T extends RolloutCommand['type']>(type: T, data: Extract<RolloutCommand, { type: T }>['data']) =>
  ({ type, data, metadata }) as RolloutCommand;
const rejected = (reason: string) => (e: unknown) => e instanceof CommandRejected && e.reason === reason;
const spec = deciderSpecification(rolloutDecider);

describe('rollout decider', () => {
  test('waves are cumulative shares of the devices eligible at the start', () => {
    expect([0, 1, 2].map((w) => waveTarget(startedData, w))).toEqual([2, 10, 20]);
    expect(crossesThreshold({ updated: 8, failed: 2 }, 20)).toBe(false);
    expect(crossesThreshold({ updated: 7, failed: 3 }, 20)).toBe(true);
    expect(crossesThreshold({ updated: 0, failed: 0 }, 0)).toBe(false);
  });

  describe('when none', () => {
    test('StartRollout starts it', () => {
      spec.given([]).when(command('StartRollout', startedData)).then([started]);
    });
    test('waves that are not cumulative, or do not end at 100 %, are refused', () => {
      const waves = [{ percent: 50 }, { percent: 25 }, { percent: 100 }];
      spec
        .given([])
        .when(command('StartRollout', { ...startedData, waves }))
        .thenThrows(rejected('invalid-waves'));
      const short = [{ percent: 50 }];
      spec
        .given([])
        .when(command('StartRollout', { ...startedData, waves: short }))
        .thenThrows(rejected('invalid-waves'));
    });
    test('a rollout without an eligible device is refused', () => {
      spec
        .given([])
        .when(command('StartRollout', { ...startedData, deviceCount: 0 }))
        .thenThrows(rejected('no-eligible-devices'));
    });
    test('pause, resume and abort name the unknown rollout', () => {
      for (const type of ['PauseRollout', 'ResumeRollout', 'AbortRollout'] as const)
        spec.given([]).when(command(type, {})).thenThrows(rejected('unknown-rollout'));
    });
  });

  describe('when running', () => {
    test('the same StartRollout again changes nothing; another image under its id is refused', () => {
      spec.given([started]).when(command('StartRollout', startedData)).thenNothingHappened();
      spec
        .given([started])
        .when(command('StartRollout', { ...startedData, firmwareId: 'fw-3' }))
        .thenThrows(rejected('rollout-exists'));
    });
    test('waves start in order, each once, only after the previous completed', () => {
      spec
        .given([started])
        .when(command('StartWave', { wave: 0, size: 2 }))
        .then([waveStarted(0, 2)]);
      spec
        .given([started, waveStarted(0, 2)])
        .when(command('StartWave', { wave: 0, size: 2 }))
        .thenNothingHappened();
      spec
        .given([started, waveStarted(0, 2)])
        .when(command('StartWave', { wave: 1, size: 8 }))
        .thenThrows(rejected('wave-out-of-order'));
      spec
        .given([started, waveStarted(0, 2), waveCompleted(0, 2, 0)])
        .when(command('StartWave', { wave: 1, size: 8 }))
        .then([waveStarted(1, 8)]);
    });
    test('a wave within its threshold completes; the rollout goes on', () => {
      spec
        .given([started, waveStarted(0, 2)])
        .when(command('CompleteWave', { wave: 0, updated: 2, failed: 0, skipped: 0 }))
        .then([waveCompleted(0, 2, 0)]);
    });
    test('a wave whose failures exceed maxFailurePercent pauses the rollout and says why', () => {
      spec
        .given([started, waveStarted(0, 2), waveCompleted(0, 2, 0), waveStarted(1, 8)])
        .when(command('CompleteWave', { wave: 1, updated: 5, failed: 3, skipped: 0 }))
        .then([
          waveCompleted(1, 5, 3),
          {
            type: 'RolloutPaused',
            version: 1,
            data: {
              rolloutId,
              reason: 'failure-threshold',
              wave: 1,
              updated: 7,
              failed: 3,
              detail: 'wave 1: 3 of 8 devices failed (38 % > 20 %)',
            },
          },
        ]);
    });
    test('the last wave completed, the rollout completes with its totals (start exclusions skipped)', () => {
      const given = [
        started,
        waveStarted(0, 2),
        waveCompleted(0, 2, 0),
        waveStarted(1, 8),
        waveCompleted(1, 8, 0),
        waveStarted(2, 10),
        waveCompleted(2, 9, 0, 1),
      ];
      spec
        .given(given)
        .when(command('CompleteRollout', {}))
        .then([{ type: 'RolloutCompleted', version: 1, data: { rolloutId, updated: 19, failed: 0, skipped: 2 } }]);
      spec.given(given.slice(0, 5)).when(command('CompleteRollout', {})).thenNothingHappened();
    });
    test('pause by the operator; resume is refused while running', () => {
      spec.given([started]).when(command('PauseRollout', {})).then([paused]);
      spec.given([started]).when(command('ResumeRollout', {})).thenThrows(rejected('not-paused'));
    });
  });

  describe('when paused', () => {
    test('pause again is refused; resume resumes at the wave; abort aborts', () => {
      spec.given([started, paused]).when(command('PauseRollout', {})).thenThrows(rejected('not-running'));
      spec
        .given([started, paused])
        .when(command('ResumeRollout', {}))
        .then([{ type: 'RolloutResumed', version: 1, data: { rolloutId, wave: 0 } }]);
      spec
        .given([started, paused])
        .when(command('AbortRollout', {}))
        .then([{ type: 'RolloutAborted', version: 1, data: { rolloutId, wave: 0, updated: 0, failed: 0 } }]);
    });
    test('no wave starts while paused; a wave in flight still completes, without a second pause', () => {
      spec
        .given([started, paused])
        .when(command('StartWave', { wave: 0, size: 2 }))
        .thenNothingHappened();
      spec
        .given([started, waveStarted(0, 2), paused])
        .when(command('CompleteWave', { wave: 0, updated: 0, failed: 2, skipped: 0 }))
        .then([waveCompleted(0, 0, 2)]);
    });
  });

  describe('when aborted', () => {
    const aborted = { type: 'RolloutAborted', version: 1, data: { rolloutId, wave: 0, updated: 0, failed: 0 } };
    test('pause, resume and abort are refused; no wave starts', () => {
      spec.given([started, aborted]).when(command('PauseRollout', {})).thenThrows(rejected('not-running'));
      spec.given([started, aborted]).when(command('ResumeRollout', {})).thenThrows(rejected('not-paused'));
      spec.given([started, aborted]).when(command('AbortRollout', {})).thenThrows(rejected('not-active'));
      spec
        .given([started, aborted])
        .when(command('StartWave', { wave: 0, size: 2 }))
        .thenNothingHappened();
    });
  });
});
