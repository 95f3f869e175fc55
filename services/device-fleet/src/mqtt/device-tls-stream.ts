/**
 * The TLS stream under a device's MQTT client: node's TLS client with the device's secure context,
 * the broker's chain verified by OpenSSL against the target's CA, then the broker's name checked
 * against the host the device dialled by node's own `checkServerIdentity`, on the broker's
 * certificate alone. Node's client hands that check `getPeerCertificate(true)`: a JS object of the
 * whole chain, the issuer found again in the trust store, every certificate's public key decoded and
 * three fingerprints computed, ~0.5 ms more per connect than the leaf's (node 20, OpenSSL 3.0), work
 * no device's TLS stack does. Nothing else reads it, and the check only reads the leaf's names.
 * (`getPeerX509Certificate()` would be cheaper still, but on a client it removes the leaf from the
 * peer chain OpenSSL keeps, so every later read of the peer certificate comes back empty.)
 * Errors reach the MQTT client as they do with mqtt.js's own TLS builder.
 */
import { isIP } from 'node:net';
import { checkServerIdentity, connect, type PeerCertificate, type SecureContext, type TLSSocket } from 'node:tls';
import type { MqttClient } from 'mqtt';

export interface BrokerEndpoint {
  host: string;
  port: number;
}

/** A stream builder for `new MqttClient(builder, options)`. */
export function deviceTlsStream(
  endpoint: BrokerEndpoint,
  secureContext: SecureContext,
): (client: MqttClient) => TLSSocket {
  return (client) => {
    const { host, port } = endpoint;
    const ownMethod = () => delete (socket as { getPeerCertificate?: unknown }).getPeerCertificate;
    const socket: TLSSocket = connect({
      host,
      port,
      secureContext,
      rejectUnauthorized: true,
      ...(isIP(host) === 0 ? { servername: host } : {}),
      checkServerIdentity: (name) => {
        // Node's handshake asked for the whole chain only to pass it here: from now on node's own method.
        ownMethod();
        return checkServerIdentity(name, socket.getPeerCertificate(false));
      },
    });
    // Until the name check runs: only node's handshake calls it before then, to pass it to the check.
    (socket as { getPeerCertificate: () => PeerCertificate }).getPeerCertificate = () => ({}) as PeerCertificate;
    const onHandshakeError = (error: Error) => {
      ownMethod();
      client.emit('error', error);
      socket.end();
    };
    socket.on('error', onHandshakeError);
    socket.once('secureConnect', () => {
      if (!socket.authorized) socket.emit('error', new Error('TLS not authorized'));
      else socket.removeListener('error', onHandshakeError);
    });
    return socket;
  };
}
