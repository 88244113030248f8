/**
 * A TCP proxy a test controls (test plumbing for network partitions, not a
 * mock of colony): forwards 127.0.0.1:<port> to a target port. `partition()`
 * stops forwarding in both directions without closing any socket — what a
 * real partition looks like to both ends (writes vanish into buffers, no
 * reset, no FIN) — and connections made meanwhile hang the same way; `heal()`
 * delivers what was held and forwards again.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  partition(): void;
  heal(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let cut = false;
  const held = (s: Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    if (cut) s.pause();
  };
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    held(client);
    held(upstream);
    client.on('data', (d) => upstream.write(d));
    upstream.on('data', (d) => client.write(d));
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const a = server.address();
  return {
    port: typeof a === 'object' && a ? a.port : 0,
    partition: () => {
      cut = true;
      for (const s of sockets) s.pause();
    },
    heal: () => {
      cut = false;
      for (const s of sockets) s.resume();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
