/**
 * The fault suite's independent reader of the log: after a run it replays every stream of the
 * run's namespace from the store (an ordered consumer per stream, plain JSON, none of the
 * services' code or views) and checks what must hold whatever fault was injected:
 * - no device certified twice (two CertificateIssued for one request, or for one device and key;
 *   two DeviceOnboarded for one device and target);
 * - no certificate issued to a revoked device (a CertificateIssued after the device's
 *   CertificationRevoked on the CA log, or a DeviceOnboarded after its DeviceDeprovisioned);
 * - every revoked device deprovisioned on every target it was onboarded to, and no DeviceConnected
 *   after that DeviceDeprovisioned;
 * - every request has its outcome: each IdentityChallengeIssued an IdentityVerified,
 *   IdentityVerificationFailed or a later challenge to the same device (re-issued after a restart), each CsrRequested a CertificateIssued, CertificateRejected,
 *   CsrRequestExpired (or the device's CertificationRevoked), each RevocationRequested a
 *   RevocationCompleted or RevocationFailed.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { streamName, type BoundedContext } from '@tunnelkey/contracts';

export interface LoggedEvent {
  context: BoundedContext;
  seq: number;
  type: string;
  aggregateId: string;
  occurredAt: string;
  data: Record<string, unknown>;
}

export interface InvariantReport {
  events: number;
  /** name -> violations (device ids or request ids, with a word of context). */
  violations: Record<string, string[]>;
  /** Requests still waiting for their outcome at the end (e.g. a challenge not yet expired). */
  open: Record<string, string[]>;
  /** Devices the log shows in each state (distinct device ids), to tell a stale read model from a lost write. */
  devicesInLog: Record<string, number>;
}

const contexts: BoundedContext[] = ['registry', 'ca', 'onboarding', 'revocation'];

/** Every event of the namespace's streams, in stream order per context. */
export async function readLog(nc: NatsConnection, namespace: string): Promise<LoggedEvent[]> {
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const events: LoggedEvent[] = [];
  for (const context of contexts) {
    const name = streamName(context, namespace);
    const info = await jsm.streams.info(name).catch(() => undefined);
    const last = info?.state.last_seq ?? 0;
    if (!info || info.state.messages === 0) continue;
    const consumer = await js.consumers.get(name);
    const messages = await consumer.consume();
    for await (const msg of messages) {
      const event = msg.json<Omit<LoggedEvent, 'context' | 'seq'>>();
      events.push({ context, seq: msg.seq, ...event });
      if (msg.seq >= last) break;
    }
    await messages.close();
  }
  return events;
}

const str = (value: unknown) => String(value);

