import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { InvalidFleetOptionError } from '../errors.js';
import type { TamperMode } from '../fleet/fault-plan.js';
import { isFirmwareFault, type FirmwareFaultCounts } from '../firmware/firmware-faults.js';

export interface FleetArguments {
  devices: number;
  profile: 'sram' | 'tunnelling';
  temperatureC: number;
  ageYears: number;
  offline: number;
  tampered: number;
  tamperMode: TamperMode;
  identityFile: string | undefined;
  identityFormat: 'json' | 'csv';
  platformKeyFile: string | undefined;
  /** PKCS#8 file of the manufacturer key (P-256) that attests every device's enrolment key, and its id. */
  manufacturerKey: { file: string; keyId: string } | undefined;
  namespace: string;
  seedBase: string;
  natsUrl: string;
  /** Worker threads standing for the devices' silicon (PUF reads, key reconstruction). */
  hardwareThreads: number;
  /** Connect over MQTT to the targets devices are onboarded to, as soon as their parameters arrive. */
  connect: boolean;
  /** Telemetry period per connected device. */
  telemetryIntervalMs: number;
  /** Product line (hardware id) of every device; undefined: the default product. */
  product: string | undefined;
  /** Devices report their firmware-decryption keys right after enrolling. */
  firmwareKeysAtEnrolment: boolean;
  /** How many devices get each OTA fault. */
  firmwareFaults: FirmwareFaultCounts;
  help: boolean;
}

export const fleetUsage = `Usage: npm run fleet -- [options]
  --devices N            number of simulated devices (default 1000)
  --profile sram|tunnelling
  --temperature C        die temperature of every device (default 25)
  --age YEARS            simulated age (default 0)
  --offline FRACTION     fraction of devices that never answer (default 0)
  --tampered N           tampered devices (default 0)
  --tamper-mode helper-data|firmware|mixed   (default mixed)
  --identity-file PATH   write the identity file (.csv for CSV, JSON otherwise)
  --platform-key-file P  platform public key (SPKI PEM or DER); or PLATFORM_PUBLIC_KEY_FILE
  --manufacturer-key-file P  manufacturer private key (PKCS#8 PEM or DER, P-256): signs every device's
                         enrolment key; devices report that attestation (needs --manufacturer-key-id)
  --manufacturer-key-id ID   the id the key is registered under with the batch (RegisterManufacturerKey)
  --namespace NS         subject namespace (default none)
  --seed-base S          silicon seed base (default tunnelkey-fleet)
  --hardware-threads N   worker threads for the devices' PUF work (default cores - 1, at least 1; 0: in the main thread)
  --no-connect           do not connect over MQTT once onboarded (by default devices connect with mutual TLS and publish)
  --telemetry-interval MS  telemetry period per connected device (default 10000)
  --product P            product line (hardware id) of the devices: OTA updates of other products are refused
  --firmware-keys-at-enrolment  report the firmware-decryption keys right after enrolling (default: when asked)
  --firmware-fault F=N   N devices get the OTA fault F (repeatable): tampered-chunk, tampered-chunk-once,
                         bad-ecdsa-signature, bad-ml-dsa-signature, rollback, expired-metadata,
                         offline-mid-download, failing-boot
Environment: NATS_URL (default nats://127.0.0.1:4222); on a secured bus NATS_USER, NATS_PASSWORD
(the DEVICES account's user), NATS_TLS_CA_FILE, or NATS_NKEY_SEED_FILE / NATS_CREDS_FILE;
FLEET_METRICS_PORT: serve /metrics (Prometheus text) on that port, on HTTP_HOST (default 127.0.0.1)`;

function number(name: string, raw: string | undefined, fallback: number, check: (n: number) => boolean): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || !check(value))
    throw new InvalidFleetOptionError(`--${name} is out of range`, { option: name, value: raw });
  return value;
}

