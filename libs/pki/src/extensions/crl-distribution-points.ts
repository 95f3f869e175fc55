import { pkijs } from '../engine.js';
import { decodeWith } from '../encoding/der.js';
import { InvalidPkiInputError } from '../errors.js';
import { OID } from '../oids.js';
import { encodeValue, toPkijsExtension, type X509Extension } from './extension.js';

/** CRLDistributionPoints (RFC 5280 4.2.1.13): one full-name URI per point, where targets fetch our CRL. */
export class CrlDistributionPoints implements X509Extension {
  readonly oid = OID.crlDistributionPoints;
  readonly critical = false;

  private constructor(readonly urls: readonly string[]) {}

  static of(urls: readonly string[]): CrlDistributionPoints {
    if (urls.length === 0) throw new InvalidPkiInputError('CRLDistributionPoints needs at least one URL', {});
    for (const url of urls) {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch (e) {
        throw new InvalidPkiInputError('CRL distribution point is not a URL', {}, { cause: e });
      }
      // RFC 5280: HTTP (not HTTPS, which would need a CRL to check the CRL server) or LDAP.
      if (!['http:', 'ldap:'].includes(parsed.protocol) || !/^[\x21-\x7e]+$/.test(url)) {
        throw new InvalidPkiInputError('CRL distribution point must be an ASCII http: or ldap: URL', {
          protocol: parsed.protocol,
        });
      }
    }
    return new CrlDistributionPoints([...urls]);
  }

  static fromDer(extnValue: Uint8Array): CrlDistributionPoints {
    const cdp = decodeWith('CRLDistributionPoints', () => pkijs.CRLDistributionPoints.fromBER(extnValue));
    const urls: string[] = [];
    for (const dp of cdp.distributionPoints) {
      const names = dp.distributionPoint;
      if (Array.isArray(names)) for (const n of names) if (n.type === 6) urls.push(String(n.value));
    }
    return new CrlDistributionPoints(urls);
  }

  toDer(): Uint8Array {
    return encodeValue(
      new pkijs.CRLDistributionPoints({
        distributionPoints: this.urls.map(
          (value) => new pkijs.DistributionPoint({ distributionPoint: [new pkijs.GeneralName({ type: 6, value })] }),
        ),
      }),
    );
  }

  toExtension() {
    return toPkijsExtension(this);
  }
}
