/**
 * Template modifiers (smallstep's "modify the template"): each fills its part of the device
 * certificate from the validated request, the policy or the issuing CA, in order.
 */
import type { LoadedAuthority } from '../authority/certificate-authority.js';
import type { IssuanceContext } from './issuance-request.js';

/** What the device certificate is built from (the issuer's key signs it). */
export interface CertificateTemplate {
  deviceId: string;
  publicKeySpki: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  crlDistributionPointUrl: string;
}

export interface TemplateModifier {
  readonly name: string;
  modify(template: CertificateTemplate, ctx: IssuanceContext, authority: LoadedAuthority): void;
}

const day = 86_400_000;

/** Subject and SAN name the device; the key is the one the CSR proved possession of. */
export const deviceIdentity: TemplateModifier = {
  name: 'device-identity',
  modify(template, ctx) {
    template.deviceId = ctx.request.deviceId;
    template.publicKeySpki = ctx.csr!.spki;
  },
};

/** From the request's arrival (whole seconds) for the policy's lifetime, never past the issuing CA. */
export const lifetimeFromPolicy: TemplateModifier = {
  name: 'lifetime-from-policy',
  modify(template, ctx, authority) {
    const notBefore = Math.floor(ctx.request.receivedAt.getTime() / 1000) * 1000;
    const policy = ctx.facts.policy!;
    // A renewal policy may set a lifetime shorter than a day (down to an hour): short-lived certificates.
    const lifetime = policy.certificateLifetimeSeconds
      ? policy.certificateLifetimeSeconds * 1000
      : policy.certificateLifetimeDays * day;
    // A policy may ask for more than the issuing CA has left; RFC 5280 wants the leaf inside it.
    template.notBefore = new Date(notBefore);
    template.notAfter = new Date(Math.min(notBefore + lifetime, authority.certificate.notAfter.getTime()));
  },
};

/** Where the issuing CA's CRL is served. */
export const issuerCrlDistributionPoint: TemplateModifier = {
  name: 'issuer-crl-distribution-point',
  modify(template, _ctx, authority) {
    template.crlDistributionPointUrl = authority.crlUrl;
  },
};

export const templateModifiers: readonly TemplateModifier[] = [
  deviceIdentity,
  lifetimeFromPolicy,
  issuerCrlDistributionPoint,
];

/** The template after every modifier, in order. */
export function certificateTemplate(
  ctx: IssuanceContext,
  authority: LoadedAuthority,
  modifiers = templateModifiers,
): CertificateTemplate {
  const received = ctx.request.receivedAt;
  const template: CertificateTemplate = {
    deviceId: '',
    publicKeySpki: new Uint8Array(),
    notBefore: received,
    notAfter: received,
    crlDistributionPointUrl: '',
  };
  for (const modifier of modifiers) modifier.modify(template, ctx, authority);
  return template;
}
