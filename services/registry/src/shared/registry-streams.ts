import type { StreamRef } from '@tunnelkey/eventstore';

// The one place the registry names its aggregates' streams; writers and readers both call these.
export const policyStream = (policyId: string): StreamRef => ({ context: 'registry', aggregate: 'policy', id: policyId });
export const batchStream = (batchId: string): StreamRef => ({ context: 'registry', aggregate: 'batch', id: batchId });
export const deviceStream = (deviceId: string): StreamRef => ({ context: 'registry', aggregate: 'device', id: deviceId });
