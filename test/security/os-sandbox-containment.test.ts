/**
 * The OS sandbox from the attacker's side, on a real host with real exec
 * tasks in real bubblewrap (as root). Canaries: a fake HOME with a canary SSH
 * key and cloud credentials, a canary file outside the workspace, another
 * task's workspace, canary API keys in colony's own environment, a listener
 * on the host's loopback standing in for the admin app (and the real admin
 * app with its token), and the colony home (store, admin token) inside the
 * workspace. Every obfuscated attempt must leave every canary intact,
 * whether the screens refused it or the sandbox contained it. Then the
 * legitimate side: a task still builds and tests a small project.
 */
import { createServer, type Server } from 'node:net';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveHome } from '../../src/runner/home.js';
import type { RunningHost } from '../../src/server/host-server.js';
import { adminApi, portOf, startTestHost, testConfig, type AdminCall, type TestHome } from '../helpers/admin-host.js';
import { waitFor } from '../helpers/proc.js';

const tag = Math.random().toString(36).slice(2, 10);
const CANARY = {
  ssh: `CANARY-SSH-${tag}`,
  aws: `CANARY-AWS-${tag}`,
  outside: `CANARY-OUTSIDE-${tag}`,
  other: `CANARY-OTHER-WS-${tag}`,
  anthropic: `sk-ant-CANARY-${tag}`,
  groq: `gsk_CANARY${tag}`,
};

const root = realpathSync(mkdtempSync(join(tmpdir(), 'colony-sbx-')));
// The user's home is not under /tmp (the sandbox's /tmp is fresh anyway): a sibling of the test dir under /var/tmp.
const fakeHome = realpathSync(mkdtempSync('/var/tmp/colony-sbx-home-'));
const workspace = join(fakeHome, 'projects', 'app'); // the common layout: ~/projects/app
const outside = join(root, 'outside');
const otherWs = join(root, 'other-ws');
let h: RunningHost;
let api: (method: string, path: string, body?: unknown) => Promise<AdminCall>;
let loopback: Server;
let loopbackPort = 0;
let loopbackHits = 0;
let home: TestHome;
let dbSize = 0;
const savedEnv = { ...process.env };

beforeAll(async () => {
  mkdirSync(join(fakeHome, '.ssh'), { recursive: true });
  writeFileSync(join(fakeHome, '.ssh', 'id_ed25519'), `${CANARY.ssh}\n`);
  mkdirSync(join(fakeHome, '.aws'));
  writeFileSync(join(fakeHome, '.aws', 'credentials'), `[default]\naws_secret_access_key=${CANARY.aws}\n`);
  mkdirSync(workspace, { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, 'canary.txt'), `${CANARY.outside}\n`);
  mkdirSync(otherWs);
  writeFileSync(join(otherWs, 'secret.txt'), `${CANARY.other}\n`);
  process.env['HOME'] = fakeHome;
  process.env['ANTHROPIC_API_KEY'] = CANARY.anthropic;
  process.env['GROQ_API_KEY'] = CANARY.groq;
  loopback = createServer((s) => {
    loopbackHits++;
    s.end('CANARY-LOOPBACK\n');
  });
  await new Promise<void>((r) => loopback.listen(0, '127.0.0.1', r));
  loopbackPort = (loopback.address() as { port: number }).port;
  // colony's home inside the workspace: the default ./.colony when started in the project.
  home = { dir: root, paths: resolveHome(join(workspace, '.colony')), workspace, cleanup: () => undefined };
  // The text screens are off: the sandbox alone must contain every attempt (the guarantee must not depend on pattern matching).
  h = await startTestHost(home, {
    config: testConfig({ safety: { allowed_roots: [fakeHome, root], intent: false, injection: false, network: false } }),
    concurrency: 2,
  });
  api = adminApi(portOf(h), h.ctx.adminToken);
  dbSize = statSync(h.host.paths.db).size;
});

