/**
 * A user host (user-host.ts) whose user app listens on 127.0.0.1, for tests
 * that read its live streams with real SSE and WebSocket clients, with two
 * visitors signed in from 127.0.0.1: Ada and Bob.
 */
import type { AddressInfo } from 'node:net';
import { startUserHost, visitor, type Lan, type UserHost } from './user-host.js';

export interface ListeningPair {
  h: UserHost;
  port: number;
  a: Lan;
  b: Lan;
}

export async function startListeningPair(o: Parameters<typeof startUserHost>[0] = {}): Promise<ListeningPair> {
  const h = await startUserHost(o);
  await h.user.listen({ host: '127.0.0.1', port: 0 });
  const port = (h.user.server.address() as AddressInfo).port;
  const a = await visitor(h, '127.0.0.1', 'Ada');
  const b = await visitor(h, '127.0.0.1', 'Bob');
  return { h, port, a, b };
}

/** Closes the host (if it started) and removes its home. */
export async function stopUserHost(h: UserHost | undefined): Promise<void> {
  await h?.close();
  h?.home.cleanup();
}
