/** Slice: CreateIssuingAuthority on the in-memory event store with an in-memory key store. */
import { X509Certificate } from 'node:crypto';
import { AuthorityCreated } from '@tunnelkey/contracts';
import { issuingAuthorityId } from '../authority/certificate-authority.js';
import { authorityStream } from '../deciders/authority.decider.js';
import { caSlice, type CaSlice } from '../test-support/ca-slice.test-helper.js';
import { CreateIssuingAuthorityHandler } from './create-issuing-authority.handler.js';
import { ensureAuthoritiesAtStart } from './authorities-at-start.js';

describe('create-issuing-authority slice (in-memory store)', () => {
  let ca: CaSlice;

  beforeEach(async () => {
    ca = await caSlice();
  });
  afterEach(() => ca.stop());

  it("creates the owner's issuing CA under a new root, once; a second command gets the same one", async () => {
    const handler = new CreateIssuingAuthorityHandler(ca.authority);
    const reply = await handler.handle({ commandId: 'c-1', ownerId: 'globex' });
    expect(reply.authorityId).toBe(issuingAuthorityId('globex'));
    const events = await ca.events(authorityStream(reply.authorityId));
    expect(events.map((e) => AuthorityCreated.parse(e).data)).toEqual([
      expect.objectContaining({
        role: 'issuing',
        ownerId: 'globex',
        parentAuthorityId: 'root',
        fingerprintSha256: reply.fingerprintSha256,
      }),
    ]);
    const root = AuthorityCreated.parse((await ca.events(authorityStream('root')))[0]).data;
    const issuing = new X509Certificate(reply.certificatePem);
    expect(issuing.ca).toBe(true);
    expect(issuing.checkIssued(new X509Certificate(root.certificatePem))).toBe(true);
    expect(issuing.verify(new X509Certificate(root.certificatePem).publicKey)).toBe(true);
    // The keys are stored wrapped, never in the log.
    expect([...ca.keys.entries()].map(([id]) => id).sort()).toEqual([reply.authorityId, 'root'].sort());

    const again = await new CreateIssuingAuthorityHandler(ca.authority).handle({ commandId: 'c-2', ownerId: 'globex' });
    expect(again).toEqual(reply);
    expect(await ca.events(authorityStream(reply.authorityId))).toHaveLength(1);
  });

  it('at start, makes the root and every known owner issuing CA with its first CRL', async () => {
    await ensureAuthoritiesAtStart(ca.authority, ca.eligibility, ca.crls);
    expect(await ca.events(authorityStream('root'))).toHaveLength(1);
    expect(await ca.events(authorityStream(issuingAuthorityId('acme')))).toHaveLength(1);
    expect(ca.revoked.currentCrl(issuingAuthorityId('acme'))).toMatchObject({ crlNumber: 1, revokedCount: 0 });
  });
});
