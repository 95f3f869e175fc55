import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { webcrypto } from 'node:crypto';
import {
  ENROLMENT_CONTEXT,
  HelperDataFormatError,
  KeyCheckMismatchError,
  PufDevice,
  importPublicKey,
  tlsContext,
  type KeyContext,
} from '@tunnelkey/puf';
import { DeviceHardwareError, DeviceKeyUnavailableError } from '../errors.js';
import { createFleet } from '../fleet/create-fleet.js';
import { SimulatedDevice } from '../simulated-device/simulated-device.js';
import { DeviceHardwarePool } from './device-hardware-pool.js';

// The threads load the built worker (dist/): build it (and @tunnelkey/puf) first, as the bench does.
beforeAll(() => {
  execFileSync('npx', ['nx', 'run', '@tunnelkey/device-fleet:build', '--outputStyle=static'], {
    cwd: fileURLToPath(new URL('../../../../', import.meta.url)),
    stdio: 'ignore',
    env: { ...process.env, NX_DAEMON: 'false' },
  });
}, 120_000);

const contexts: KeyContext[] = [ENROLMENT_CONTEXT, tlsContext(0)];
const corner = { temperatureC: -40, voltageDelta: 0.1, ageYears: 10 };
const twins = (seed: string) => [0, 1].map(() => PufDevice.manufacture({ seed })) as [PufDevice, PufDevice];

describe('a device hardware pool', () => {
  let pool: DeviceHardwarePool;
  beforeAll(() => {
    pool = new DeviceHardwarePool(2);
  });
  afterAll(() => pool.close());

  it('derives the keys the device derives in its own thread, non-extractable, usable', async () => {
    for (let i = 0; i < 4; i++) {
      const [here, there] = twins(`hardware-pool/${i}`);
      const record = await here.enrol();
      await there.enrol();
      const [local, remote] = await Promise.all([
        here.deriveKeys(contexts, record.helperData, corner),
        pool.deriveKeys(there.reserveRead(), contexts, record.helperData, corner),
      ]);
      remote.forEach((pair, k) => {
        expect(pair.publicKeySpki).toEqual(local[k]!.publicKeySpki);
        expect(pair.privateKey).toMatchObject({ type: 'private', extractable: false, usages: ['sign'] });
      });
      const message = Buffer.from('dev.x.hello');
      const signature = await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, remote[0]!.privateKey, message);
      expect(
        await webcrypto.subtle.verify(
          { name: 'ECDSA', hash: 'SHA-256' },
          await importPublicKey(local[0]!),
          signature,
          message,
        ),
      ).toBe(true);
    }
    expect(pool.pending).toBe(0);
  });

  it('gives back the PUF typed errors: tampered helper data, unparseable helper data', async () => {
    const device = PufDevice.manufacture({ seed: 'hardware-pool/tampered' });
    const tampered = (await device.enrol()).helperData.slice();
    tampered[100]! ^= 0x10;
    await expect(pool.deriveKeys(device.reserveRead(), contexts, tampered, {})).rejects.toBeInstanceOf(
      KeyCheckMismatchError,
    );
    await expect(pool.deriveKeys(device.reserveRead(), contexts, new Uint8Array([1, 2, 3]), {})).rejects.toBeInstanceOf(
      HelperDataFormatError,
    );
  });

  it('lets a simulated device report a key failure as it does in-thread', async () => {
    const device = await SimulatedDevice.manufacture({
      seed: 'hardware-pool/device',
      transport: { publish: () => undefined },
      hardware: pool,
    });
    const seen = await device.withKeys(['enrolment'], async (keys) => keys.get('enrolment')!.publicKeySpki);
    expect(Buffer.from(seen).equals(device.enrolmentPublicKey)).toBe(true);
    device.corruptHelperData();
    const error = await device.withKeys(['tls-0'], async () => 'unreachable').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeviceKeyUnavailableError);
    expect((error as DeviceKeyUnavailableError).context).toMatchObject({ pufCode: 'PUF_KEY_CHECK_MISMATCH' });
    expect(device.state).toBe('key-failure');
  });

  // Linux: a thread's nice value is field 19 of /proc/self/task/<tid>/stat.
  it('runs its threads at the lowest CPU priority and leaves the rest of the process alone', async () => {
    const niceOf = (tid: string) =>
      Number(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]);
    const niced = () => readdirSync('/proc/self/task').filter((tid) => niceOf(tid) === 19);
    const deadline = Date.now() + 10_000;
    while (niced().length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(niced()).toHaveLength(2);
    expect(niceOf(String(process.pid))).not.toBe(19);
  });

  it('refuses work once closed', async () => {
    const closing = new DeviceHardwarePool(1);
    await closing.close();
    expect(closing.threads).toBe(0);
    const device = PufDevice.manufacture({ seed: 'hardware-pool/closed' });
    await expect(
      closing.deriveKeys(device.reserveRead(), contexts, (await device.enrol()).helperData, {}),
    ).rejects.toBeInstanceOf(DeviceHardwareError);
  });
});

describe('a fleet on its own hardware threads', () => {
  it('announces with keys from the threads and stops them with fleet.stop()', async () => {
    const fleet = await createFleet({
      size: 12,
      seedBase: 'hardware-fleet',
      hardwareThreads: 2,
      faults: { tampered: 2, tamperMode: 'helper-data' },
    });
    expect(fleet.stats().hardware.threads).toBe(2);
    expect(await fleet.announce()).toEqual({ announced: 10, offline: 0, failed: 2 });
    expect(fleet.stats().messages.keyFailures).toBe(2);
    await fleet.stop();
    expect(fleet.stats().hardware).toEqual({ threads: 0, pending: 0 });
  });
});
