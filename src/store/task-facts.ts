/**
 * What the store last knew of each task's row — owner, graph, attempt
 * counter — so a write on a backend that defers writes (PostgreSQL) need not
 * read them back (`RETURNING`) and the transaction stays one round trip. They
 * are used only as conditions of the write (`WHERE … AND submitted_by = ?`),
 * so a stale entry makes the write change no row, which fails the batch and
 * replays the transaction step by step: never a wrong row.
 */
export interface TaskFact {
  owner: string;
  graph: string;
  /** The row's attempt counter, or null when not known. */
  attempt: number | null;
}

const MAX = 200_000;

export class TaskFacts {
  private readonly m = new Map<string, TaskFact>();

  /** `enabled` false (a backend that does not defer writes): nothing is kept. */
  constructor(private readonly enabled: boolean) {}

  get(id: string): TaskFact | undefined {
    return this.m.get(id);
  }

  set(id: string, owner: string, graph: string, attempt: number | null = this.m.get(id)?.attempt ?? null): void {
    if (!this.enabled) return;
    this.m.set(id, { owner, graph, attempt });
    if (this.m.size > MAX) this.m.delete(this.m.keys().next().value as string);
  }

  setAttempt(id: string, attempt: number): void {
    const f = this.m.get(id);
    if (f) f.attempt = attempt;
  }

  clear(): void {
    this.m.clear();
  }
}
