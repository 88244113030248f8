/** Helpers for the real-CLI engine tests: processes left in a folder, the env a CLI gets, stopping runs. */
import { readdirSync, readlinkSync, readFileSync } from 'node:fs';

/** Pids of live processes whose working directory (or an ancestor's) is `dir` or inside it. */
export function processesIn(dir: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cwd = readlinkSync(`/proc/${name}/cwd`);
      if (cwd !== dir && !cwd.startsWith(`${dir}/`)) continue;
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const st = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (st !== 'Z' && st !== 'X') out.push(Number(name));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** The minimal environment a CLI needs in tests, plus extras (provider variables). */
export function cliEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8', ...extra };
}

/** Tool results the CLI sent back to the model, as text (to check what the agent saw). */
export function toolResultsSent(bodies: unknown[]): string {
  const texts: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (o.type === 'tool_result' || o.type === 'function_call_output' || 'functionResponse' in o || o.role === 'tool') texts.push(JSON.stringify(o));
      else Object.values(o).forEach(walk);
    }
  };
  bodies.forEach(walk);
  return texts.join('\n');
}

/** Polls an async check until it gives a value (or fails after `timeoutMs`). */
export async function pollFor<T>(check: () => Promise<T | undefined | null | false>, what: string, timeoutMs: number, stepMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
