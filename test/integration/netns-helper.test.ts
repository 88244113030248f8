import { execFileSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNetns, type NetnsHandle } from '../helpers/netns.js';

/** Answers with the remote address it saw, so a test can tell who connected. */
function startServer(host: string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ remote: req.socket.remoteAddress }));
  });
  return new Promise((resolve) => server.listen(0, host, () => resolve(server)));
}

const portOf = (s: http.Server) => (s.address() as AddressInfo).port;
const nsList = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });

describe('netns LAN helper', () => {
  let net: NetnsHandle;
  let open: http.Server;
  let loopOnly: http.Server;

  beforeAll(async () => {
    net = await createNetns({ count: 2 }); // throws (test fails) without root: never skipped
    open = await startServer('0.0.0.0');
    loopOnly = await startServer('127.0.0.1');
  });

  afterAll(async () => {
    await net?.destroy();
    open?.close();
    loopOnly?.close();
  });

  it('gives two namespaces distinct addresses in one subnet with the host', () => {
    const [a, b] = net.namespaces;
    expect(a && b).toBeTruthy();
    expect(a?.ip).not.toBe(b?.ip);
    expect(a?.name).not.toBe(b?.name);
    const prefix = net.hostIp.replace(/\.1$/, '.');
    expect(a?.ip.startsWith(prefix) && b?.ip.startsWith(prefix)).toBe(true);
    const names = nsList();
    for (const n of net.namespaces) expect(names).toContain(n.name);
  });

  it('reaches a 0.0.0.0 server via the host-side IP and is seen with its own address', async () => {
    for (const ns of net.namespaces) {
      const r = await net.client(ns.name, { kind: 'http', url: `http://${net.hostIp}:${portOf(open)}/` });
      expect(r.code, r.stderr).toBe(0);
      expect(r.lines[0]).toMatchObject({ kind: 'http', status: 200, json: { remote: ns.ip } });
    }
  });

  it('cannot reach a 127.0.0.1 server from a namespace (connection refused)', async () => {
    const ns = net.namespaces[0]?.name ?? '';
    const viaHost = await net.client(ns, { kind: 'http', url: `http://${net.hostIp}:${portOf(loopOnly)}/`, timeoutMs: 3000 });
    expect(viaHost.code).toBe(2);
    expect(viaHost.lines[0]).toMatchObject({ kind: 'error', code: 'ECONNREFUSED' });
    // The namespace's own loopback is a different one: nothing listens there either.
    const viaLo = await net.client(ns, { kind: 'http', url: `http://127.0.0.1:${portOf(loopOnly)}/`, timeoutMs: 3000 });
    expect(viaLo.lines[0]).toMatchObject({ kind: 'error', code: 'ECONNREFUSED' });
  });

  it('refuses to send traffic outside loopback and the test subnet', async () => {
    const r = await net.client(net.namespaces[0]?.name ?? '', { kind: 'http', url: 'http://192.0.2.1/' });
    expect(r.code).toBe(3);
    expect(r.lines[0]).toMatchObject({ kind: 'error', code: 'EDESTINATION' });
  });

  it('cuts traffic on linkDown and restores it on linkUp, for that namespace only', async () => {
    const [a, b] = net.namespaces;
    if (!a || !b) throw new Error('need two namespaces');
    const url = `http://${net.hostIp}:${portOf(open)}/`;
    await net.linkDown(a.name);
    try {
      const cut = await net.client(a.name, { kind: 'http', url, timeoutMs: 1500 });
      expect(cut.code).toBe(2);
      expect(cut.lines[0]).toMatchObject({ kind: 'error' });
      const other = await net.client(b.name, { kind: 'http', url });
      expect(other.lines[0]).toMatchObject({ status: 200, json: { remote: b.ip } });
    } finally {
      await net.linkUp(a.name);
    }
    const back = await net.client(a.name, { kind: 'http', url, timeoutMs: 3000 });
    expect(back.lines[0]).toMatchObject({ status: 200, json: { remote: a.ip } });
  });

  it('fails loudly (never skips) when iproute2 is unusable', async () => {
    await expect(createNetns({ ipBin: '/nonexistent/ip' })).rejects.toThrow(/LAN tests need root and iproute2/);
  });

  it('destroy removes the namespaces and the bridge, and is safe to call twice', async () => {
    const extra = await createNetns({ count: 1 });
    const name = extra.namespaces[0]?.name ?? '';
    const bridge = `cb-${extra.hostIp.split('.')[1]}`;
    expect(nsList()).toContain(name);
    await extra.destroy();
    await extra.destroy();
    expect(nsList()).not.toContain(name);
    expect(execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })).not.toContain(`${bridge}:`);
    await expect(extra.exec(name, 'true')).rejects.toThrow(/destroyed/);
  });
});
