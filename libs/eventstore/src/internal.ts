/**
 * For sibling packages that implement the port (the JetStream adapter): the codec and parking
 * helpers both adapters share. Services use the public entry (`@tunnelkey/eventstore`) only.
 */
export { decodeEvent, encodeEvent, eventHeaders, streamContext, validateAppend, type Decoded } from './codec.js';
export { parkAndLog, parksAfterAttempts, poisonEvent } from './parking.js';
