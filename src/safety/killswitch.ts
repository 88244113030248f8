/**
 * The kill switch: running (dispatch on), paused (no new dispatch, running
 * tasks finish) or halted (running tasks cancelled, no dispatch). Persisted in
 * the store so a restarted host stays halted; a HALT file in COLONY_HOME halts
 * too and is checked at every dispatch. Every switch is audited with who and
 * from where.
 */
import { existsSync } from 'node:fs';
import type { Actor, Store } from '../store/store.js';

export type SwitchState = 'running' | 'paused' | 'halted';

const KEY = 'killswitch';

export interface KillswitchListener {
  onHalt(reason: string): void;
}

export class Killswitch {
  private stored: SwitchState;
  private readonly listeners = new Set<KillswitchListener>();

  constructor(
    private readonly store: Store,
    private readonly haltFile: string,
  ) {
    const v = store.getSetting(KEY);
    this.stored = v === 'paused' || v === 'halted' ? v : 'running';
  }

  /** Effective state; the HALT file wins over the stored state. */
  state(): SwitchState {
    if (existsSync(this.haltFile)) return 'halted';
    return this.stored;
  }

  canDispatch(): boolean {
    return this.state() === 'running';
  }

  onHalt(l: KillswitchListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  halt(who: Actor, reason = 'kill switch'): void {
    this.set('halted', who, reason);
    for (const l of this.listeners) l.onHalt(reason);
  }

  pause(who: Actor): void {
    this.set('paused', who, 'pause');
  }

  resume(who: Actor): void {
    this.set('running', who, 'resume');
  }

  private set(next: SwitchState, who: Actor, reason: string): void {
    const prev = this.stored;
    this.store.transaction(() => {
      this.store.setSetting(KEY, next);
      this.store.appendAudit({
        ...who,
        action: `killswitch.${next === 'running' ? 'resume' : next === 'paused' ? 'pause' : 'halt'}`,
        target: null,
        detail: { from: prev, to: next, reason, halt_file: existsSync(this.haltFile) },
      });
      this.store.publish('killswitch', null, { state: next, by: who.actor });
    });
    this.stored = next;
  }
}
