/**
 * The broker's trust files: the CA it verifies device certificates against (cafile, the target's
 * own CA), the CRL it checks them with (crlfile) and the topic patterns that give each device its
 * rights under its own id (acl_file). Written atomically (temp file + rename) so a reload never
 * reads half a file; the broker picks them up on SIGHUP without dropping live sessions.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { TargetRefusedError, TargetUnreachableError } from '../errors.js';
import type { TargetTrust } from '../target-port/onboarding-target.js';
import { checkTopicRights, deviceIdPlaceholder, type TopicRightSpec } from '../target-port/topic-plan.js';

export interface BrokerTrustPaths {
  caFile: string;
  /** The listener's crlfile: every CA in the cafile needs its CRL there. */
  crlFile: string;
  /** The broker's acl_file (`pattern` lines, `%u` the certificate's CN, i.e. the device id). */
  aclFile: string;
}

/** How the broker is told to re-read its files. */
export interface BrokerReloader {
  reload(): Promise<void>;
}

/** SIGHUP to the pid in the broker's pid_file (same host, or a pod sharing its process namespace). */
export function pidFileReloader(pidFile: string): BrokerReloader {
  return {
    async reload() {
      let pid: number;
      try {
        pid = Number((await readFile(pidFile, 'utf8')).trim());
      } catch (error) {
        throw new TargetUnreachableError('broker pid file cannot be read', { pidFile }, { cause: error });
      }
      if (!Number.isInteger(pid) || pid <= 1)
        throw new TargetUnreachableError('broker pid file holds no pid', { pidFile });
      try {
        process.kill(pid, 'SIGHUP');
      } catch (error) {
        throw new TargetUnreachableError('broker process cannot be signalled', { pidFile, pid }, { cause: error });
      }
    },
  };
}

/** Any other way (a test fixture's reload(), an HTTP sidecar, kubectl exec): a function. */
export const hookReloader = (reload: () => Promise<void>): BrokerReloader => ({ reload });

const pemBlocks = (text: string, label: string): string[] =>
  text
    .match(new RegExp(`-----BEGIN ${label}-----[\\s\\S]+?-----END ${label}-----`, 'g'))
    ?.map((block) => `${block}\n`) ?? [];

/** The file contents for a trust set; refuses a set the broker would enforce wrongly. */
export function renderTrustFiles(trust: TargetTrust): { ca: string; crl: string; acl: string } {
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
  return { ca: certificates.join(''), crl: crls.join(''), acl: renderAclFile(trust.topicRights) };
}

const aclAccess = { publish: 'write', subscribe: 'read', 'publish-subscribe': 'readwrite' } as const;

/**
 * One `pattern` line per topic right, `{deviceId}` as `%u`: with use_identity_as_username and
 * use_username_as_clientid on the device listener, `%u` is the certificate's CN, the device id, so
 * a device gets each right under its own id only. No rights: a file that grants nothing.
 */
export function renderAclFile(topicRights: readonly TopicRightSpec[]): string {
  const lines = ['# Written by tunnelkey onboarding: each device its rights under its own id (%u).'];
  if (topicRights.length > 0) checkTopicRights(topicRights);
  for (const right of topicRights) {
    const topic = right.topic
      .split('/')
      .map((level) => (level === deviceIdPlaceholder ? '%u' : level))
      .join('/');
    lines.push(`pattern ${aclAccess[right.access]} ${topic}`);
  }
  return `${lines.join('\n')}\n`;
}

export async function writeTrustFiles(trust: TargetTrust, paths: BrokerTrustPaths): Promise<void> {
  const rendered = renderTrustFiles(trust);
  await atomicWrite(paths.aclFile, rendered.acl);
  await atomicWrite(paths.crlFile, rendered.crl);
  await atomicWrite(paths.caFile, rendered.ca);
}

async function atomicWrite(path: string, content: string): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  await writeFile(temp, content, { mode: 0o644 });
  await rename(temp, path);
}
