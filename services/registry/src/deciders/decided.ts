import { canonicalJson, type DataOf, type EventDefinition } from '@tunnelkey/contracts';

/** A decided event of one contract type: what a decider returns (the handler adds the envelope). */
export function decided<E extends EventDefinition>(
  definition: E,
  data: DataOf<E>,
): { type: E['type']; version: E['version']; data: DataOf<E> } {
  return { type: definition.type, version: definition.version, data };
}

/** Same content regardless of key order: how a repeated definition is recognised as a retry. */
export function sameContent(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}
