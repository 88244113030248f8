import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createExecEngine } from '../../src/engines/exec.js';
import type { EngineEvent } from '../../src/core/engine.js';
import { isAlive } from '../helpers/engine-harness.js';
import { waitFor } from '../helpers/proc.js';

describe('exec engine and background processes', () => {
  it('finishes when the command exits even if it left a background process holding stdout, and kills that process', async () => {
    const ws = mkdtempSync(join(tmpdir(), 'colony-bg-'));
    try {
      const events: EngineEvent[] = [];
      const t0 = Date.now();
      for await (const ev of createExecEngine().run({
        task_id: 't',
        attempt: 1,
        prompt: 'sleep 60 & echo $! > bg.pid; echo started',
        model: null,
        workspace: ws,
        budget_usd: 1,
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
        run_timeout_ms: null,
        silence_timeout_ms: null,
        signal: new AbortController().signal,
      }))
        events.push(ev);
      expect(Date.now() - t0).toBeLessThan(20_000);
      expect(events.at(-1)).toMatchObject({ type: 'done', ok: true });
      const pid = Number(readFileSync(join(ws, 'bg.pid'), 'utf8'));
      await waitFor(() => !isAlive(pid), `process ${pid} to be gone`, 5000);
    } finally {
      rmSync(ws, { recursive: true, force: true });
    }
  });
});
