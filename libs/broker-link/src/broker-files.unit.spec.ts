import { brokerTrustFiles } from './broker-messages.js';
import { renderBrokerFiles } from './broker-files.js';
import { BrokerTrustRefusedError } from './errors.js';

const cert = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----';
const crl = '-----BEGIN X509 CRL-----\nMIIBcrl\n-----END X509 CRL-----';

describe('the files an agent writes for its broker', () => {
  it('renders PEM blocks one per line group and one acl pattern per right, %u the device id', () => {
    const files = renderBrokerFiles({
      caPem: `${cert}\n${cert}\n`,
      crlPem: crl,
      aclPatterns: [
        { access: 'write', topic: 'devices/%u/telemetry' },
        { access: 'read', topic: 'devices/%u/commands/#' },
      ],
    });
    expect(files.ca).toBe(`${cert}\n${cert}\n`);
    expect(files.crl).toBe(`${crl}\n`);
    expect(files.acl.split('\n').slice(1)).toEqual([
      'pattern write devices/%u/telemetry',
      'pattern read devices/%u/commands/#',
      '',
    ]);
  });

  it.each([
    ['a CRL in the cafile', { caPem: crl, crlPem: crl }, /cafile may hold CERTIFICATE blocks only/],
    [
      'a private key in the crlfile',
      { caPem: cert, crlPem: '-----BEGIN PRIVATE KEY-----\nAA\n-----END PRIVATE KEY-----' },
      /crlfile may hold X509 CRL blocks only/,
    ],
    [
      'text around the blocks (a config line)',
      { caPem: `${cert}\nrequire_certificate false\n`, crlPem: crl },
      /something other than PEM/,
    ],
    ['no certificate at all', { caPem: '\n', crlPem: crl }, /something other than PEM|at least one/],
  ])('refuses %s before writing anything', (_what, pems, message) => {
    expect(() => renderBrokerFiles({ ...pems, aclPatterns: [] })).toThrow(BrokerTrustRefusedError);
    expect(() => renderBrokerFiles({ ...pems, aclPatterns: [] })).toThrow(message);
  });

  it.each([
    ['no %u: every device would share it', 'devices/all/#'],
    ['%u inside a level', 'devices/x%u/#'],
    ['a wildcard before %u', 'devices/+/%u'],
    ['a $SYS topic', '$SYS/%u'],
    ['a second line smuggled in', 'devices/%u\npattern readwrite #'],
    ['%u twice', 'devices/%u/%u'],
  ])('the contract refuses an acl pattern with %s', (_what, topic) => {
    expect(brokerTrustFiles.is({ caPem: cert, crlPem: crl, aclPatterns: [{ access: 'read', topic }] })).toBe(false);
  });

  it('the contract accepts the patterns onboarding sends', () => {
    const aclPatterns = [
      { access: 'write', topic: 'fridges/%u/telemetry' },
      { access: 'readwrite', topic: 'a/b/%u/+/x/#' },
    ];
    expect(brokerTrustFiles.is({ caPem: cert, crlPem: crl, aclPatterns })).toBe(true);
  });
});
