import { InvalidFleetOptionError } from '../errors.js';
import { parseFleetArguments } from './fleet-arguments.js';

describe('fleet command line', () => {
  it('reads the documented options', () => {
    const args = parseFleetArguments(
      [
        '--devices',
        '5000',
        '--profile',
        'sram',
        '--temperature',
        '25',
        '--age',
        '0',
        '--offline',
        '0.01',
        '--tampered',
        '2',
        '--identity-file',
        'out.csv',
      ],
      { NATS_URL: 'nats://x:4222', PLATFORM_PUBLIC_KEY_FILE: '/k.pem' },
    );
    expect(args).toMatchObject({
      devices: 5000,
      profile: 'sram',
      temperatureC: 25,
      ageYears: 0,
      offline: 0.01,
      tampered: 2,
      identityFile: 'out.csv',
      identityFormat: 'csv',
      platformKeyFile: '/k.pem',
      natsUrl: 'nats://x:4222',
    });
    expect(parseFleetArguments([], {})).toMatchObject({
      devices: 1000,
      platformKeyFile: undefined,
      identityFormat: 'json',
      connect: true,
      telemetryIntervalMs: 10_000,
    });
    expect(parseFleetArguments([], {}).hardwareThreads).toBeGreaterThanOrEqual(1);
    expect(
      parseFleetArguments(['--hardware-threads', '0', '--no-connect', '--telemetry-interval', '2000'], {}),
    ).toMatchObject({ hardwareThreads: 0, connect: false, telemetryIntervalMs: 2_000 });
  });

  it('reads the manufacturer key file and its id, which go together', () => {
    expect(
      parseFleetArguments(['--manufacturer-key-file', '/m.pem', '--manufacturer-key-id', 'factory-1'], {}),
    ).toMatchObject({ manufacturerKey: { file: '/m.pem', keyId: 'factory-1' } });
    expect(parseFleetArguments([], {}).manufacturerKey).toBeUndefined();
    expect(() => parseFleetArguments(['--manufacturer-key-file', '/m.pem'], {})).toThrow(InvalidFleetOptionError);
    expect(() => parseFleetArguments(['--manufacturer-key-id', 'factory-1'], {})).toThrow(InvalidFleetOptionError);
  });

  it('reads the OTA options: product, keys at enrolment, faults with their counts', () => {
    expect(parseFleetArguments([], {})).toMatchObject({
      product: undefined,
      firmwareKeysAtEnrolment: false,
      firmwareFaults: {},
    });
    expect(
      parseFleetArguments(
        [
          '--product',
          'oven-z1',
          '--firmware-keys-at-enrolment',
          '--firmware-fault',
          'tampered-chunk=2',
          '--firmware-fault',
          'failing-boot',
        ],
        {},
      ),
    ).toMatchObject({
      product: 'oven-z1',
      firmwareKeysAtEnrolment: true,
      firmwareFaults: { 'tampered-chunk': 2, 'failing-boot': 1 },
    });
  });

  it.each([
    ['--firmware-fault', 'melted=1'],
    ['--firmware-fault', 'rollback=-1'],
    ['--devices', '0'],
    ['--offline', '2'],
    ['--profile', 'flash'],
    ['--temperature', 'hot'],
    ['--tamper-mode', 'x'],
    ['--hardware-threads=-1', undefined],
    ['--no-such-option', 'x'],
    ['--devices', undefined],
    ['--hardware-threads', '1.5'],
    ['--telemetry-interval', '10'],
  ])('refuses %s %s', (flag, value) => {
    expect(() => parseFleetArguments(value === undefined ? [flag] : [flag, value], {})).toThrow(
      InvalidFleetOptionError,
    );
  });
});
