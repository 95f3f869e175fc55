import { SimulatedDevice } from '../simulated-device/simulated-device.js';
import { memoryTransport, platformDouble } from '../testing/platform-double.test-helper.js';
import { otaDouble } from '../testing/ota-platform.test-helper.js';
import { SharedSignatureChecks } from './shared-signature-checks.js';

describe('devices sharing one memo of signature checks', () => {
  it('verify each distinct signature once, and still refuse a tampered one', async () => {
    const platform = await platformDouble();
    const transport = memoryTransport();
    const ota = await otaDouble(platform, transport);
    const shared = new SharedSignatureChecks();
    const make = (seed: string) =>
      SimulatedDevice.manufacture({
        seed,
        transport,
        platformKey: platform.pinned,
        firmwareUpdates: { signatureCheck: shared.check },
      });
    const [a, b, c] = [await make('shared/a'), await make('shared/b'), await make('shared/c')];
    c.firmware.faults.add('bad-ml-dsa-signature');
    const rollout = await ota.rollout({ rolloutId: 'r-shared', version: '2.0.0' });
    for (const device of [a, b]) {
      await ota.offer(device, rollout);
      expect(await ota.serve(device, rollout)).toMatchObject({ status: 'booted' });
    }
    expect(shared.stats).toEqual({ hits: 3, misses: 3 });
    await ota.offer(c, rollout);
    expect(await ota.serve(c, rollout)).toMatchObject({ status: 'failed', reason: 'signature', detail: 'ml-dsa-65' });
    expect(shared.stats).toEqual({ hits: 5, misses: 4 });
  });
});
