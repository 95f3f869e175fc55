/** The current CRL of an authority and its bytes, as the distribution point serves them. */
import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { CrlStore } from '../crl-store-port/crl-store.js';
import { AuthorityUnavailableError } from '../errors.js';
import { CRL_STORE } from '../tokens.js';
import { RevokedCertificatesView, type CrlData } from '../views/revoked-certificates.view.js';

export interface CurrentCrl {
  crl: CrlData;
  der: Uint8Array;
}

@Injectable()
export class ServeCrlHandler {
  constructor(
    private readonly revoked: RevokedCertificatesView,
    @Inject(CRL_STORE) private readonly crls: CrlStore,
  ) {}

  /** The authority's current CRL and its DER (checked against the published digest), or undefined if it has none. */
  async current(authorityId: string): Promise<CurrentCrl | undefined> {
    const crl = this.revoked.currentCrl(authorityId);
    if (!crl) return undefined;
    const der = await this.crls.get(authorityId, crl.crlDigest);
    if (!der || createHash('sha256').update(der).digest('hex') !== crl.crlDigest) {
      throw new AuthorityUnavailableError('the published CRL is missing from the CRL store', {
        authorityId,
        crlNumber: crl.crlNumber,
      });
    }
    return { crl, der };
  }
}
