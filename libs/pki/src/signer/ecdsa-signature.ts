/**
 * ECDSA signature encodings. WebCrypto signs and verifies the raw IEEE P1363 form (r || s, each
 * padded to the field size); X.509, PKCS#10 and CRLs carry the DER ECDSA-Sig-Value
 * SEQUENCE { r INTEGER, s INTEGER }. Hand-written: it runs once per issued certificate.
 */
import { MalformedPkiObjectError } from '../errors.js';

const derInteger = (magnitude: Uint8Array): Uint8Array => {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const body = magnitude.subarray(start);
  const pad = (body[0] ?? 0) & 0x80 ? 1 : 0;
  const out = new Uint8Array(2 + pad + body.length);
  out[0] = 0x02;
  out[1] = pad + body.length;
  out.set(body, 2 + pad);
  return out;
};

/** r || s -> DER ECDSA-Sig-Value. */
export const rawEcdsaToDer = (raw: Uint8Array, fieldBytes: number): Uint8Array => {
  if (raw.length !== 2 * fieldBytes) {
    throw new MalformedPkiObjectError('raw ECDSA signature has the wrong length', { length: raw.length, fieldBytes });
  }
  const r = derInteger(raw.subarray(0, fieldBytes));
  const s = derInteger(raw.subarray(fieldBytes));
  const len = r.length + s.length; // < 128 for P-256 and P-384, so the short length form suffices
  const out = new Uint8Array(2 + len);
  out[0] = 0x30;
  out[1] = len;
  out.set(r, 2);
  out.set(s, 2 + r.length);
  return out;
};

const readInteger = (der: Uint8Array, offset: number, fieldBytes: number): { value: Uint8Array; next: number } => {
  if (der[offset] !== 0x02) throw new MalformedPkiObjectError('ECDSA signature: INTEGER expected', {});
  const len = der[offset + 1] ?? 0;
  if (len === 0 || len > 0x7f || offset + 2 + len > der.length) {
    throw new MalformedPkiObjectError('ECDSA signature: bad INTEGER length', {});
  }
  let body = der.subarray(offset + 2, offset + 2 + len);
  if ((body[0] ?? 0) & 0x80) throw new MalformedPkiObjectError('ECDSA signature: negative INTEGER', {});
  if (body[0] === 0 && body.length > 1) {
    // DER: a leading zero is allowed only to clear the sign bit.
    if (!((body[1] ?? 0) & 0x80)) throw new MalformedPkiObjectError('ECDSA signature: non-minimal INTEGER', {});
    body = body.subarray(1);
  }
  if (body.length > fieldBytes) throw new MalformedPkiObjectError('ECDSA signature: INTEGER too large', {});
  const value = new Uint8Array(fieldBytes);
  value.set(body, fieldBytes - body.length);
  return { value, next: offset + 2 + len };
};

/** DER ECDSA-Sig-Value -> r || s, strictly (no trailing bytes, minimal integers). */
export const derEcdsaToRaw = (der: Uint8Array, fieldBytes: number): Uint8Array => {
  if (der[0] !== 0x30 || der.length < 8) throw new MalformedPkiObjectError('ECDSA signature: SEQUENCE expected', {});
  const len = der[1] ?? 0;
  if (len > 0x7f || 2 + len !== der.length) throw new MalformedPkiObjectError('ECDSA signature: bad length', {});
  const r = readInteger(der, 2, fieldBytes);
  const s = readInteger(der, r.next, fieldBytes);
  if (s.next !== der.length) throw new MalformedPkiObjectError('ECDSA signature: trailing bytes', {});
  const out = new Uint8Array(2 * fieldBytes);
  out.set(r.value, 0);
  out.set(s.value, fieldBytes);
  return out;
};