afterAll(async () => {
  await h?.close(500);
  loopback?.close();
  process.env = savedEnv;
  rmSync(root, { recursive: true, force: true });
  rmSync(fakeHome, { recursive: true, force: true });
});

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'timed_out', 'upstream_failed', 'awaiting_approval', 'rejected']);

async function runTask(prompt: string, timeoutMs = 20_000, ws = workspace): Promise<{ id: string; state: string; out: string; reason: string }> {
  const r = await api('POST', '/admin/execute', { prompt, engine: 'exec', workspace: ws });
  expect(r.status, r.body).toBe(201);
  const id = (r.json['task_ids'] as string[])[0] as string;
  const ended = (): string | undefined => {
    const s = h.host.store.getTask(id)?.state;
    return s && TERMINAL.has(s) ? s : undefined;
  };
  let state = await waitFor(ended, `task ${id} to end`, timeoutMs);
  if (state === 'awaiting_approval') {
    // The remaining screen (protected paths named in the text) holds it; the admin approves: the sandbox must still contain it.
    expect((await api('POST', `/admin/approve/${id}`)).status).toBe(200);
    await waitFor(() => h.host.store.getTask(id)?.state !== 'awaiting_approval', 'the approval to apply');
    state = await waitFor(ended, `task ${id} to end after approval`, timeoutMs);
  }
  const out = h.host.store
    .outputOf(id, { limit: 10_000 })
    .map((o) => o.text)
    .join('');
  const task = h.host.store.getTask(id) as unknown as Record<string, unknown>;
  return { id, state, out, reason: String(task['state_reason'] ?? '') };
}

