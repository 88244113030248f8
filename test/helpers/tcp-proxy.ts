/**
 * A TCP proxy a test controls (test plumbing for network partitions, not a
 * mock of colony): forwards 127.0.0.1:<port> to a target port. `partition()`
 * stops forwarding in both directions without closing any socket — what a
 * real partition looks like to both ends (writes vanish into buffers, no
 * reset, no FIN) — and connections made meanwhile hang the same way; `heal()`
 * delivers what was held and forwards again.
 */
import { spawn } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface TcpProxy {
  port: number;
  /** Resolves once the partition is in force. */
  partition(): Promise<void>;
  heal(): Promise<void>;
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
    partition: async () => {
      cut = true;
      for (const s of sockets) s.pause();
    },
    heal: async () => {
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

/**
 * The same proxy in a child process, for a test whose database client runs in
 * the test's own process: that client blocks the test's thread while it waits
 * for an answer, so the proxy must not need that thread to forward it.
 */
export async function startTcpProxyProcess(targetPort: number): Promise<TcpProxy> {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), fileURLToPath(import.meta.url), String(targetPort)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const port = await new Promise<number>((resolve, reject) => {
    const t = setInterval(() => {
      const m = /^port (\d+)$/m.exec(out);
      if (m) {
        clearInterval(t);
        resolve(Number(m[1]));
      } else if (child.exitCode !== null) {
        clearInterval(t);
        reject(new Error(`tcp proxy exited ${child.exitCode}`));
      }
    }, 20);
  });
  // Each order is answered with its name once done, so a partition is in force when the call resolves.
  const order = (cmd: string): Promise<void> => {
    const seen = out.split('\n').filter((l) => l === cmd).length;
    child.stdin.write(`${cmd}\n`);
    return new Promise((resolve) => {
      const t = setInterval(() => {
        if (out.split('\n').filter((l) => l === cmd).length > seen) {
          clearInterval(t);
          resolve();
        }
      }, 5);
    });
  };
  return {
    port,
    partition: () => order('partition'),
    heal: () => order('heal'),
    close: async () => {
      child.kill('SIGKILL');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const p = await startTcpProxy(Number(process.argv[2]));
  process.stdout.write(`port ${p.port}\n`);
  createInterface({ input: process.stdin }).on('line', (l) => {
    void (l === 'partition' ? p.partition() : l === 'heal' ? p.heal() : Promise.resolve()).then(() => process.stdout.write(`${l}\n`));
  });
}
