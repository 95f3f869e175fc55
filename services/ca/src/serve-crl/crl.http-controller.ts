/**
 * The CRL distribution point named in every certificate (`<CRL_BASE_URL>/<authorityId>.crl`):
 * the authority's current CRL, DER, `application/pkix-crl` (RFC 5280 4.2.1.13). Public data.
 */
import { Controller, Get, NotFoundException, Param, Res, StreamableFile } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { isAggregateId } from '@tunnelkey/contracts';
import { ServeCrlHandler } from './serve-crl.handler.js';

@Controller('crl')
export class CrlHttpController {
  constructor(
    private readonly handler: ServeCrlHandler,
    private readonly http: HttpAdapterHost,
  ) {}

  @Get(':file')
  async crl(@Param('file') file: string, @Res({ passthrough: true }) response: unknown): Promise<StreamableFile> {
    const authorityId = file.endsWith('.crl') ? file.slice(0, -'.crl'.length) : '';
    if (!isAggregateId(authorityId)) throw new NotFoundException('no such CRL');
    const current = await this.handler.current(authorityId);
    if (!current) throw new NotFoundException(`authority ${authorityId} has published no CRL`);
    // Through the adapter: the handler does not name the framework's response type.
    const setHeader = (name: string, value: string) => this.http.httpAdapter.setHeader(response, name, value);
    setHeader('ETag', `"${current.crl.crlDigest}"`);
    setHeader('Last-Modified', new Date(current.crl.thisUpdate).toUTCString());
    // Clients may cache until the next update at the latest; a revocation publishes a new one at once.
    setHeader('Cache-Control', 'public, max-age=60');
    return new StreamableFile(Buffer.from(current.der), {
      type: 'application/pkix-crl',
      length: current.der.byteLength,
    });
  }
}
