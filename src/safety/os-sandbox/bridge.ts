/**
 * The bridge that runs inside the sandbox when a task may use the network:
 * the task's tools speak TCP (HTTP_PROXY=http://127.0.0.1:3128), the only
 * way out is the proxy's Unix socket. It listens on the task's own loopback,
 * relays bytes to the socket, and, for each forwarded port (an agent's
 * endpoint on the host's 127.0.0.1), opens a CONNECT tunnel to that port.
 * Then it runs the task's command and exits with its status.
 *
 * Kept as text (written next to the proxy sockets at start) so it runs with
 * the plain node binary inside the sandbox, no colony code mounted.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';

export const BRIDGE_SOURCE = String.raw`'use strict';
const net = require('net');
const { spawn } = require('child_process');
const [sock, proxyPort, fwd, sep, cmd, ...args] = process.argv.slice(2);
if (sep !== '--' || !cmd) { process.stderr.write('colony bridge: bad arguments\n'); process.exit(125); }
const listen = (port, onConn) => new Promise((ok, ko) => {
  const s = net.createServer(onConn);
  s.on('error', ko);
  s.listen(port, '127.0.0.1', ok);
});
const relay = (c) => { const u = net.connect(sock); u.on('error', () => c.destroy()); c.on('error', () => u.destroy()); c.pipe(u); u.pipe(c); };
const tunnel = (port) => (c) => {
  c.pause();
  const u = net.connect(sock, () => u.write('CONNECT 127.0.0.1:' + port + ' HTTP/1.1\r\nHost: 127.0.0.1:' + port + '\r\n\r\n'));
  let head = Buffer.alloc(0);
  const onData = (d) => {
    head = Buffer.concat([head, d]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    u.off('data', onData);
    if (!/^HTTP\/1\.[01] 200/.test(head.toString('latin1'))) { c.destroy(); u.destroy(); return; }
    if (head.length > end + 4) c.write(head.subarray(end + 4));
    c.pipe(u); u.pipe(c); c.resume();
  };
  u.on('data', onData);
  u.on('error', () => c.destroy());
  c.on('error', () => u.destroy());
};
const ports = fwd ? fwd.split(',').filter(Boolean).map(Number) : [];
Promise.all([listen(Number(proxyPort), relay), ...ports.map((p) => listen(p, tunnel(p)))]).then(() => {
  const child = spawn(cmd, args, { stdio: 'inherit' });
  for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(s, () => child.kill(s));
  child.on('error', (e) => { process.stderr.write('colony sandbox: cannot start ' + cmd + ': ' + e.message + '\n'); process.exit(127); });
  child.on('exit', (code, sig) => process.exit(code === null ? 128 + (require('os').constants.signals[sig] || 9) : code));
}, (e) => { process.stderr.write('colony bridge: ' + e.message + '\n'); process.exit(125); });
`;

/** Writes the bridge into `dir` (colony's private runtime directory) and returns its path. */
export function writeBridge(dir: string): string {
  const file = path.join(dir, 'bridge.cjs');
  writeFileSync(file, BRIDGE_SOURCE, { mode: 0o644 });
  return file;
}
