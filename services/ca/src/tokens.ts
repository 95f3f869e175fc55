/** Injection tokens of the CA's own ports and settings (EVENT_STORE and the rest come from @tunnelkey/messaging). */
export const CA_CONFIG = Symbol('CA_CONFIG');
export const CA_LOGGER = Symbol('CA_LOGGER');
export const CLOCK = Symbol('CLOCK');
/** CaKeyStore: KEK-wrapped CA keys. */
export const CA_KEY_STORE = Symbol('CA_KEY_STORE');
/** CrlStore: the signed CRLs' bytes. */
export const CRL_STORE = Symbol('CRL_STORE');
/** DownlinkPublisher: signed messages to a device's inbox. */
export const DOWNLINKS = Symbol('DOWNLINKS');
/** Resolved once the known owners' issuing CAs (those the ceremony signed) are loaded and have their first CRL. */
export const AUTHORITIES_READY = Symbol('AUTHORITIES_READY');
/** Counts and times every CSR outcome (IssuanceMetrics). */
export const ISSUANCE_METRICS = Symbol('ISSUANCE_METRICS');

export type Clock = () => Date;
/** The SnapshotPolicy of the CRL streams (undefined: none). */
export const CRL_SNAPSHOTS = Symbol('CRL_SNAPSHOTS');
