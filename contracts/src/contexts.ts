/**
 * Bounded contexts and their aggregates. One JetStream stream per context, one subject per
 * aggregate instance: `<context>.<aggregate>.<id>`. The subject functions here are the only place
 * that spells a subject; writers and readers both call them.
 */
export const boundedContexts = ['registry', 'ca', 'onboarding', 'ota', 'revocation'] as const;
export type BoundedContext = (typeof boundedContexts)[number];

export const aggregatesByContext = {
  registry: ['policy', 'batch', 'device'],
  ca: ['authority', 'certificate', 'crl'],
  onboarding: ['target', 'device'],
  ota: ['firmware', 'rollout', 'device'],
  revocation: ['revocation'],
} as const satisfies Record<BoundedContext, readonly string[]>;

export type AggregateOf<C extends BoundedContext> = (typeof aggregatesByContext)[C][number];

/** Ids travel in subjects, so they are restricted to subject-safe characters. */
export const aggregateIdPattern = '^[A-Za-z0-9_-]{1,128}$';
const aggregateIdRegExp = new RegExp(aggregateIdPattern);

export function isAggregateId(id: string): boolean {
  return aggregateIdRegExp.test(id);
}

/** JetStream stream name of a context, e.g. `REGISTRY` (or `T1_REGISTRY` under namespace `t1`). */
export function streamName(context: BoundedContext, namespace = ''): string {
  const base = context.toUpperCase();
  return namespace ? `${namespace.toUpperCase()}_${base}` : base;
}

/** Subject prefix of a context, e.g. `registry` (or `t1.registry` under namespace `t1`). */
export function contextSubject(context: BoundedContext, namespace = ''): string {
  return namespace ? `${namespace}.${context}` : context;
}

/** Subject of one aggregate instance, e.g. `registry.device.d-7f3a`. */
export function aggregateSubject(
  context: BoundedContext,
  aggregate: string,
  id: string,
  namespace = '',
): string {
  if (!isAggregateId(id)) {
    throw new RangeError(`aggregate id ${JSON.stringify(id.slice(0, 64))} is not subject-safe (${aggregateIdPattern})`);
  }
  return `${contextSubject(context, namespace)}.${aggregate}.${id}`;
}
