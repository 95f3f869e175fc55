import { UnsafeSubjectToken } from './errors.js';

/**
 * Bounded contexts and their aggregates. One JetStream stream per context, one subject per
 * aggregate instance: `<context>.<aggregate>.<id>`. The subject functions here are the only place
 * that spells a subject; writers and readers both call them.
 */
export const boundedContexts = ['registry', 'ca', 'onboarding', 'ota', 'revocation'] as const;
export type BoundedContext = (typeof boundedContexts)[number];

export const aggregatesByContext = {
  // `integrity`: one device's integrity monitoring (violations, quarantine), apart from its lifecycle.
  // `verification`: one VerifyIdentity command's devices, owed a challenge until challenged.
  // `owner`: one owner's custody keys (what signs its ownership transfers).
  registry: ['policy', 'batch', 'device', 'integrity', 'verification', 'owner'],
  // `device`: one device's certificate requests and certificates, so that two CA instances
  // racing on one request meet in one subject's concurrency check. `csr-request`: one CSR request
  // the CA sent (CertifyDevices), tracked until answered or given up; apart from `device`, so the
  // consumers of a device's certificates (one event in flight each) do not wait on every request.
  // `renewal`: one certificate renewal (rotate then revoke), tracked until completed or given up.
  // `certification`: one CertifyDevices command's devices, owed a CSR request until asked.
  ca: ['authority', 'certificate', 'crl', 'device', 'csr-request', 'revocation', 'renewal', 'certification'],
  onboarding: ['target', 'device'],
  // `firmware`: one product's firmware line (releases); `signing-key`: one generation of the firmware-signing keys.
  ota: ['firmware', 'signing-key', 'rollout', 'device'],
  revocation: ['revocation'],
} as const satisfies Record<BoundedContext, readonly string[]>;

export type AggregateOf<C extends BoundedContext> = (typeof aggregatesByContext)[C][number];

/** Ids travel in subjects, so they are restricted to subject-safe characters. */
export const aggregateIdPattern = '^[A-Za-z0-9_-]{1,128}$';
const aggregateIdRegExp = new RegExp(aggregateIdPattern);

export function isAggregateId(id: unknown): id is string {
  return typeof id === 'string' && aggregateIdRegExp.test(id);
}

/** Namespaces isolate tests and tenants on one server; they prefix subjects and stream names. */
export const namespacePattern = '^[A-Za-z0-9_-]{1,64}$';
const namespaceRegExp = new RegExp(namespacePattern);
const tokenRegExp = /^[a-z][a-z0-9-]{0,63}$/;

function checkNamespace(namespace: string): void {
  if (namespace !== '' && !namespaceRegExp.test(namespace)) throw new UnsafeSubjectToken('namespace', namespacePattern);
}

/** JetStream stream name of a context, e.g. `REGISTRY` (or `T1_REGISTRY` under namespace `t1`). */
export function streamName(context: BoundedContext, namespace = ''): string {
  checkNamespace(namespace);
  const base = context.toUpperCase();
  return namespace ? `${namespace.toUpperCase()}_${base}` : base;
}

/** Subject prefix of a context, e.g. `registry` (or `t1.registry` under namespace `t1`). */
export function contextSubject(context: BoundedContext, namespace = ''): string {
  checkNamespace(namespace);
  return namespace ? `${namespace}.${context}` : context;
}

/** Subject of one aggregate instance, e.g. `registry.device.d-7f3a`. */
export function aggregateSubject(context: BoundedContext, aggregate: string, id: string, namespace = ''): string {
  if (!isAggregateId(id)) {
    throw new UnsafeSubjectToken('aggregate id', aggregateIdPattern);
  }
  if (!tokenRegExp.test(aggregate)) throw new UnsafeSubjectToken('aggregate name', tokenRegExp.source);
  return `${contextSubject(context, namespace)}.${aggregate}.${id}`;
}
