/**
 * Where an attempt's time goes, for measuring (issue 24): with
 * COLONY_TRACE_ATTEMPT=1 in colony's environment, the pool and the child
 * spawner time each phase of every attempt (screen, prepare, start, spawn,
 * run, collect, settle) and a table of count / p50 / p90 / p99 / total per
 * phase is written to stderr when the process exits. Off (the default) it
 * costs one boolean test per phase.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

const on = process.env['COLONY_TRACE_ATTEMPT'] === '1';
const samples = new Map<string, number[]>();

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/** The table of phases measured so far (empty when tracing is off). */
export function attemptTraceTable(): string {
  const rows = [...samples].map(([name, v]) => {
    const s = [...v].sort((a, b) => a - b);
    const total = s.reduce((a, b) => a + b, 0);
    const f = (x: number): string => x.toFixed(2).padStart(9);
    return `${name.padEnd(8)} ${String(s.length).padStart(6)} ${f(quantile(s, 0.5))} ${f(quantile(s, 0.9))} ${f(quantile(s, 0.99))} ${f(total)}`;
  });
  return rows.length === 0 ? '' : [`phase     count    p50 ms    p90 ms    p99 ms  total ms`, ...rows].join('\n') + '\n';
}

/** CPU of this process itself (all its threads), apart from its children's. */
function ownCpu(): string {
  const u = process.cpuUsage();
  return `colony process CPU: ${(u.user / 1000).toFixed(0)} ms user + ${(u.system / 1000).toFixed(0)} ms system (children not included)\n`;
}

// How long the event loop was blocked (what a blocking spawn costs everything else the process serves).
const loopDelay = on ? monitorEventLoopDelay({ resolution: 1 }) : null;
loopDelay?.enable();
function loopLine(): string {
  if (!loopDelay) return '';
  const ms = (ns: number): string => (ns / 1e6).toFixed(1);
  return `event loop delay: p50 ${ms(loopDelay.percentile(50))} ms, p99 ${ms(loopDelay.percentile(99))} ms, max ${ms(loopDelay.max)} ms\n`;
}

if (on) process.once('exit', () => process.stderr.write(`[colony attempt trace]\n${attemptTraceTable()}${ownCpu()}${loopLine()}`));

/** Starts timing a phase; the returned function ends it. A no-op when tracing is off. */
export function tracePhase(name: string): () => void {
  if (!on) return noop;
  const t0 = performance.now();
  return () => {
    const list = samples.get(name) ?? [];
    list.push(performance.now() - t0);
    samples.set(name, list);
  };
}

const noop = (): void => undefined;
