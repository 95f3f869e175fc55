import { randomUUID } from 'node:crypto';
import {
  CertificateIssued,
  CertificateRevoked,
  CrlPublished,
  type DataOf,
  type EventDefinition,
} from '@tunnelkey/contracts';
import { decodeViewCheckpoint, encodeViewCheckpoint } from '@tunnelkey/eventstore';
import { CertificatesState } from './certificates.view.js';

const at = '2026-11-27T10:00:00.000Z';
const event = <E extends EventDefinition>(definition: E, aggregateId: string, data: DataOf<E>) =>
  definition.create({
    id: randomUUID(),
    aggregateId,
    occurredAt: at,
    causationId: 'test',
    correlationId: 'test',
    data,
  });

const issued = (deviceId: string, serialNumber: string, authorityId = 'issuing-acme') =>
  event(CertificateIssued, deviceId, {
    deviceId,
    requestId: `r-${deviceId}`,
    authorityId,
    serialNumber,
    subject: `CN=${deviceId}`,
    issuer: 'CN=acme issuing CA',
    notBefore: at,
    notAfter: '2027-11-27T10:00:00.000Z',
    fingerprintSha256: 'b'.repeat(64),
    publicKeyDigest: 'c'.repeat(64),
    keyId: 'tls-0',
    certificatePem: '-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n',
    chainPem: ['-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n'],
  });
const revoked = (deviceId: string, serialNumber: string, authorityId = 'issuing-acme') =>
  event(CertificateRevoked, deviceId, {
    deviceId,
    authorityId,
    serialNumber,
    reason: 'keyCompromise',
    revokedAt: at,
    revocationId: `rv-${deviceId}`,
  });
const crl = (crlNumber: number, authorityId = 'issuing-acme') =>
  event(CrlPublished, authorityId, {
    authorityId,
    crlNumber,
    issuer: 'CN=acme issuing CA',
    thisUpdate: at,
    nextUpdate: '2026-11-28T10:00:00.000Z',
    url: `http://ca/crl/${authorityId}.crl`,
    revokedCount: 0,
    crlDigest: 'a'.repeat(64),
  });

describe('certificates view: which CRL lists a revoked device', () => {
  it('is the first CRL of its issuer published after the revocation, never an earlier one', () => {
    const state = new CertificatesState();
    for (const e of [
      issued('d-1', '01'),
      issued('d-2', '02'),
      issued('d-3', '03', 'issuing-other'),
      crl(1),
      revoked('d-1', '01'),
      revoked('d-3', '03', 'issuing-other'),
    ])
      state.apply(e);
    expect(state.devices.get('d-1')).toMatchObject({ revoked: true, revocationId: 'rv-d-1' });
    expect(state.devices.get('d-1')!.listedOnCrl).toBeUndefined(); // revoked, but on no CRL yet
    state.apply(crl(2));
    state.apply(revoked('d-2', '02'));
    state.apply(crl(3));
    state.apply(crl(4));
    expect(state.devices.get('d-1')!.listedOnCrl).toBe(2);
    expect(state.devices.get('d-2')!.listedOnCrl).toBe(3);
    // Another authority's CRLs do not list it.
    expect(state.devices.get('d-3')!.listedOnCrl).toBeUndefined();
    state.apply(crl(7, 'issuing-other'));
    expect(state.devices.get('d-3')!.listedOnCrl).toBe(7);
  });

  it('ignores the revocation of a certificate the device no longer holds', () => {
    const state = new CertificatesState();
    for (const e of [issued('d-1', '01'), issued('d-1', '02'), revoked('d-1', '01'), crl(2)]) state.apply(e);
    expect(state.devices.get('d-1')).toMatchObject({ revoked: false });
    expect(state.devices.get('d-1')!.listedOnCrl).toBeUndefined();
  });
});

describe('certificates view: checkpoint', () => {
  const throughCheckpoint = (state: CertificatesState): CertificatesState => {
    const data = encodeViewCheckpoint(1, { state: state.toCheckpoint(), positions: { ca: 7 } });
    const decoded = decodeViewCheckpoint(1, data);
    if (!('checkpoint' in decoded)) throw new Error(decoded.ignored);
    return CertificatesState.fromCheckpoint(decoded.checkpoint.state);
  };

  it('a state restored from its checkpoint equals the state folded from scratch, revocations awaiting their CRL included', () => {
    const head = [issued('d-1', '01'), issued('d-2', '02'), crl(1), revoked('d-1', '01')];
    const tail = [revoked('d-2', '02'), crl(2)];
    const scratch = new CertificatesState();
    for (const e of [...head, ...tail]) scratch.apply(e);
    const checkpointed = new CertificatesState();
    for (const e of head) checkpointed.apply(e);
    const restored = throughCheckpoint(checkpointed);
    for (const e of tail) restored.apply(e);
    expect(restored).toEqual(scratch);
    // d-1 was revoked before the checkpoint and is listed by the CRL after it: the pending set survived.
    expect(restored.devices.get('d-1')!.listedOnCrl).toBe(2);
    expect(restored.toCheckpoint()).toEqual(scratch.toCheckpoint());
  });
});
