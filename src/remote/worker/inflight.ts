/**
 * The worker's record of the attempts it runs, one small file each under
 * `<worker home>/inflight/`, written when an assignment is accepted, given the
 * process identity once the engine's leader runs, and removed when the final
 * report is queued. A worker that starts again finds the attempts its previous
 * run lost (crash, SIGKILL, power cut), ends whatever of them still runs
 * (engines/process-tree.ts: identity checked, waited for), and tells the host
 * (TASK_FAILED, error_code E_LOST) before it takes new work, so the
 * host closes them at once instead of waiting for their leases to lapse.
 * An attempt that had ended but whose final report may not have reached the
 * socket is not lost: its signed report is sent again (the host's fencing
 * takes it once, or refuses it as stale).
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AttemptProcess } from '../../core/engine.js';
import { ColonyError } from '../../core/errors.js';
import { pruneEmptyAttemptCgroups } from '../../engines/attempt-cgroup.js';
import { sweepAttempts } from '../../engines/process-tree.js';

export interface InflightRec {
  task_id: string;
  attempt: number;
  nonce: string; // of the TASK_ASSIGNED it answers: the host fences the report with it
  engine: string;
  started_at: number;
  proc: AttemptProcess | null;
  /** The signed final report, kept until it was handed to the socket (sent again after a crash). */
  final?: string;
}

export class InflightBook {
  readonly dir: string;

  constructor(home: string) {
    this.dir = join(home, 'inflight');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  begin(rec: Omit<InflightRec, 'proc' | 'started_at'>): void {
    this.write({ ...rec, started_at: Date.now(), proc: null });
  }

  /** Never throws (called from inside the engine); a failed write only narrows what the next start can sweep by record. */
  process(ref: { task_id: string; attempt: number }, proc: AttemptProcess): void {
    const rec = this.read(this.file(ref));
    if (rec) this.tryWrite({ ...rec, proc });
  }

  final(ref: { task_id: string; attempt: number }, text: string): void {
    const rec = this.read(this.file(ref));
    if (rec) this.tryWrite({ ...rec, final: text });
  }

  end(ref: { task_id: string; attempt: number }): void {
    try {
      rmSync(this.file(ref), { force: true });
    } catch {
      /* reported again after a restart; the host fences it as stale */
    }
  }

  /**
   * At start: the attempts a previous run left, with their processes ended.
   * Throws E_ORPHANS_ALIVE if some process survives SIGKILL (the worker must
   * not report the attempt lost, nor run anything, while it still runs).
   */
  recover(timeoutMs = 10_000): { lost: InflightRec[]; finals: string[]; killed: number } {
    pruneEmptyAttemptCgroups();
    const lost: InflightRec[] = [];
    const finals: string[] = [];
    let killed = 0;
    for (const name of readdirSync(this.dir)) {
      if (!name.endsWith('.json')) continue;
      const file = join(this.dir, name);
      const rec = this.read(file);
      if (!rec) {
        rmSync(file, { force: true });
        continue;
      }
      if (rec.proc) {
        const r = sweepAttempts([rec.proc], timeoutMs);
        killed += r.killed;
        if (r.remaining.length > 0) {
          throw new ColonyError(
            'E_ORPHANS_ALIVE',
            `processes ${r.remaining.join(', ')} of ${rec.task_id} attempt ${rec.attempt} are still alive after SIGKILL; end them, then start the worker again`,
          );
        }
      }
      if (rec.final)
        finals.push(rec.final); // it ended; only its report may not have left
      else lost.push(rec);
      rmSync(file, { force: true });
    }
    return { lost, finals, killed };
  }

  private file(ref: { task_id: string; attempt: number }): string {
    return join(this.dir, `${encodeURIComponent(ref.task_id)}.${ref.attempt}.json`);
  }

  private read(file: string): InflightRec | null {
    try {
      const v = JSON.parse(readFileSync(file, 'utf8')) as InflightRec;
      return typeof v.task_id === 'string' && Number.isInteger(v.attempt) && typeof v.nonce === 'string' ? v : null;
    } catch {
      return null;
    }
  }

  private tryWrite(rec: InflightRec): void {
    try {
      this.write(rec);
    } catch {
      /* disk full or home gone: the reaper and the parent-death signal still end the tree */
    }
  }

  /** Write-then-rename: a crash mid-write leaves the old record or none, never half a file. */
  private write(rec: InflightRec): void {
    const file = this.file(rec);
    writeFileSync(`${file}.tmp`, JSON.stringify(rec), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  }
}
