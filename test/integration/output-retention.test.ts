/**
 * Issue 14, output and retention on a real SQLite file: task output is capped
 * per task (the cut marked once, across attempts and restarts), stored once
 * (the `task.output` event row holds a reference, not the text; live and
 * replayed events both carry the text), and a prune deletes old events and
 * output. Plus the cap through the real pool: a task printing megabytes.
 */
import { dbOf } from '../../src/store/internal.js';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/core/scheduler.js';
import { Store } from '../../src/store/store.js';
import { pruneOld } from '../../src/store/retention.js';
import type { EventRecord } from '../../src/store/rows.js';
import { makeHome, startTestHost, testConfig } from '../helpers/admin-host.js';
import { makeTempDir, waitFor } from '../helpers/proc.js';
import { submit, task } from './store-conformance.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function openStore(now?: () => number): { store: Store; file: string; reopen: (n?: () => number) => Store } {
  const tmp = makeTempDir('colony-output-');
  const file = join(tmp.dir, 'colony.db');
  const opened: Store[] = [];
  const open = (n?: () => number): Store => {
    const s = Store.open(file, n);
    opened.push(s);
    return s;
  };
  cleanups.push(() => {
    for (const s of opened) s.close();
    tmp.cleanup();
  });
  const store = open(now);
  submit(store, new Scheduler(), 'g', [task('g:a')]);
  return { store, file, reopen: open };
}

const totalOutput = (s: Store, id: string): string =>
  s
    .outputOf(id, { limit: 100_000 })
    .map((r) => r.text)
    .join('');

describe('task output', () => {
  it('is capped per task across attempts and restarts, with the cut marked once', () => {
    const { store, reopen } = openStore();
    store.outputCapBytes = 50_000;
    for (let i = 0; i < 8; i++) store.appendOutput('g:a', 1, 'stdout', 'x'.repeat(10_000));
    store.appendOutput('g:a', 2, 'stdout', 'y'.repeat(10_000)); // a second attempt shares the task's budget
    const out = totalOutput(store, 'g:a');
    expect(out.match(/output of this task cut at 50000 bytes/g)).toHaveLength(1);
    expect(out).not.toContain('yyy');
    expect(out.replace(/\n\[colony:[^\]]*\]\n/, '')).toBe('x'.repeat(50_000));
    store.close();

    const again = reopen();
    again.outputCapBytes = 50_000;
    again.appendOutput('g:a', 3, 'stdout', 'z'.repeat(100));
    expect(totalOutput(again, 'g:a')).toBe(out);
  });

  it('is stored once: the event row holds a reference; live and replayed events carry the text', () => {
    const { store } = openStore();
    const live: EventRecord[] = [];
    store.subscribe((es) => live.push(...es.filter((e) => e.kind === 'task.output')));
    const big = 'abcdefghij'.repeat(5_000); // 50 000 chars: split into bounded chunks
    store.appendOutput('g:a', 1, 'stdout', big);
    const rows = dbOf(store).prepare("SELECT data FROM events WHERE kind = 'task.output' ORDER BY id").all() as { data: string }[];
    expect(rows.length).toBeGreaterThanOrEqual(3);
    for (const r of rows) {
      const d = JSON.parse(r.data) as Record<string, unknown>;
      expect(d).not.toHaveProperty('text');
      expect(typeof d['output_id']).toBe('number');
    }
    const size = (dbOf(store).prepare("SELECT SUM(length(data)) AS n FROM events WHERE kind = 'task.output'").get() as { n: number }).n;
    expect(size).toBeLessThan(2_000); // references, not 50 kB of text again
    expect(live.map((e) => e.data['text']).join('')).toBe(big);
    for (const e of live) expect(String(e.data['text']).length).toBeLessThanOrEqual(16 * 1024);
    const replayed = store.eventsSince(0, 1000).filter((e) => e.kind === 'task.output');
    expect(replayed.map((e) => e.data['text']).join('')).toBe(big);
    expect(replayed.map((e) => e.id)).toEqual(live.map((e) => e.id));
  });

  it('a prune deletes events and output older than the retention; a replayed reference to pruned output is marked', () => {
    const day = 86_400_000;
    let clock = Date.now() - 10 * day;
    const { store } = openStore(() => clock);
    store.appendOutput('g:a', 1, 'stdout', 'old output');
    clock = Date.now();
    store.appendOutput('g:a', 1, 'stdout', 'new output');
    const before = store.eventsSince(0, 1000).length;
    // Output kept 2 days, events 30: the old output row goes, its event stays and replays marked as pruned.
    expect(pruneOld(store, { events_days: 30, output_days: 2 }, Date.now())).toEqual({ events: 0, output: 1 });
    const outs = store.eventsSince(0, 1000).filter((e) => e.kind === 'task.output');
    expect(outs.map((e) => [e.data['text'], e.data['pruned'] ?? false])).toEqual([
      ['', true],
      ['new output', false],
    ]);
    // Events kept 5 days: the old ones go (graph submission and the first output), the new stay.
    const r = pruneOld(store, { events_days: 5, output_days: null }, Date.now());
    expect(r.events).toBeGreaterThan(0);
    expect(store.eventsSince(0, 1000).length).toBe(before - r.events);
    expect(totalOutput(store, 'g:a')).toBe('new output');
    expect(store.verifyAudit().ok).toBe(true); // the audit chain is never pruned
  });
});

describe('the cap through the real pool', () => {
  it('a task printing 3 MB keeps the configured cap and shows the cut', async () => {
    const home = makeHome('colony-outcap-');
    const h = await startTestHost(home, { config: testConfig({ retention: { max_output_bytes_per_task: 200_000 } }) });
    cleanups.push(async () => {
      await h.close(200);
      home.cleanup();
    });
    const port = Number(new URL(h.adminUrl).port);
    const r = await h.admin.inject({
      method: 'POST',
      url: '/admin/execute',
      headers: { host: `127.0.0.1:${port}`, authorization: `Bearer ${h.ctx.adminToken}` },
      payload: { graph: { name: 'loud', tasks: [{ id: 'a', engine: 'exec', prompt: 'yes 0123456789 | head -c 3000000', workspace: home.workspace }] } },
    });
    expect(r.statusCode, r.body).toBe(201);
    const id = (r.json() as { task_ids: string[] }).task_ids[0] as string;
    await waitFor(() => ['succeeded', 'failed'].includes(h.host.store.getTask(id)?.state ?? ''), 'the loud task', 30_000);
    const out = totalOutput(h.host.store, id);
    expect(out).toContain('cut at 200000 bytes');
    expect(Buffer.byteLength(out)).toBeLessThan(200_000 + 200);
  });
});
