/** Command ids derived from what identifies an intent: a retry maps to the same id, hence the same events. */
import { createHash } from 'node:crypto';

const digest = (...parts: string[]) => createHash('sha256').update(parts.join('\u0000')).digest('hex');

export const derivedCommandId = (kind: string, ...parts: string[]): string => `${kind}-${digest(kind, ...parts).slice(0, 40)}`;
export const sha256Hex = (bytes: Uint8Array | string): string => createHash('sha256').update(bytes).digest('hex');
