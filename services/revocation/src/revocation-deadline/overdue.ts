/**
 * The saga's deadline, pure: given a revocation's state, what the view knows of the other contexts
 * and the time, whether it has stalled (not moved for `stallMs`) or missed its deadline (not
 * completed `deadlineMs` after its request), and what it waits for. Only alerts come out of it:
 * the saga keeps retrying whatever it says.
 */
import { maxTargetsListed } from '@tunnelkey/contracts';
import {
  lastProgressAt,
  type EscalateCommand,
  type RecordStallCommand,
  type RevocationState,
} from '../deciders/revocation.decider.js';
import { involvedTargets, nextStep } from '../revocation-saga/next-step.js';
import type { RevocationStatusState } from '../views/revocation-status.view.js';

export interface DeadlinePolicy {
  /** A revocation that has not moved forward for this long is stalled (REVOCATION_STALL_MS). */
  stallMs: number;
  /** A revocation not completed this long after its request is escalated (REVOCATION_DEADLINE_MS). */
  deadlineMs: number;
}

export type Overdue = Pick<RecordStallCommand, 'type' | 'data'> | Pick<EscalateCommand, 'type' | 'data'>;
export type Waiting = Omit<RecordStallCommand['data'], 'stalledAfterMs' | 'since' | 'revocationId'>;

/** What an open revocation waits for now: the context that has not done its part, and the step. */
export function waitingFor(state: RevocationState, view: RevocationStatusState): Waiting {
  // The saga could take its next step but has not: its own append keeps failing.
  const next = nextStep(state, view);
  if (next) return { waitingFor: 'revocation', step: next.type === 'CompleteStep' ? next.data.step : 'completed' };
  switch (state.status) {
    case 'Requested':
      return { waitingFor: 'ca', step: 'certificates-revoked' };
    case 'CertificatesRevoked':
      return { waitingFor: 'ca', step: 'crl-published' };
    case 'CrlPublished': {
      const pending = [...involvedTargets(state, view).keys()]
        .filter((targetId) => !state.targets[targetId]?.deprovisioned || !state.targets[targetId]?.crlUpdated)
        .sort();
      const crlPending = pending.some((targetId) => state.targets[targetId]?.deprovisioned);
      return {
        waitingFor: 'onboarding',
        step: crlPending ? 'targets-crl-updated' : 'targets-deprovisioned',
        pendingTargets: pending.length,
        pendingTargetIds: pending.slice(0, maxTargetsListed),
      };
    }
    case 'TargetsDeprovisioned':
      return { waitingFor: 'registry', step: 'registry-updated' };
    default:
      return { waitingFor: 'revocation', step: 'completed' };
  }
}

/** The alerts an open revocation is due at `now` (none for one completed, or already alerted for this wait). */
export function overdue(
  state: RevocationState,
  view: RevocationStatusState,
  now: Date,
  policy: DeadlinePolicy,
): Overdue[] {
  const { revocationId, requestedAt } = state;
  const since = lastProgressAt(state);
  if (!revocationId || !requestedAt || !since || state.status === 'None' || state.status === 'Completed') return [];
  const due: Overdue[] = [];
  const elapsed = (from: string) => now.getTime() - Date.parse(from);
  const stalled = elapsed(since) >= policy.stallMs && state.stalled?.since !== since;
  const late = elapsed(requestedAt) >= policy.deadlineMs && !state.escalated;
  if (!stalled && !late) return due;
  const waiting = waitingFor(state, view);
  if (stalled)
    due.push({ type: 'RecordStall', data: { revocationId, ...waiting, since, stalledAfterMs: policy.stallMs } });
  if (late)
    due.push({
      type: 'Escalate',
      data: { revocationId, ...waiting, since, requestedAt, deadlineMs: policy.deadlineMs },
    });
  return due;
}
