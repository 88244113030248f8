/** Helpers for engine tests: requests with defaults, event collection, process liveness. */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Engine, EngineEvent, EngineRequest } from '../../src/core/engine.js';
import { loadPriceTable, type PriceTable } from '../../src/core/pricing.js';

export async function tempDir(prefix = 'colony-engine-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export function request(over: Partial<EngineRequest> & { workspace: string }): EngineRequest {
  return {
    task_id: 't1',
    attempt: 1,
    prompt: 'Create hello.txt',
    model: null,
    budget_usd: 1,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    run_timeout_ms: 20_000,
    silence_timeout_ms: null,
    signal: new AbortController().signal,
    ...over,
  };
}

export async function collect(engine: Engine, req: EngineRequest, onEvent?: (e: EngineEvent) => void): Promise<EngineEvent[]> {
  const events: EngineEvent[] = [];
  for await (const e of engine.run(req)) {
    events.push(e);
    onEvent?.(e);
  }
  return events;
}

export type DoneEvent = Extract<EngineEvent, { type: 'done' }>;

export function doneOf(events: EngineEvent[]): DoneEvent {
  const done = events.filter((e): e is DoneEvent => e.type === 'done');
  if (done.length !== 1) throw new Error(`expected exactly one done event, got ${done.length}`);
  const last = events[events.length - 1];
  if (last?.type !== 'done') throw new Error('done is not the last event');
  return done[0] as DoneEvent;
}

export function lastCost(events: EngineEvent[]): Extract<EngineEvent, { type: 'cost' }> | undefined {
  return events.filter((e): e is Extract<EngineEvent, { type: 'cost' }> => e.type === 'cost').at(-1);
}

export function lastUsage(events: EngineEvent[]): Extract<EngineEvent, { type: 'usage' }> | undefined {
  return events.filter((e): e is Extract<EngineEvent, { type: 'usage' }> => e.type === 'usage').at(-1);
}

/** The model's answer as streamed: text output events concatenated. */
export function streamedText(events: EngineEvent[]): string {
  return events.map((e) => (e.type === 'output' && e.stream === 'text' ? e.text : '')).join('');
}

export function outputText(events: EngineEvent[]): string {
  return events.map((e) => (e.type === 'output' ? e.text : '')).join('\n');
}

/** A pid is alive unless it is gone or a zombie (an unreaped zombie has already exited). */
export function isAlive(pid: number): boolean {
  const stat = `/proc/${pid}/stat`;
  if (existsSync('/proc/self/stat')) {
    try {
      const fields = readFileSync(stat, 'utf8');
      const state = fields.slice(fields.lastIndexOf(')') + 2, fields.lastIndexOf(')') + 3);
      return state !== 'Z' && state !== 'X';
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

let table: PriceTable | null = null;
/** The real config/pricing.json. */
export function realPricing(): PriceTable {
  table ??= loadPriceTable(JSON.parse(readFileSync(new URL('../../config/pricing.json', import.meta.url), 'utf8')));
  return table;
}
