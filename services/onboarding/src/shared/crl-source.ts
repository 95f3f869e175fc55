/**
 * CRL bytes for a CrlPublished event (which carries the URL and digest, not the CRL): fetched from
 * the CA's distribution point and checked against the digest before any broker sees it.
 */
import { createHash } from 'node:crypto';
import { derToPem } from '@tunnelkey/pki';
import { TargetRefusedError, TargetUnreachableError } from '../errors.js';

export interface CrlSource {
  fetch(request: { authorityId: string; url: string; crlDigest: string }): Promise<{ crlPem: string }>;
}

export const crlDigestOfPem = (crlPem: string): string =>
  createHash('sha256')
    .update(Buffer.from(crlPem.replace(/-----[^-]+-----|\s/g, ''), 'base64'))
    .digest('hex');

export class HttpCrlSource implements CrlSource {
  async fetch(request: { authorityId: string; url: string; crlDigest: string }): Promise<{ crlPem: string }> {
    let der: Buffer;
    try {
      const response = await fetch(request.url, { signal: AbortSignal.timeout(5_000) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      der = Buffer.from(await response.arrayBuffer());
    } catch (error) {
      throw new TargetUnreachableError(
        'CRL could not be fetched',
        { authorityId: request.authorityId, url: request.url },
        { cause: error },
      );
    }
    const text = der.toString('latin1');
    // Strict 64-column PEM: a blank line before the END line (DER of a multiple of 48 bytes, hand-rolled) makes OpenSSL refuse the whole CRL file.
    const pem = text.includes('-----BEGIN X509 CRL-----') ? text : derToPem(der, 'X509 CRL');
    if (crlDigestOfPem(pem) !== request.crlDigest)
      throw new TargetRefusedError('fetched CRL does not match the published digest', {
        authorityId: request.authorityId,
      });
    return { crlPem: pem };
  }
}
