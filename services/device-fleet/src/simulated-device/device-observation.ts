/**
 * What a device reports about itself, for the fleet's counters and for tests: never payloads,
 * never key material, only kinds and stable codes.
 */
export type DeviceObservation =
  /** A platform message refused before acting on it (code: a DeviceMessageRejected code or ours). */
  | { type: 'refused'; kind: string | undefined; code: string }
  /** A verified platform message acted on. */
  | { type: 'accepted'; kind: string }
  /** An uplink sent (answer or announce). */
  | { type: 'sent'; kind: string }
  /** The platform refused one of our messages (a `rejection` downlink). */
  | { type: 'platform-rejection'; kind: string; code: string }
  /** The PUF could not reconstruct the key (typed PUF error code). */
  | { type: 'key-failure'; code: string }
  /** A message arrived while the device was offline: not even looked at. */
  | { type: 'offline-drop' }
  /** A step of an over-the-air update (code: the refusal reason, when there is one). */
  | { type: 'firmware'; event: FirmwareEvent; code?: string };

export type FirmwareEvent =
  | 'offer-refused'
  | 'download-started'
  | 'download-resumed'
  | 'chunk-refused'
  | 'went-offline'
  | 'installed'
  | 'rolled-back';

export type DeviceObserver = (deviceId: string, observation: DeviceObservation) => void;

export interface JournalEntry {
  at: string;
  observation: DeviceObservation;
}

/** Keeps the last few observations (a device's debug log), bounded so 10,000 devices stay small. */
export class DeviceJournal {
  #entries: JournalEntry[] | undefined;
  constructor(private readonly capacity = 16) {}

  record(at: Date, observation: DeviceObservation): void {
    this.#entries ??= [];
    this.#entries.push({ at: at.toISOString(), observation });
    if (this.#entries.length > this.capacity) this.#entries.shift();
  }

  get entries(): readonly JournalEntry[] {
    return this.#entries ?? [];
  }
}
