/**
 * Loopback ports for the servers a test starts: free now, and below the kernel's ephemeral range
 * (32768-60999 on Linux). A port the OS hands out for `listen(0)` is an ephemeral one, and a server
 * restarted on it after a kill (the fault suite kills the broker and NATS and starts them again on
 * their ports) could find it taken as the local end of one of the many outgoing connections made
 * meanwhile (devices reconnecting): the broker exited at once on its bind, one CI run in three.
 * Below the range only a listener can hold a port, and servers in production listen on fixed ones.
 */
import { createServer } from 'node:net';

const lowest = 20_000;
const highest = 32_767;
const handedOut = new Set<number>();

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A loopback port nothing listens on now, not handed out before by this process. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 1_000; attempt++) {
    const port = lowest + Math.floor(Math.random() * (highest - lowest + 1));
    if (handedOut.has(port)) continue;
    if (await bindable(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free loopback port in ${lowest}-${highest}`);
}

/** `count` distinct free ports. */
export async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) ports.push(await freePort());
  return ports;
}
