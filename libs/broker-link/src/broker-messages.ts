/**
 * What onboarding and a broker agent say to each other, checked on both ends. No secrets travel
 * here: CA certificates, CRLs and topic patterns are public. A message is bounded (NATS' default
 * payload is 1 MiB; a CRL of ~20,000 revoked serials fits).
 */
import { Type, type Static } from '@sinclair/typebox';
import { compileContract, Struct } from '@tunnelkey/contracts';

const maxPemBytes = 900_000;

/** One `pattern` line of the broker's acl_file: `%u` (the certificate CN, the device id) as a whole level. */
export const AclPattern = Struct({
  access: Type.Union([Type.Literal('read'), Type.Literal('write'), Type.Literal('readwrite')]),
  topic: Type.String({ minLength: 3, maxLength: 256, pattern: '^(?:[^\\s/%+#$][^\\s/%+#]*/)*%u(?:/[^\\s/%]+)*$' }),
});
export type AclPattern = Static<typeof AclPattern>;

/** The broker's whole trust, as it will be written: it replaces what was there. */
export const BrokerTrustFiles = Struct({
  /** Every CA the device listener accepts (cafile): PEM certificates only. */
  caPem: Type.String({ minLength: 1, maxLength: maxPemBytes }),
  /** One CRL per CA in caPem (crlfile): PEM CRLs only. */
  crlPem: Type.String({ minLength: 1, maxLength: maxPemBytes }),
  aclPatterns: Type.Array(AclPattern, { maxItems: 64 }),
});
export type BrokerTrustFiles = Static<typeof BrokerTrustFiles>;

export const brokerTrustFiles = compileContract<BrokerTrustFiles>(BrokerTrustFiles, 'broker trust files');

/** The agent's answer to an install: the broker reloaded with the files, or why not. */
export const ApplyTrustReply = Type.Union([
  Struct({ ok: Type.Literal(true), reloadMs: Type.Number({ minimum: 0 }) }),
  Struct({
    ok: Type.Literal(false),
    /** refused: the files or the broker refused them (changes nothing); unreachable: the broker did not reload. */
    code: Type.Union([Type.Literal('refused'), Type.Literal('unreachable')]),
    message: Type.String({ minLength: 1, maxLength: 600 }),
  }),
]);
export type ApplyTrustReply = Static<typeof ApplyTrustReply>;

export const applyTrustReply = compileContract<ApplyTrustReply>(ApplyTrustReply, 'apply-trust reply');

const ClientId = Type.String({ minLength: 1, maxLength: 256 });

/** A client coming or going, as the broker logged it (the agent reports them as they happen). */
export const BrokerConnectionFact = Type.Union([
  Struct({ kind: Type.Literal('connected'), clientId: ClientId, username: Type.Optional(ClientId) }),
  Struct({
    kind: Type.Literal('disconnected'),
    clientId: ClientId,
    reason: Type.Union([
      Type.Literal('client-closed'),
      Type.Literal('keepalive-timeout'),
      Type.Literal('client-disabled'),
      Type.Literal('session-taken-over'),
      Type.Literal('unknown'),
    ]),
  }),
]);
export type BrokerConnectionFact = Static<typeof BrokerConnectionFact>;

/** Client ids in one part of a report: at most 256 characters each, a part stays well under NATS' 1 MiB payload. */
export const maxClientIdsPerPart = 2_000;

/**
 * Who is connected to the broker now, as its log tells, sent every few seconds on the connections
 * subject (after the facts it sums up): a fact lost on the way is made good by the next report. A
 * report of many clients comes in `parts` messages sharing its `reportId`.
 */
export const BrokerConnectionsReport = Struct({
  kind: Type.Literal('present'),
  /** The agent's time of the report (ISO 8601) and a counter: one id for its parts. */
  reportId: Type.String({ minLength: 1, maxLength: 64 }),
  part: Type.Integer({ minimum: 0, maximum: 999 }),
  parts: Type.Integer({ minimum: 1, maximum: 1000 }),
  clientIds: Type.Array(ClientId, { maxItems: maxClientIdsPerPart }),
});
export type BrokerConnectionsReport = Static<typeof BrokerConnectionsReport>;

/** What an agent publishes on its connections subject. */
export const BrokerConnectionMessage = Type.Union([BrokerConnectionFact, BrokerConnectionsReport]);
export type BrokerConnectionMessage = Static<typeof BrokerConnectionMessage>;

export const brokerConnectionMessage = compileContract<BrokerConnectionMessage>(
  BrokerConnectionMessage,
  'broker connection message',
);

/** A report in parts of at most `maxClientIdsPerPart` client ids (one empty part when nobody is connected). */
export function connectionsReportParts(reportId: string, clientIds: readonly string[]): BrokerConnectionsReport[] {
  const parts = Math.max(1, Math.ceil(clientIds.length / maxClientIdsPerPart));
  return Array.from({ length: parts }, (_, part) => ({
    kind: 'present' as const,
    reportId,
    part,
    parts,
    clientIds: clientIds.slice(part * maxClientIdsPerPart, (part + 1) * maxClientIdsPerPart),
  }));
}

export const brokerConnectionFact = compileContract<BrokerConnectionFact>(
  BrokerConnectionFact,
  'broker connection fact',
);
