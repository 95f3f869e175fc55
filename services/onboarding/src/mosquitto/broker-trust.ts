/**
 * A target's trust as a Mosquitto broker enforces it: the CAs it verifies device certificates
 * against (cafile, the target's own CA), the CRLs it checks them with (crlfile) and the topic
 * patterns that give each device its rights under its own id (acl_file). The broker's agent writes
 * them and reloads the broker (@tunnelkey/broker-link); this is what it is sent.
 */
import type { AclPattern, BrokerTrustFiles } from '@tunnelkey/broker-link';
import { TargetRefusedError } from '../errors.js';
import type { TargetTrust } from '../target-port/onboarding-target.js';
import { checkTopicRights, deviceIdPlaceholder, type TopicRightSpec } from '../target-port/topic-plan.js';

const pemBlocks = (text: string, label: string): string[] =>
  text
    .match(new RegExp(`-----BEGIN ${label}-----[\\s\\S]+?-----END ${label}-----`, 'g'))
    ?.map((block) => `${block}\n`) ?? [];

/** The files for a trust set; refuses a set the broker would enforce wrongly. */
export function brokerTrustOf(trust: TargetTrust): BrokerTrustFiles {
  const certificates = [
    ...new Set(trust.anchors.flatMap((anchor) => anchor.chainPem.flatMap((pem) => pemBlocks(pem, 'CERTIFICATE')))),
  ];
  if (certificates.length === 0) throw new TargetRefusedError('a trust set needs at least one CA certificate', {});
  const withCrl = new Set(trust.crls.map((crl) => crl.authorityId));
  const missing = trust.anchors.find((anchor) => !withCrl.has(anchor.authorityId));
  // With a crlfile, OpenSSL fails every handshake whose issuer has no CRL ("unable to get certificate CRL").
  if (missing)
    throw new TargetRefusedError(
      `no CRL for CA ${missing.authorityId}: the broker checks CRLs, so its devices could not connect`,
      { authorityId: missing.authorityId },
    );
  const crls = [...new Set(trust.crls.flatMap((crl) => pemBlocks(crl.crlPem, 'X509 CRL')))];
  return { caPem: certificates.join(''), crlPem: crls.join(''), aclPatterns: aclPatternsOf(trust.topicRights) };
}

const aclAccess = { publish: 'write', subscribe: 'read', 'publish-subscribe': 'readwrite' } as const;

/**
 * One `pattern` per topic right, `{deviceId}` as `%u`: with use_identity_as_username and
 * use_username_as_clientid on the device listener, `%u` is the certificate's CN, the device id, so
 * a device gets each right under its own id only. No rights: an acl_file that grants nothing.
 */
export function aclPatternsOf(topicRights: readonly TopicRightSpec[]): AclPattern[] {
  if (topicRights.length > 0) checkTopicRights(topicRights);
  return topicRights.map((right) => ({
    access: aclAccess[right.access],
    topic: right.topic
      .split('/')
      .map((level) => (level === deviceIdPlaceholder ? '%u' : level))
      .join('/'),
  }));
}
