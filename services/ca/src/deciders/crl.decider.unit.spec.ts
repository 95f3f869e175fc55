import { CommandRejected } from '@tunnelkey/eventstore';
import { deciderSpecification } from '@tunnelkey/testing';
import { crlBackdateMs, crlDecider, nextCrlThisUpdate, type CrlData, type PublishCrlCommand } from './crl.decider.js';

const crl = (crlNumber: number, thisUpdate = '2026-03-01T12:00:00.000Z'): CrlData => ({
  authorityId: 'issuing-acme',
  crlNumber,
  issuer: 'CN=tunnelkey Issuing CA acme',
  thisUpdate,
  nextUpdate: '2026-03-08T12:00:00.000Z',
  url: 'http://127.0.0.1:3102/crl/issuing-acme.crl',
  revokedCount: crlNumber,
  crlDigest: 'a'.repeat(64),
});
const publish = (data: CrlData): PublishCrlCommand => ({
  type: 'PublishCrl',
  data,
  metadata: { commandId: `crl-${data.crlNumber}`, now: data.thisUpdate },
});
const published = (data: CrlData) => ({ type: 'CrlPublished', version: 1, data });
const spec = deciderSpecification(crlDecider, { aggregateId: 'issuing-acme' });

describe('CRL decider', () => {
  describe('when the authority has no CRL', () => {
    it('publishes number 1', () =>
      spec
        .given([])
        .when(publish(crl(1)))
        .then([published(crl(1))]));
    it('refuses any other number', () =>
      spec
        .given([])
        .when(publish(crl(2)))
        .thenThrows(CommandRejected));
  });
  describe('when the authority has published CRLs', () => {
    it('publishes the next number', () => {
      const third = crl(3, '2026-03-01T12:00:02.000Z');
      spec
        .given([published(crl(1)), published(crl(2, '2026-03-01T12:00:01.000Z'))])
        .when(publish(third))
        .then([published(third)]);
    });
    it('refuses a number already used (another instance was first): the caller rebuilds', () =>
      spec
        .given([published(crl(1)), published(crl(2))])
        .when(publish(crl(2)))
        .thenThrows((e) => e instanceof CommandRejected && e.reason === 'stale-crl-number'));
    it('refuses a thisUpdate earlier than the last CRL', () =>
      spec
        .given([published(crl(1, '2026-03-02T00:00:00.000Z'))])
        .when(publish(crl(2, '2026-03-01T00:00:00.000Z')))
        .thenThrows(CommandRejected));
    it("refuses a thisUpdate within the last CRL's second (a server could keep checking against the older one)", () =>
      spec
        .given([published(crl(1, '2026-03-02T00:00:00.000Z'))])
        .when(publish(crl(2, '2026-03-02T00:00:00.900Z')))
        .thenThrows((e) => e instanceof CommandRejected && e.reason === 'crl-not-after-last'));
  });
  it('refuses a nextUpdate that does not follow thisUpdate', () =>
    spec
      .given([])
      .when(publish({ ...crl(1), nextUpdate: '2026-03-01T12:00:00.000Z' }))
      .thenThrows(CommandRejected));
});

describe('the thisUpdate of the next CRL', () => {
  const now = new Date('2026-03-02T10:00:00.500Z');
  it('is now less the backdate, in whole seconds, when the last CRL is older', () => {
    expect(nextCrlThisUpdate(now).toISOString()).toBe(
      new Date(Date.parse('2026-03-02T10:00:00.000Z') - crlBackdateMs).toISOString(),
    );
    expect(nextCrlThisUpdate(now, { thisUpdate: '2026-03-01T00:00:00.000Z' }).getTime()).toBe(
      Date.parse('2026-03-02T10:00:00.000Z') - crlBackdateMs,
    );
  });
  it('is one second after the last CRL during a burst, and dated in the future only past 60 CRLs in a second', () => {
    let last: { thisUpdate: string } | undefined;
    const dates: number[] = [];
    for (;;) {
      const next = nextCrlThisUpdate(now, last);
      if (next > now) break;
      dates.push(next.getTime());
      last = { thisUpdate: next.toISOString() };
    }
    expect(dates.length).toBeGreaterThanOrEqual(60);
    expect(dates.every((d, i) => i === 0 || d === dates[i - 1]! + 1_000)).toBe(true);
  });
});
