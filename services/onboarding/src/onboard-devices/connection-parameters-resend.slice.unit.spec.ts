import { pino } from 'pino';
import { DeviceWriter } from '../shared/device-writer.js';
import { ConnectedTargets } from '../target-port/connected-targets.js';
import { startOnboardingSlice, type OnboardingSlice } from '../test-support/onboarding-slice.test-helper.js';
import { DOWNLINKS, ONBOARDING_CONFIG, type DownlinkSender } from '../tokens.js';
import type { OnboardingConfig } from '../config.js';
import { BatchPlanView } from '../views/batch-plan.view.js';
import { CertificatesView } from '../views/certificates.view.js';
import { TargetsView } from '../views/targets.view.js';
import { ConnectionParametersResendJob } from './connection-parameters-resend.job.js';

describe('connection parameters sent again (in-memory store and target)', () => {
  let slice: OnboardingSlice;
  let clock: number;
  let job: ConnectionParametersResendJob;
  const retryMs = 60_000;
  const sentTo = (deviceId: string) =>
    slice.downlinks.filter((d) => d.kind === 'connection-parameters' && d.deviceId === deviceId);
  const at = async (offsetMs: number) => {
    clock = Date.parse('2026-11-27T10:00:00.000Z') + offsetMs;
    return job.sweep();
  };

  beforeEach(async () => {
    slice = await startOnboardingSlice();
    await slice.onboardedBatch({ targetIds: ['broker-a'], deviceIds: ['d-1', 'd-2', 'd-3'] });
    await slice.get(TargetsView).catchUp();
    // The job on a clock of the test's own (the slice's clock is fixed).
    job = new ConnectionParametersResendJob(
      slice.get(TargetsView),
      slice.get(CertificatesView),
      slice.get(BatchPlanView),
      slice.get(ConnectedTargets),
      slice.app.get<DownlinkSender>(DOWNLINKS),
      () => 'server-ca',
      { ...slice.app.get<OnboardingConfig>(ONBOARDING_CONFIG), parametersRetryMs: retryMs },
      () => new Date(clock),
      pino({ level: 'silent' }),
    );
  });
  afterEach(() => slice.close());

  it('sends the same parameters again to a device that has not connected, at doubling intervals', async () => {
    expect(sentTo('d-1')).toHaveLength(1);
    expect(await at(0)).toBe(0); // first seen waiting
    expect(await at(retryMs - 1)).toBe(0);
    expect(await at(retryMs)).toBe(3);
    expect(sentTo('d-1')).toHaveLength(2);
    expect(sentTo('d-1')[1]!.body).toEqual(sentTo('d-1')[0]!.body); // its recorded target certificate, again
    expect(await at(retryMs + 2 * retryMs - 1)).toBe(0);
    expect(await at(retryMs + 2 * retryMs)).toBe(3);
    expect(sentTo('d-1')).toHaveLength(3);
  });

  it('stops once the device connects, and never sends to a revoked one', async () => {
    await at(0);
    slice.targets.target('broker-a').connect('d-1');
    await slice.get(DeviceWriter).idle();
    await slice.given.revoked('d-2', 'rv-1');
    await Promise.all([slice.get(TargetsView).catchUp(), slice.get(CertificatesView).catchUp()]);
    expect(await at(retryMs)).toBe(1);
    expect([sentTo('d-1'), sentTo('d-2'), sentTo('d-3')].map((sent) => sent.length)).toEqual([1, 1, 2]);
  });
});
