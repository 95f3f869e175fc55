import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { crlDigestOfPem, HttpCrlSource } from './crl-source.js';

describe('HttpCrlSource', () => {
  let server: Server;
  let body = Buffer.alloc(0);
  let url = '';

  beforeAll(async () => {
    server = createServer((_request, response) => response.end(body));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/crl/issuing-acme.crl`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it.each([47, 48, 96, 500])(
    'turns a DER CRL of %i bytes into strict PEM (no blank line an OpenSSL CRL file load would choke on)',
    async (size) => {
      body = Buffer.from(Array.from({ length: size }, (_, i) => i % 251));
      const { crlPem } = await new HttpCrlSource().fetch({
        authorityId: 'issuing-acme',
        url,
        crlDigest: createHash('sha256').update(body).digest('hex'),
      });
      expect(
        crlPem
          .split('\n')
          .slice(0, -1)
          .every((line) => line.length > 0 && line.length <= 64),
      ).toBe(true);
      expect(crlDigestOfPem(crlPem)).toBe(createHash('sha256').update(body).digest('hex'));
    },
  );

  it('refuses bytes that are not the published CRL', async () => {
    body = Buffer.from('not the CRL');
    await expect(
      new HttpCrlSource().fetch({ authorityId: 'issuing-acme', url, crlDigest: 'a'.repeat(64) }),
    ).rejects.toThrow('does not match the published digest');
  });
});
