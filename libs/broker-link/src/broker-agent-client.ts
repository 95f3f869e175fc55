/**
 * Onboarding's end of the link: installs a broker's trust through its agent and follows the
 * connections the agent reports. Network only: the broker may run on any host with its agent.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { describeError } from '@tunnelkey/errors';
import {
  applyTrustReply,
  brokerConnectionMessage,
  type BrokerConnectionMessage,
  type BrokerTrustFiles,
} from './broker-messages.js';
import { brokerAgentSubjects, type BrokerAgentSubjects } from './broker-subjects.js';
import { BrokerTrustRefusedError, BrokerUnreachableError } from './errors.js';

export interface BrokerAgentClientOptions {
  namespace?: string;
  /** How long an install may take, the broker's reload included. Default 10 s. */
  timeoutMs?: number;
}

export class BrokerAgentClient {
  readonly #subjects: BrokerAgentSubjects;
  readonly #encoder = new TextEncoder();
  readonly #decoder = new TextDecoder();

  constructor(
    private readonly nats: NatsConnection,
    readonly brokerId: string,
    private readonly options: BrokerAgentClientOptions = {},
  ) {
    this.#subjects = brokerAgentSubjects(brokerId, options.namespace);
  }

  /**
   * Resolves once the broker reloaded with `files`. BrokerTrustRefusedError: the agent or the broker
   * refused them; BrokerUnreachableError: no agent answered, or the broker did not reload.
   */
  async installTrust(files: BrokerTrustFiles): Promise<void> {
    let data: Uint8Array;
    try {
      const msg = await this.nats.request(this.#subjects.applyTrust, this.#encoder.encode(JSON.stringify(files)), {
        timeout: this.options.timeoutMs ?? 10_000,
      });
      data = msg.data;
    } catch (error) {
      throw new BrokerUnreachableError(
        `the agent of broker ${this.brokerId} did not answer: ${describeError(error)}`,
        { brokerId: this.brokerId },
        { cause: error },
      );
    }
    const reply = applyTrustReply.parse(JSON.parse(this.#decoder.decode(data)));
    if (reply.ok) return;
    const ErrorOf = reply.code === 'refused' ? BrokerTrustRefusedError : BrokerUnreachableError;
    throw new ErrorOf(reply.message, { brokerId: this.brokerId });
  }

  /**
   * The broker's connections and disconnections from now on, and the agent's periodic reports of who
   * is connected; a message that is neither is dropped.
   */
  followConnections(listener: (message: BrokerConnectionMessage) => void): { stop(): void } {
    const subscription: Subscription = this.nats.subscribe(this.#subjects.connections, {
      callback: (error, msg) => {
        if (error) return;
        let message: unknown;
        try {
          message = JSON.parse(this.#decoder.decode(msg.data));
        } catch {
          return;
        }
        if (brokerConnectionMessage.is(message)) listener(message);
      },
    });
    return { stop: () => subscription.unsubscribe() };
  }
}
