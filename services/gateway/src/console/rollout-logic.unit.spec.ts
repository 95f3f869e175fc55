/** The firmware and rollout pages' browser logic (static/js/rollout-logic.js, plain JS). */
import { createHash } from 'node:crypto';
import type { DescribeRollout, ResultOf } from '@tunnelkey/contracts';

type Wave = ResultOf<typeof DescribeRollout>['waves'][number];
interface RolloutLogic {
  rolloutActions(status: string | undefined): { pause: boolean; resume: boolean; abort: boolean };
  parseWaves(text: string): { waves: { percent: number }[] } | { error: string };
  waveLine(wave: Wave, current: number): { state: string; done: number; fraction: number; text: string };
  reasonCounts(devices: { status: string; reason?: string }[]): [string, number][];
  sha256Hex(bytes: ArrayBuffer): Promise<string>;
}

// A path held in a variable: the browser module is plain JS, loaded as is (no TypeScript types).
const modulePath = './static/js/rollout-logic.js';
let logic: RolloutLogic;
beforeAll(async () => {
  logic = (await import(modulePath)) as RolloutLogic;
});

describe('rollout page logic', () => {
  it('offers only the actions the OTA service accepts in each state', () => {
    expect(logic.rolloutActions('running')).toEqual({ pause: true, resume: false, abort: true });
    expect(logic.rolloutActions('paused')).toEqual({ pause: false, resume: true, abort: true });
    for (const ended of ['completed', 'aborted', undefined])
      expect(logic.rolloutActions(ended)).toEqual({ pause: false, resume: false, abort: false });
  });

  it('reads waves as typed, cumulative and ending at 100, or says what is wrong', () => {
    expect(logic.parseWaves('5, 25, 100')).toEqual({ waves: [{ percent: 5 }, { percent: 25 }, { percent: 100 }] });
    expect(logic.parseWaves('10% 100%')).toEqual({ waves: [{ percent: 10 }, { percent: 100 }] });
    expect(logic.parseWaves('100')).toEqual({ waves: [{ percent: 100 }] });
    expect(logic.parseWaves('50, 20, 100')).toEqual({ error: expect.stringMatching(/larger than the one before/) });
    expect(logic.parseWaves('5, 25')).toEqual({ error: expect.stringMatching(/last wave must be 100/) });
    for (const bad of ['', 'five', '0, 100', '5.5, 100', '5, 250'])
      expect(logic.parseWaves(bad)).toEqual({ error: expect.stringMatching(/whole percentages/) });
  });

  it('says how far a wave is: done over its size, and whether it is the current one', () => {
    const wave = { wave: 1, percent: 25, size: 8, offered: 6, updated: 3, failed: 1, skipped: 1, completed: false };
    expect(logic.waveLine(wave, 1)).toEqual({
      state: 'in progress',
      done: 5,
      fraction: 5 / 8,
      text: '5 of 8 done: 3 updated, 1 failed, 1 skipped, 2 downloading',
    });
    expect(logic.waveLine(wave, 0).state).toBe('waiting');
    expect(logic.waveLine({ ...wave, size: 0, completed: true }, 2)).toMatchObject({ state: 'completed', fraction: 1 });
  });

  it('counts the devices that did not update by reason, largest first', () => {
    expect(
      logic.reasonCounts([
        { status: 'updated' },
        { status: 'failed', reason: 'digest' },
        { status: 'skipped', reason: 'revoked' },
        { status: 'failed', reason: 'digest' },
        { status: 'offered' },
        { status: 'failed' },
      ]),
    ).toEqual([
      ['failed: digest', 2],
      ['failed: unknown', 1],
      ['skipped: revoked', 1],
    ]);
  });

  it('hashes an upload as the gateway and the OTA service do (SHA-256, hex)', async () => {
    const bytes = new TextEncoder().encode('firmware 2.0.0');
    expect(await logic.sha256Hex(bytes.buffer)).toBe(createHash('sha256').update(bytes).digest('hex'));
  });
});
