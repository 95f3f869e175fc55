/**
 * What the fleet's thread and a device-hardware worker say to each other: one job per key
 * reconstruction (a reserved PUF read + helper data + conditions + contexts), answered with the
 * key pairs (non-extractable CryptoKeys survive postMessage as such) or a described error.
 */
import type { ErrorContext } from '@tunnelkey/errors';
import type { DerivedKeyPair, KeyContext, OperatingConditions, PufRead } from '@tunnelkey/puf';

export interface HardwareJob {
  id: number;
  read: PufRead;
  contexts: readonly KeyContext[];
  helperData: Uint8Array;
  at: Partial<OperatingConditions>;
}

/** An error as it crosses the thread boundary: typed errors keep their code and context (never secrets). */
export interface DescribedError {
  name: string;
  message: string;
  code?: string;
  context?: ErrorContext;
}

export type HardwareReply = { id: number; pairs: DerivedKeyPair[] } | { id: number; error: DescribedError };

export function toDescribedError(error: unknown): DescribedError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const { code, context } = error as { code?: unknown; context?: unknown };
  return {
    name: error.name,
    message: error.message,
    ...(typeof code === 'string' ? { code } : {}),
    ...(context && typeof context === 'object' ? { context: { ...(context as ErrorContext) } } : {}),
  };
}
