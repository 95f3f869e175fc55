/**
 * A broker agent on the bus: answers installs of its broker's trust and publishes the connections
 * its broker logs. The only thing that touches the broker's files and process; onboarding reaches
 * it over NATS only, wherever the broker runs (a sidecar, a second compose service, the same
 * process in a test: always this code).
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { isContractViolation } from '@tunnelkey/contracts';
import { describeError } from '@tunnelkey/errors';
import { pidFileReloader } from './broker-files.js';
import { BrokerHost, type BrokerHostSettings } from './broker-host.js';
import { brokerTrustFiles, connectionsReportParts, type ApplyTrustReply } from './broker-messages.js';
import { brokerAgentSubjects } from './broker-subjects.js';
import { BrokerTrustRefusedError } from './errors.js';

export interface BrokerAgentOptions {
  nats: NatsConnection;
  /** The broker this agent serves: its id (the onboarding target's), files, reload and log. */
  broker: BrokerHostSettings;
  namespace?: string;
  /** After each install: its outcome and how long it took (the service's metrics and logs). */
  onInstalled?: (outcome: 'ok' | 'refused' | 'unreachable', seconds: number, detail?: string) => void;
  /** After each connection fact published. */
  onFactPublished?: () => void;
  /** How often the agent reports who is connected (ms). Default 15,000; 0: never. */
  reportEveryMs?: number;
}

export interface RunningBrokerAgent {
  /** Subscribed and flushed: the agent answers from now on. */
  readonly subjects: { applyTrust: string; connections: string };
  stop(): Promise<void>;
}

/** The broker's files, its pid file and its log on this host: how Mosquitto is laid out beside its agent. */
export function brokerOnThisHost(
  brokerId: string,
  paths: { caFile: string; crlFile: string; aclFile: string; pidFile: string; logFile: string },
): BrokerHostSettings {
  const { pidFile, logFile, ...files } = paths;
  return { brokerId, files, reloader: pidFileReloader(pidFile), logFile };
}

/** Follows the broker's log and answers on the bus until stop(). */
export async function serveBrokerAgent(options: BrokerAgentOptions): Promise<RunningBrokerAgent> {
  const { nats } = options;
  const host = await BrokerHost.open(options.broker);
  const subjects = brokerAgentSubjects(host.brokerId, options.namespace);
  const encoder = new TextEncoder();
  const answer = (msg: Msg, reply: ApplyTrustReply) => msg.respond(encoder.encode(JSON.stringify(reply)));

  const install = async (msg: Msg): Promise<void> => {
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    try {
      const files = brokerTrustFiles.parse(JSON.parse(new TextDecoder().decode(msg.data)));
      await host.installTrust(files);
      options.onInstalled?.('ok', seconds());
      answer(msg, { ok: true, reloadMs: Math.round(seconds() * 1000) });
    } catch (error) {
      // A malformed request or content the broker must not get is refused; anything else is the broker's state.
      const refused =
        error instanceof BrokerTrustRefusedError || error instanceof SyntaxError || isContractViolation(error);
      const code = refused ? 'refused' : 'unreachable';
      const message = describeError(error).slice(0, 600);
      options.onInstalled?.(code, seconds(), message);
      answer(msg, { ok: false, code, message });
    }
  };

  const subscription: Subscription = nats.subscribe(subjects.applyTrust, {
    queue: `broker-agent-${host.brokerId}`,
    callback: (error, msg) => {
      if (!error) void install(msg);
    },
  });
  const forget = host.onConnectionFact((fact) => {
    nats.publish(subjects.connections, encoder.encode(JSON.stringify(fact)));
    options.onFactPublished?.();
  });
  // Who is connected now, every reportEveryMs: onboarding makes good a fact lost on the way (a
  // publish while the bus was away, a record that failed) without waiting for the device's next move.
  let reports = 0;
  const report = () => {
    const reportId = `${new Date().toISOString()}#${++reports}`;
    try {
      for (const part of connectionsReportParts(reportId, host.connectedClients()))
        nats.publish(subjects.connections, encoder.encode(JSON.stringify(part)));
    } catch {
      // The connection closed (the agent stopping): the next report, if any, says it all again.
    }
  };
  const reportEveryMs = options.reportEveryMs ?? 15_000;
  const reporting = reportEveryMs > 0 ? setInterval(report, reportEveryMs) : undefined;
  await nats.flush();
  return {
    subjects,
    async stop() {
      clearInterval(reporting);
      forget();
      subscription.unsubscribe();
      host.close();
    },
  };
}