export function checkInvariants(events: readonly LoggedEvent[]): InvariantReport {
  const violations: Record<string, string[]> = {
    'certified twice': [],
    'certificate after revocation': [],
    'revoked, not deprovisioned': [],
    'connected after deprovisioned': [],
    'request without outcome': [],
  };
  const open: Record<string, string[]> = { challenges: [], 'csr requests': [], revocations: [] };
  const of = (context: BoundedContext, ...types: string[]) =>
    events.filter((e) => e.context === context && types.includes(e.type));
  const countBy = (list: LoggedEvent[], key: (e: LoggedEvent) => string) => {
    const counts = new Map<string, number>();
    for (const e of list) counts.set(key(e), (counts.get(key(e)) ?? 0) + 1);
    return counts;
  };

  // Certified twice.
  const issued = of('ca', 'CertificateIssued');
  for (const [requestId, n] of countBy(issued, (e) => str(e.data['requestId'])))
    if (n > 1) violations['certified twice']!.push(`request ${requestId}: ${n} CertificateIssued`);
  for (const [key, n] of countBy(issued, (e) => `${str(e.data['deviceId'])}/${str(e.data['keyId'])}`))
    if (n > 1) violations['certified twice']!.push(`device/key ${key}: ${n} CertificateIssued`);
  const onboarded = of('onboarding', 'DeviceOnboarded');
  for (const [key, n] of countBy(onboarded, (e) => `${str(e.data['deviceId'])}@${str(e.data['targetId'])}`))
    if (n > 1) violations['certified twice']!.push(`${key}: ${n} DeviceOnboarded (target certificates)`);

  // No certificate after the revocation (same stream: stream order is the order of record).
  const certificationRevokedAt = new Map<string, number>();
  for (const e of of('ca', 'CertificationRevoked'))
    if (!certificationRevokedAt.has(str(e.data['deviceId'])))
      certificationRevokedAt.set(str(e.data['deviceId']), e.seq);
  for (const e of issued) {
    const revokedSeq = certificationRevokedAt.get(str(e.data['deviceId']));
    if (revokedSeq !== undefined && e.seq > revokedSeq)
      violations['certificate after revocation']!.push(
        `${str(e.data['deviceId'])}: CertificateIssued after CertificationRevoked`,
      );
  }
  const deprovisioned = new Map<string, LoggedEvent>();
  for (const e of of('onboarding', 'DeviceDeprovisioned')) {
    const key = `${str(e.data['deviceId'])}@${str(e.data['targetId'])}`;
    if (!deprovisioned.has(key)) deprovisioned.set(key, e);
  }
  for (const e of onboarded) {
    const cut = deprovisioned.get(`${str(e.data['deviceId'])}@${str(e.data['targetId'])}`);
    if (cut && e.seq > cut.seq)
      violations['certificate after revocation']!.push(
        `${str(e.data['deviceId'])}: DeviceOnboarded to ${str(e.data['targetId'])} after DeviceDeprovisioned`,
      );
  }

  // Revoked devices deprovisioned everywhere they were onboarded, and never connected after.
  const revoked = new Set(of('registry', 'DeviceRevoked').map((e) => str(e.data['deviceId'])));
  for (const e of onboarded) {
    const deviceId = str(e.data['deviceId']);
    if (revoked.has(deviceId) && !deprovisioned.has(`${deviceId}@${str(e.data['targetId'])}`))
      violations['revoked, not deprovisioned']!.push(`${deviceId} on ${str(e.data['targetId'])}`);
  }
  for (const e of of('onboarding', 'DeviceConnected')) {
    const cut = deprovisioned.get(`${str(e.data['deviceId'])}@${str(e.data['targetId'])}`);
    if (cut && Date.parse(str(e.data['connectedAt'])) > Date.parse(cut.occurredAt))
      violations['connected after deprovisioned']!.push(
        `${str(e.data['deviceId'])}: connected ${str(e.data['connectedAt'])}, deprovisioned ${cut.occurredAt}`,
      );
  }

  // Every request has its outcome. Still pending but not yet expired: open, not a violation.
  const now = Date.now();
  const pending = (
    requests: LoggedEvent[],
    outcomes: Set<string>,
    key: (e: LoggedEvent) => string,
    kind: string,
    openList: string[],
    expiresAt: (e: LoggedEvent) => number = () => 0,
  ) => {
    for (const e of requests) {
      if (outcomes.has(key(e))) continue;
      if (expiresAt(e) > now) openList.push(key(e));
      else violations['request without outcome']!.push(`${kind} ${key(e)} (device ${str(e.data['deviceId'] ?? '-')})`);
    }
  };
  const challengeOutcomes = new Set(
    of('registry', 'IdentityVerified', 'IdentityVerificationFailed').map((e) => str(e.data['challengeId'])),
  );
  // A device has one challenge pending: a later one (re-issued after a restart) closes the one before.
  const lastChallenge = new Map<string, string>();
  for (const e of of('registry', 'IdentityChallengeIssued'))
    lastChallenge.set(str(e.data['deviceId']), str(e.data['challengeId']));
  for (const e of of('registry', 'IdentityChallengeIssued'))
    if (lastChallenge.get(str(e.data['deviceId'])) !== str(e.data['challengeId']))
      challengeOutcomes.add(str(e.data['challengeId']));
  pending(
    of('registry', 'IdentityChallengeIssued'),
    challengeOutcomes,
    (e) => str(e.data['challengeId']),
    'challenge',
    open['challenges']!,
    (e) => Date.parse(str(e.data['expiresAt'])),
  );
  const csrOutcomes = new Set(
    of('ca', 'CertificateIssued', 'CertificateRejected', 'CsrRequestExpired').map((e) => str(e.data['requestId'])),
  );
  const csrRequests = of('ca', 'CsrRequested').filter((e) => !certificationRevokedAt.has(str(e.data['deviceId'])));
  pending(
    csrRequests,
    csrOutcomes,
    (e) => str(e.data['requestId']),
    'csr request',
    open['csr requests']!,
    (e) => Date.parse(str(e.data['expiresAt'])),
  );
  const revocationOutcomes = new Set(
    of('revocation', 'RevocationCompleted', 'RevocationFailed').map((e) => e.aggregateId),
  );
  pending(
    of('revocation', 'RevocationRequested'),
    revocationOutcomes,
    (e) => e.aggregateId,
    'revocation',
    open['revocations']!,
  );
  const devices = (context: BoundedContext, type: string) =>
    new Set(of(context, type).map((e) => str(e.data['deviceId']))).size;
  const devicesInLog = {
    imported: devices('registry', 'DeviceIdentityImported'),
    verified: devices('registry', 'IdentityVerified'),
    certified: devices('registry', 'DeviceCertified'),
    onboarded: devices('onboarding', 'DeviceOnboarded'),
    connected: devices('onboarding', 'DeviceConnected'),
    revoked: devices('registry', 'DeviceRevoked'),
    deprovisioned: devices('onboarding', 'DeviceDeprovisioned'),
  };
  return { events: events.length, violations, open, devicesInLog };
}

/** `ok`, or the violated invariants with their counts. */
export function summariseInvariants(report: InvariantReport): string {
  const broken = Object.entries(report.violations).filter(([, list]) => list.length > 0);
  const open = Object.entries(report.open).filter(([, list]) => list.length > 0);
  const openText = open.length ? ` (open: ${open.map(([k, l]) => `${l.length} ${k}`).join(', ')})` : '';
  if (broken.length === 0) return `ok${openText}`;
  return `${broken.map(([k, l]) => `${k}: ${l.length}`).join('; ')}${openText}`;
}
