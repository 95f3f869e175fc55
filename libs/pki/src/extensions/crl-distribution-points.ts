import { pkijs } from '../engine.js';
import { contentBytes, decodeOid, DerReader, readSingle, TAG, type DerElement } from '../encoding/der-reader.js';
import { decodeWith } from '../encoding/der.js';
import { InvalidPkiInputError, MalformedPkiObjectError } from '../errors.js';
import { OID } from '../oids.js';
import { encodeValue, toPkijsExtension, type X509Extension } from './extension.js';
import { readGeneralNames } from './general-names.js';

const WHAT = 'CRLDistributionPoints';

/** nameRelativeToCRLIssuer [1] IMPLICIT SET OF AttributeTypeAndValue: shape only. */
const checkRelativeName = (der: Uint8Array, rdn: DerElement): void => {
  const set = DerReader.inside(der, rdn, 'RelativeDistinguishedName');
  if (set.done) throw new MalformedPkiObjectError(`${WHAT}: empty RelativeDistinguishedName`, { what: WHAT });
  while (!set.done) {
    const atv = DerReader.inside(der, set.expect(TAG.SEQUENCE, 'AttributeTypeAndValue'), 'AttributeTypeAndValue');
    decodeOid(contentBytes(der, atv.expect(TAG.OID, 'type')), WHAT);
    if (atv.done) throw new MalformedPkiObjectError(`${WHAT}: attribute value missing`, { what: WHAT });
    atv.next();
    atv.end('value');
  }
};

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

  /**
   * Strict DER: SEQUENCE SIZE (1..MAX) OF DistributionPoint { distributionPoint [0] { fullName [0]
   * GeneralNames | nameRelativeToCRLIssuer [1] } OPTIONAL, reasons [1] OPTIONAL, cRLIssuer [2] OPTIONAL };
   * the URIs of full names are kept.
   */
  static fromDer(extnValue: Uint8Array): CrlDistributionPoints {
    const urls: string[] = [];
    const points = DerReader.inside(extnValue, readSingle(extnValue, TAG.SEQUENCE, WHAT), WHAT);
    if (points.done) throw new MalformedPkiObjectError(`${WHAT}: no distribution point`, { what: WHAT });
    while (!points.done) {
      const dp = DerReader.inside(extnValue, points.expect(TAG.SEQUENCE, 'DistributionPoint'), 'DistributionPoint');
      const name = dp.optional(0xa0);
      if (name) {
        const choice = DerReader.inside(extnValue, name, 'DistributionPointName');
        const e = choice.next();
        choice.end('DistributionPointName');
        if (e.tag === 0xa0) urls.push(...readGeneralNames(extnValue, e, WHAT).uris);
        else if (e.tag === 0xa1) checkRelativeName(extnValue, e);
        else
          throw new MalformedPkiObjectError(`${WHAT}: unknown DistributionPointName form`, { what: WHAT, tag: e.tag });
      }
      const reasons = dp.optional(0x81);
      if (reasons && !((contentBytes(extnValue, reasons)[0] ?? 8) <= 7)) {
        throw new MalformedPkiObjectError(`${WHAT}: reasons is not a BIT STRING`, { what: WHAT });
      }
      const crlIssuer = dp.optional(0xa2);
      if (crlIssuer) readGeneralNames(extnValue, crlIssuer, WHAT);
      dp.end('cRLIssuer');
    }
    return new CrlDistributionPoints(urls);
  }

  /** The same through pkijs: the reference `fromDer` is tested against. */
  static fromDerWithPkijs(extnValue: Uint8Array): CrlDistributionPoints {
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
