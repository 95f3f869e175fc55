import { deciderSpecification } from '@tunnelkey/testing';
import { csrRequestDecider, type CsrRequestCommand, type CsrRequestState } from './csr-request.decider.js';

const deviceId = 'd-abcdefghijklmnopqrstuvwxyz234567';
const requestId = 'r-0123456789abcdef0123456789abcdef';
const metadata = { commandId: 'ask-1', now: '2026-01-01T00:00:00.000Z' };
const request = { deviceId, requestId, keyId: 'tls-0', expiresAt: '2026-01-01T00:10:00.000Z' };
const ask: CsrRequestCommand = { type: 'RecordCsrRequest', data: request, metadata };
const expire: CsrRequestCommand = { type: 'RecordCsrRequestExpiry', data: { deviceId, requestId, asks: 5 }, metadata };
const requested = { type: 'CsrRequested', version: 1, data: request };
const expired = { type: 'CsrRequestExpired', version: 1, data: { deviceId, requestId, asks: 5 } };

const spec = deciderSpecification(csrRequestDecider, { aggregateId: requestId });

describe('CSR request decider', () => {
  it('records a request once', () => spec.given([]).when(ask).then([requested]));
  it('records nothing for a request recorded before, pending or given up (a retried command)', () => {
    spec.given([requested]).when(ask).thenNothingHappened();
    spec.given([requested, expired]).when(ask).thenNothingHappened();
  });
  it('gives a pending request up, once', () => {
    spec.given([requested]).when(expire).then([expired]);
    spec.given([requested, expired]).when(expire).thenNothingHappened();
  });
  it('gives up nothing that was never requested', () => spec.given([]).when(expire).thenNothingHappened());
  it('folds to where the request stands', () => {
    const fold = (events: object[]) =>
      events.reduce<CsrRequestState>(
        (state, event) => csrRequestDecider.evolve(state, event as never),
        csrRequestDecider.initialState(),
      );
    expect(fold([])).toEqual({ status: 'None' });
    expect(fold([requested])).toEqual({ status: 'Requested', request });
    expect(fold([requested, expired])).toEqual({ status: 'Expired', request });
  });
});