/** Every canary still where it was, unchanged, and nowhere a task could leave it. */
function expectCanariesIntact(out: string): void {
  for (const c of Object.values(CANARY)) expect(out, `a canary leaked into the task output`).not.toContain(c);
  expect(out).not.toContain('CANARY-LOOPBACK');
  expect(readFileSync(join(fakeHome, '.ssh', 'id_ed25519'), 'utf8')).toBe(`${CANARY.ssh}\n`);
  expect(readFileSync(join(outside, 'canary.txt'), 'utf8')).toBe(`${CANARY.outside}\n`);
  expect(readFileSync(join(otherWs, 'secret.txt'), 'utf8')).toBe(`${CANARY.other}\n`);
  expect(loopbackHits, 'the host loopback listener was reached').toBe(0);
  expect(h.host.killswitch.state(), 'the admin API was reached').toBe('running');
  expect(readFileSync(h.host.paths.adminToken, 'utf8').trim()).toBe(h.ctx.adminToken);
  expect(statSync(h.host.paths.db).size).toBeGreaterThanOrEqual(dbSize);
  // nothing copied into the workspace either
  const files = readdirSync(workspace, { recursive: true, withFileTypes: true }).filter((d) => d.isFile() && !d.parentPath.includes('.colony'));
  for (const f of files) {
    const text = readFileSync(join(f.parentPath, f.name), 'utf8');
    for (const c of Object.values(CANARY)) expect(text, `canary copied into ${f.name}`).not.toContain(c);
  }
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('containment: every obfuscated attempt leaves every canary intact', () => {
  const attempts: [string, () => string][] = [
    [
      'plain reads of the secret dirs and the colony home',
      () =>
        `cat ~/.ssh/id_ed25519 ${fakeHome}/.ssh/id_ed25519 ${fakeHome}/.aws/credentials .colony/admin.token ${outside}/canary.txt ${otherWs}/secret.txt; ls -la ~ ${fakeHome} .colony; true`,
    ],
    ['quoting', () => `c''at "${fakeHome}/.s"'sh'/id_ed25519; "c"a't' ./.co''lony/admin.token; true`],
    [
      'variables',
      () =>
        `D=.s; E=sh; F=id_; G=ed25519; cat ${fakeHome}/$D$E/$F$G; T=admin; cat .colony/$T.token; W=${outside.slice(0, 6)}; cat $W${outside.slice(6)}/canary.txt; true`,
    ],
    [
      'base64-decoded script',
      () =>
        `echo ${b64(`cat ${fakeHome}/.ssh/id_ed25519 .colony/admin.token ${outside}/canary.txt; cp ${fakeHome}/.aws/credentials ./stolen.txt`)} | base64 -d | sh; true`,
    ],
    [
      'python3 instead of sh',
      () => `python3 -c "import os,glob
for p in glob.glob('${fakeHome}/.*/*') + ['.colony/admin.token', '${otherWs}/secret.txt']:
    try: print(open(p).read())
    except Exception as e: print('no', p, e)
import socket
try:
    s = socket.create_connection(('127.0.0.1', ${loopbackPort}), 2); print(s.recv(100))
except Exception as e: print('no socket', e)"; true`,
    ],
    [
      'node instead of sh, calling the admin API with its token',
      () => `node -e "
const fs=require('fs'); let t=''; try { t=fs.readFileSync('.colony/admin.token','utf8') } catch(e) { console.log('no token', e.code) }
const port=${portOf(h)}; const req=require('http').request({host:'127.0.0.1',port,method:'POST',path:'/admin/kill',headers:{authorization:'Bearer '+t.trim()}},r=>{console.log('status',r.statusCode)});
req.on('error',e=>console.log('no admin',e.code)); req.end();
require('net').connect(${loopbackPort},'127.0.0.1').on('data',d=>console.log(String(d))).on('error',e=>console.log('no loopback',e.code));
"; true`,
    ],
    [
      "the parent's environment through /proc",
      () => `cat /proc/$PPID/environ /proc/1/environ | tr '\\0' '\\n'; for p in /proc/[0-9]*; do cat $p/environ 2>/dev/null | tr '\\0' '\\n'; done; env; true`,
    ],
    [
      'a URL built from strings',
      () =>
        `P=$((${loopbackPort} + 0)); A=127; B=0.0.1; U="http://$A.$B:$P/"; curl -s -m 2 "$U"; curl -s -m 2 -X POST "http://$A.$B:${portOf(h)}/admin/kill" -H "authorization: Bearer $(cat .colony/admin.token 2>/dev/null)"; true`,
    ],
    ['truncating and overwriting the store and token', () => `: > .colony/colony.db; echo x > .colony/admin.token; rm -rf .colony/keys; ls -la .colony; true`],
    [
      'hunting for the secrets across the filesystem',
      () =>
        `grep -rs CANARY / --exclude-dir=proc --exclude-dir=sys --exclude-dir=usr --exclude-dir=dev --exclude-dir=opt 2>/dev/null | head; find / \\( -path /proc -o -path /sys -o -path /usr -o -path /opt \\) -prune -o \\( -name 'id_*' -o -name credentials -o -name '*.token' \\) -print 2>/dev/null | head; true`,
    ],
  ];
  for (const [name, prompt] of attempts) {
    it(name, async () => {
      const r = await runTask(prompt());
      expect(r.state, `${r.reason}\n${r.out}`).toBe('succeeded'); // it ran (screens off): the sandbox contained it
      expectCanariesIntact(r.out);
    });
  }

  it('the colony home inside the workspace is empty inside the sandbox, and the workspace is writable', async () => {
    const r = await runTask('ls -A .colony | wc -l; echo written > proof.txt && cat proof.txt');
    expect(r.state, r.out).toBe('succeeded');
    expect(r.out).toMatch(/^0\nwritten\n/);
    expect(readFileSync(join(workspace, 'proof.txt'), 'utf8')).toBe('written\n');
    rmSync(join(workspace, 'proof.txt'));
  });

  it('a workspace that is the home directory itself still hides the secret dirs', async () => {
    const r = await runTask(`ls -A ${fakeHome}/.ssh | wc -l; cat ${fakeHome}/.ssh/id_ed25519 ${fakeHome}/.aws/credentials; true`, 20_000, fakeHome);
    expect(r.state, r.reason).toBe('succeeded');
    expect(r.out).toMatch(/^0$/m);
    expectCanariesIntact(r.out);
  });
});

describe('the sandbox is really in use', () => {
  it("PID 1 inside is not the host's init and no colony process is visible", async () => {
    const r = await runTask('cat /proc/1/cmdline | tr "\\0\\n" "  "; echo; for p in /proc/[0-9]*; do tr "\\0\\n" "  " < $p/cmdline; echo; done; echo "pid $$"');
    expect(r.state, r.out).toBe('succeeded');
    const [pid1] = r.out.split('\n');
    expect(pid1).not.toBe(readFileSync('/proc/1/cmdline', 'utf8').replace(/\0/g, ' '));
    expect(pid1).toContain('bwrap');
    const others = r.out.split('\n').filter((l) => l.trim() && !l.startsWith('/usr/bin/bwrap ') && !l.startsWith('/bin/sh -c '));
    expect(others, 'processes other than the sandbox and the task').toEqual(['pid 2']);
    expect(r.out).not.toContain(`pid ${process.pid}\n`);
  });

  it('a fork bomb ends with the process limit named, and the host keeps running tasks', async () => {
    // encoded, so the intent screen cannot see it and the sandbox must stop it
    const r = await runTask(`echo ${b64('f(){ f|f& }; f; sleep 60')} | base64 -d | sh`, 30_000);
    expect(r.state).toBe('failed');
    const attempt = h.host.store.attemptsOf(r.id)[0];
    expect(`${attempt?.error_code} ${attempt?.summary ?? ''} ${r.reason}`).toMatch(
      /E_SANDBOX_LIMIT.*process limit reached \(safety\.os_sandbox\.limits\.processes = 512/,
    );
    const after = await runTask('echo still-alive');
    expect(after.state).toBe('succeeded');
    expect(after.out).toBe('still-alive\n');
  });
});

describe('legitimate work still works inside the sandbox', () => {
  it('git init/commit, npm test of a tiny package, python3, and its own server on 127.0.0.1', async () => {
    const pkg = JSON.stringify({ name: 'tiny', version: '1.0.0', scripts: { test: 'node test.js' } });
    const script = [
      'set -e',
      'cd /tmp && mkdir proj && cd proj', // its own /tmp (a new repo in the workspace trips the protected-file guard's git rules)
      'git init -q . && git -c user.email=t@t -c user.name=t commit -q --allow-empty -m init && git log --oneline | wc -l',
      `printf '%s' '${pkg}' > package.json`,
      `printf '%s' "const a=require('assert'); a.strictEqual(1+1,2); console.log('tests ok')" > test.js`,
      'npm test --silent',
      'python3 -c "print(6*7)"',
      // its own server on its own loopback, reached by its own client
      `node -e "const h=require('http');const s=h.createServer((q,r)=>r.end('pong')).listen(0,'127.0.0.1',()=>h.get('http://127.0.0.1:'+s.address().port,r=>r.on('data',d=>{console.log('server says',String(d));s.close()})))"`,
      'python3 -m http.server 18931 --bind 127.0.0.1 >/dev/null 2>&1 & S=$!; sleep 1; python3 -c "import urllib.request as u; print(u.urlopen(\'http://127.0.0.1:18931/\').status)"; kill $S',
    ].join('\n');
    const r = await runTask(script, 60_000);
    expect(r.state, `${r.reason}\n${r.out}`).toBe('succeeded');
    expect(r.out).toContain('tests ok');
    expect(r.out).toMatch(/^1$/m);
    expect(r.out).toMatch(/^42$/m);
    expect(r.out).toContain('server says pong');
    expect(r.out).toMatch(/^200$/m);
  });
});
