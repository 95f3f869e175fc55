import type { DeviceBodyOf, DeviceMessageDefinition } from '@tunnelkey/contracts';
import type { Downlinks } from './downlinks.js';

export interface RecordedDownlink {
  kind: string;
  deviceId: string;
  body: unknown;
}

/** The Downlinks port in memory (slice tests): records what would have been signed and sent. */
export class InMemoryDownlinks implements Downlinks {
  readonly sent: RecordedDownlink[] = [];

  async send<M extends DeviceMessageDefinition>(definition: M, deviceId: string, body: DeviceBodyOf<M>): Promise<void> {
    this.sent.push({ kind: definition.kind, deviceId, body: structuredClone(body) });
  }

  to(deviceId: string, kind?: string): RecordedDownlink[] {
    return this.sent.filter((m) => m.deviceId === deviceId && (kind === undefined || m.kind === kind));
  }
}
