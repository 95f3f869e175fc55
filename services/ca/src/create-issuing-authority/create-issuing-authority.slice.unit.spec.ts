/**
 * Slice: the hierarchy as the service sees it, on the in-memory event store with an in-memory key
 * store. The root key stays with the ceremony: the service never reads it and creates no
 * authority, neither at start nor for a new owner's batch.
 */
import { X509Certificate } from 'node:crypto';
import { jest } from '@jest/globals';
import { AuthorityCreated } from '@tunnelkey/contracts';
import { issuingAuthorityId } from '../authority/certificate-authority.js';
import { CertifyDevicesHandler } from '../certify-devices/certify-devices.handler.js';
import { authorityStream } from '../deciders/authority.decider.js';
import { caSlice, silent, type CaSlice } from '../test-support/ca-slice.test-helper.js';
import { CreateIssuingAuthorityHandler } from './create-issuing-authority.handler.js';
import { ensureAuthoritiesAtStart } from './authorities-at-start.js';

describe('create-issuing-authority slice (in-memory store)', () => {
  let ca: CaSlice;

  afterEach(() => ca.stop());

  it("returns the owner's issuing CA the ceremony signed under the root; the service holds no root key", async () => {
    ca = await caSlice({ owners: ['acme'] });
    const reply = await new CreateIssuingAuthorityHandler(ca.authority).handle({ commandId: 'c-1', ownerId: 'acme' });
    expect(reply.authorityId).toBe(issuingAuthorityId('acme'));
    const events = await ca.events(authorityStream(reply.authorityId));
    expect(events.map((e) => AuthorityCreated.parse(e).data)).toEqual([
      expect.objectContaining({
        role: 'issuing',
        ownerId: 'acme',
        parentAuthorityId: 'root',
        fingerprintSha256: reply.fingerprintSha256,
      }),
    ]);
    const root = AuthorityCreated.parse((await ca.events(authorityStream('root')))[0]).data;
    const issuing = new X509Certificate(reply.certificatePem);
    expect(issuing.ca).toBe(true);
    expect(issuing.checkIssued(new X509Certificate(root.certificatePem))).toBe(true);
    expect(issuing.verify(new X509Certificate(root.certificatePem).publicKey)).toBe(true);
    // Only the issuing key is in the service's store, wrapped; the root key never was.
    expect([...ca.keys.entries()].map(([id]) => id)).toEqual([reply.authorityId]);
    expect((await ca.authority.root()).issuer).toBeUndefined();
  });

  it('refuses an owner without an issuing CA, naming the ceremony step, and records nothing', async () => {
    ca = await caSlice({ owners: [] });
    const refusal = new CreateIssuingAuthorityHandler(ca.authority).handle({ commandId: 'c-1', ownerId: 'globex' });
    await expect(refusal).rejects.toMatchObject({
      reason: 'no-issuing-authority',
      message: expect.stringContaining('no issuing CA for owner globex: run the ceremony'),
    });
    expect(await ca.events(authorityStream(issuingAuthorityId('globex')))).toEqual([]);
    expect([...ca.keys.entries()]).toEqual([]);
  });

  it('at start reads no root key and creates no authority: an owner the ceremony has not served stays without one', async () => {
    ca = await caSlice({ owners: [] });
    const reads = jest.spyOn(ca.keys, 'get');
    await ensureAuthoritiesAtStart(ca.authority, ca.eligibility, ca.crls);
    expect(reads.mock.calls.map(([id]) => id)).not.toContain('root');
    expect([...ca.keys.entries()].map(([id]) => id)).not.toContain('root');
    // acme (owner of batch b) is known to the registry, yet gets no issuing CA implicitly.
    expect(await ca.events(authorityStream(issuingAuthorityId('acme')))).toEqual([]);
    expect(ca.revoked.currentCrl(issuingAuthorityId('acme'))).toBeUndefined();
  });

  it('at start loads the issuing CAs the ceremony signed (without the root key) and publishes their first CRL', async () => {
    ca = await caSlice({ owners: ['acme'] });
    const reads = jest.spyOn(ca.keys, 'get');
    await ensureAuthoritiesAtStart(ca.authority, ca.eligibility, ca.crls);
    expect(reads.mock.calls.map(([id]) => id)).toEqual([issuingAuthorityId('acme')]);
    expect(ca.revoked.currentCrl(issuingAuthorityId('acme'))).toMatchObject({ crlNumber: 1, revokedCount: 0 });
  });

  it('refuses certification of a batch whose owner has no issuing CA, and creates none', async () => {
    ca = await caSlice({ owners: [] });
    await ca.device('b');
    const certify = new CertifyDevicesHandler(
      ca.eligibility,
      ca.authority,
      ca.crls,
      ca.csrRequests(),
      ca.store,
      ca.clock,
      silent,
    );
    await expect(certify.handle({ commandId: 'cert-1', scope: { kind: 'batch', batchId: 'b' } })).rejects.toMatchObject(
      {
        reason: 'no-issuing-authority',
        message: expect.stringContaining('no issuing CA for owner acme: run the ceremony'),
      },
    );
    expect(await ca.events(authorityStream(issuingAuthorityId('acme')))).toEqual([]);
    expect(ca.sent).toEqual([]);
  });
});
