import type { PlatformKey } from '@tunnelkey/device-protocol';
import type { Logger } from 'pino';
import type { Clock } from './clock.js';

/** Injection tokens of the registry's own providers. */
export const REGISTRY_RUNTIME = Symbol('REGISTRY_RUNTIME');
export const REGISTRY_EVENT_STORE = Symbol('REGISTRY_EVENT_STORE');

/** What the registry's providers share once it runs: everything resolved, nothing read from env here. */
export interface RegistryRuntime {
  /** '' in production; a unique token in tests. Prefixes streams, command and device subjects. */
  namespace: string;
  /** Signs every platform -> device message. */
  platformKey: PlatformKey;
  clock: Clock;
  logger: Logger;
  /** How long a device has to answer an identity challenge. */
  challengeTtlSeconds: number;
  /** Appends in flight per bulk command (import, verify). */
  bulkConcurrency: number;
  /** Device messages handled at once. */
  uplinkConcurrency: number;
}
