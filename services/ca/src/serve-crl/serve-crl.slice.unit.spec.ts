/** Slice: the CRL distribution point on the in-memory event store and CRL store. */
import { createHash } from 'node:crypto';
import { NotFoundException } from '@nestjs/common';
import type { HttpAdapterHost } from '@nestjs/core';
import { issuingAuthorityId } from '../authority/certificate-authority.js';
import { AuthorityUnavailableError } from '../errors.js';
import { caSlice, type CaSlice } from '../test-support/ca-slice.test-helper.js';
import { CrlHttpController } from './crl.http-controller.js';
import { ServeCrlHandler } from './serve-crl.handler.js';

describe('serve-crl slice (in-memory store)', () => {
  let ca: CaSlice;
  let controller: CrlHttpController;
  let authorityId: string;
  /** The headers the controller set, through the HTTP adapter as in the running service. */
  let headers: Map<string, string>;

  beforeEach(async () => {
    ca = await caSlice();
    headers = new Map();
    const http = {
      httpAdapter: { setHeader: (_response: unknown, name: string, value: string) => void headers.set(name, value) },
    } as unknown as HttpAdapterHost;
    controller = new CrlHttpController(new ServeCrlHandler(ca.revoked, ca.crlStore), http);
    authorityId = (await ca.authority.issuingFor('acme')).authorityId;
  });
  afterEach(() => ca.stop());

  it("serves an authority's current CRL as DER, with its digest as ETag", async () => {
    const published = await ca.crls.ensurePublished(authorityId);
    const file = await controller.crl(`${authorityId}.crl`, {});
    const chunks: Buffer[] = [];
    for await (const chunk of file.getStream()) chunks.push(chunk as Buffer);
    const der = Buffer.concat(chunks);
    expect(createHash('sha256').update(der).digest('hex')).toBe(published.crlDigest);
    expect(headers.get('ETag')).toBe(`"${published.crlDigest}"`);
    expect(file.getHeaders().type).toBe('application/pkix-crl');
  });

  it('answers 404 for an authority without a CRL and for a name that is no CRL', async () => {
    await expect(controller.crl(`${issuingAuthorityId('nobody')}.crl`, {})).rejects.toThrow(NotFoundException);
    await expect(controller.crl('../etc/passwd', {})).rejects.toThrow(NotFoundException);
    expect(headers.size).toBe(0);
  });

  it('refuses to serve bytes that do not match the published digest', async () => {
    const published = await ca.crls.ensurePublished(authorityId);
    await ca.crlStore.put(authorityId, published.crlDigest, new Uint8Array([1, 2, 3]));
    await expect(new ServeCrlHandler(ca.revoked, ca.crlStore).current(authorityId)).rejects.toThrow(
      AuthorityUnavailableError,
    );
  });
});
