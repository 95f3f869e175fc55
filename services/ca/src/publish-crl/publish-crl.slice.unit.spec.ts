/** Slice: CRL publication, refresh job and distribution point on the in-memory store and CRL store. */
import { createHash } from 'node:crypto';
import { CrlPublished } from '@tunnelkey/contracts';
import { metadataOf } from '@tunnelkey/eventstore';
import { issuingAuthorityId } from '../authority/certificate-authority.js';
import { crlStream } from '../deciders/crl.decider.js';
import { ServeCrlHandler } from '../serve-crl/serve-crl.handler.js';
import { caSlice, silent, type CaSlice } from '../test-support/ca-slice.test-helper.js';
import { CrlRefreshJob } from './crl-refresh.job.js';

describe('publish-crl slice (in-memory store)', () => {
  let ca: CaSlice;
  let authorityId: string;
  const published = async () => (await ca.events(crlStream(authorityId))).map((e) => CrlPublished.parse(e).data);

  beforeEach(async () => {
    ca = await caSlice();
    authorityId = (await ca.authority.issuingFor('acme')).authorityId;
  });
  afterEach(() => ca.stop());

  it("publishes an issuing CA's first, empty CRL once, and serves its bytes by digest", async () => {
    const first = await ca.crls.ensurePublished(authorityId);
    expect(await ca.crls.ensurePublished(authorityId)).toEqual(first);
    expect(await published()).toEqual([
      expect.objectContaining({
        authorityId,
        crlNumber: 1,
        revokedCount: 0,
        url: `http://ca.test/crl/${authorityId}.crl`,
      }),
    ]);
    const served = await new ServeCrlHandler(ca.revoked, ca.crlStore).current(authorityId);
    expect(served?.crl).toEqual(first);
    expect(createHash('sha256').update(served!.der).digest('hex')).toBe(first.crlDigest);
    expect(await new ServeCrlHandler(ca.revoked, ca.crlStore).current(issuingAuthorityId('nobody'))).toBeUndefined();
  });

  it('returns the CRL a command already published instead of publishing another', async () => {
    const metadata = metadataOf({ commandId: 'publish-1' }, new Date());
    const once = await ca.crls.publish(authorityId, metadata);
    expect(await ca.crls.publish(authorityId, metadata)).toEqual(once);
    expect(await published()).toHaveLength(1);
  });

  it('lists what the view holds as revoked, with the next number and a later thisUpdate', async () => {
    const first = await ca.crls.ensurePublished(authorityId);
    const revokedAt = new Date().toISOString();
    ca.revoked.noteRevoked({
      deviceId: 'd-1',
      authorityId,
      serialNumber: '0abc',
      reason: 'keyCompromise',
      revokedAt,
      revocationId: 'rv-1',
    });
    const next = await ca.crls.publish(authorityId, metadataOf({ commandId: 'publish-2' }, new Date()));
    expect(next).toMatchObject({ crlNumber: 2, revokedCount: 1 });
    expect(Date.parse(next.thisUpdate)).toBeGreaterThan(Date.parse(first.thisUpdate));
  });

  it('the refresh job re-publishes a CRL past half its validity, once per CRL number', async () => {
    const first = await ca.crls.ensurePublished(authorityId);
    await new CrlRefreshJob(ca.crls, ca.config, silent).run();
    expect(await published()).toHaveLength(1); // not due yet
    const later = new Date(Date.parse(first.thisUpdate) + 4 * 86_400_000);
    expect(await ca.crls.refreshDue(later)).toEqual([authorityId]);
    expect(await ca.crls.refreshDue(later)).toEqual([]);
    expect((await published()).map((c) => c.crlNumber)).toEqual([1, 2]);
  });
});
