import { InvalidFleetOptionError } from '../errors.js';
import { parseFleetArguments } from './fleet-arguments.js';

describe('fleet command line', () => {
  it('reads the documented options', () => {
    const args = parseFleetArguments(
      ['--devices', '5000', '--profile', 'sram', '--temperature', '25', '--age', '0', '--offline', '0.01', '--tampered', '2', '--identity-file', 'out.csv'],
      { NATS_URL: 'nats://x:4222', PLATFORM_PUBLIC_KEY_FILE: '/k.pem' },
    );
    expect(args).toMatchObject({ devices: 5000, profile: 'sram', temperatureC: 25, ageYears: 0, offline: 0.01, tampered: 2, identityFile: 'out.csv', identityFormat: 'csv', platformKeyFile: '/k.pem', natsUrl: 'nats://x:4222' });
    expect(parseFleetArguments([], {})).toMatchObject({ devices: 1000, platformKeyFile: undefined, identityFormat: 'json' });
  });

  it.each([['--devices', '0'], ['--offline', '2'], ['--profile', 'flash'], ['--temperature', 'hot'], ['--tamper-mode', 'x']])('refuses %s %s', (flag, value) => {
    expect(() => parseFleetArguments([flag, value], {})).toThrow(InvalidFleetOptionError);
  });
});