const options = {
  devices: { type: 'string' },
  profile: { type: 'string' },
  temperature: { type: 'string' },
  age: { type: 'string' },
  offline: { type: 'string' },
  tampered: { type: 'string' },
  'tamper-mode': { type: 'string' },
  'identity-file': { type: 'string' },
  'platform-key-file': { type: 'string' },
  'manufacturer-key-file': { type: 'string' },
  'manufacturer-key-id': { type: 'string' },
  namespace: { type: 'string' },
  'seed-base': { type: 'string' },
  'hardware-threads': { type: 'string' },
  'no-connect': { type: 'boolean' },
  'telemetry-interval': { type: 'string' },
  product: { type: 'string' },
  'firmware-keys-at-enrolment': { type: 'boolean' },
  'firmware-fault': { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Unknown options and missing values are InvalidFleetOptionErrors too (node's own say TypeError). */
function parse(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], options, strict: true });
  } catch (error) {
    throw new InvalidFleetOptionError(
      error instanceof Error ? error.message.split('\n')[0]!.slice(0, 200) : 'invalid arguments',
      {},
    );
  }
}

export function parseFleetArguments(
  argv: readonly string[],
  env: Record<string, string | undefined> = process.env,
): FleetArguments {
  const { values } = parse(argv);
  const profile = values.profile ?? 'sram';
  if (profile !== 'sram' && profile !== 'tunnelling')
    throw new InvalidFleetOptionError('--profile must be sram or tunnelling', { profile });
  const tamperMode = values['tamper-mode'] ?? 'mixed';
  if (!['helper-data', 'firmware', 'mixed'].includes(tamperMode))
    throw new InvalidFleetOptionError('--tamper-mode must be helper-data, firmware or mixed', { tamperMode });
  const identityFile = values['identity-file'];
  const manufacturerKeyFile = values['manufacturer-key-file'];
  const manufacturerKeyId = values['manufacturer-key-id'];
  if ((manufacturerKeyFile === undefined) !== (manufacturerKeyId === undefined))
    throw new InvalidFleetOptionError('--manufacturer-key-file and --manufacturer-key-id go together', {});
  return {
    devices: number('devices', values.devices, 1000, (n) => Number.isInteger(n) && n >= 1 && n <= 1_000_000),
    profile,
    temperatureC: number('temperature', values.temperature, 25, (n) => n >= -55 && n <= 150),
    ageYears: number('age', values.age, 0, (n) => n >= 0 && n <= 30),
    offline: number('offline', values.offline, 0, (n) => n >= 0 && n <= 1),
    tampered: number('tampered', values.tampered, 0, (n) => Number.isInteger(n) && n >= 0),
    tamperMode: tamperMode as TamperMode,
    identityFile,
    identityFormat: identityFile?.toLowerCase().endsWith('.csv') ? 'csv' : 'json',
    platformKeyFile: values['platform-key-file'] ?? env['PLATFORM_PUBLIC_KEY_FILE'],
    manufacturerKey:
      manufacturerKeyFile !== undefined && manufacturerKeyId !== undefined
        ? { file: manufacturerKeyFile, keyId: manufacturerKeyId }
        : undefined,
    namespace: values.namespace ?? '',
    seedBase: values['seed-base'] ?? 'tunnelkey-fleet',
    natsUrl: env['NATS_URL'] ?? 'nats://127.0.0.1:4222',
    hardwareThreads: number(
      'hardware-threads',
      values['hardware-threads'],
      Math.max(1, availableParallelism() - 1),
      (n) => Number.isInteger(n) && n >= 0 && n <= 64,
    ),
    connect: !(values['no-connect'] ?? false),
    telemetryIntervalMs: number(
      'telemetry-interval',
      values['telemetry-interval'],
      10_000,
      (n) => Number.isInteger(n) && n >= 100,
    ),
    product: values.product,
    firmwareKeysAtEnrolment: values['firmware-keys-at-enrolment'] ?? false,
    firmwareFaults: firmwareFaultCounts(values['firmware-fault'] ?? []),
    help: values.help ?? false,
  };
}

/** `--firmware-fault F=N` options as counts per fault. */
function firmwareFaultCounts(specs: readonly string[]): FirmwareFaultCounts {
  const counts: FirmwareFaultCounts = {};
  for (const spec of specs) {
    const [name = '', raw] = spec.split('=', 2);
    if (!isFirmwareFault(name))
      throw new InvalidFleetOptionError('--firmware-fault names an unknown fault', { fault: name.slice(0, 40) });
    counts[name] = number('firmware-fault', raw ?? '1', 1, (n) => Number.isInteger(n) && n >= 0);
  }
  return counts;
}
