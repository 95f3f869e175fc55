import { MalformedPkiObjectError } from '../errors.js';

export type PemLabel = 'CERTIFICATE' | 'CERTIFICATE REQUEST' | 'X509 CRL' | 'PUBLIC KEY' | 'PRIVATE KEY';

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** DER -> PEM with 64-column lines (RFC 7468 strict form, what openssl writes). */
export const derToPem = (der: Uint8Array, label: PemLabel): string => {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
};

/** Every PEM block in a text, in order (a chain file holds several). */
export const pemBlocks = (pem: string): Array<{ label: string; der: Uint8Array }> => {
  const out: Array<{ label: string; der: Uint8Array }> = [];
  for (const m of pem.matchAll(BLOCK)) {
    const body = (m[2] ?? '').replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0) {
      throw new MalformedPkiObjectError('PEM body is not base64', { label: m[1] });
    }
    out.push({ label: m[1] ?? '', der: new Uint8Array(Buffer.from(body, 'base64')) });
  }
  return out;
};

/** The first PEM block with this label; a different or missing label is an error, not a guess. */
export const pemToDer = (pem: string, label: PemLabel): Uint8Array => {
  const blocks = pemBlocks(pem);
  const block = blocks.find((b) => b.label === label);
  if (!block) {
    throw new MalformedPkiObjectError(`no PEM block labelled ${label}`, {
      expected: label,
      found: blocks.map((b) => b.label).join(',') || 'none',
    });
  }
  return block.der;
};

/** Accepts DER bytes or PEM text, so callers need not know which they were given. */
export const derFrom = (input: Uint8Array | string, label: PemLabel): Uint8Array =>
  typeof input === 'string' ? pemToDer(input, label) : input;
