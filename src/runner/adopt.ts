/**
 * Several hosts on one PostgreSQL (store/cluster.ts), the runner's side: the
 * heartbeat renews this host's lease, then claims hosts whose lease expired;
 * the graphs moved here are adopted the way a restarted host recovers its
 * own (the one recovery path): the dead host's processes on this machine are
 * swept (others' boot ids never match), memory is rebuilt from the store with
 * the adopted graphs, and their open attempts are closed as lost and their
 * tasks requeued or failed by the attempt policy (TaskService.recover).
 */
import type { Cluster } from '../store/cluster.js';
import type { Store } from '../store/store.js';
import { sweepOrphans } from './orphans.js';
import type { TaskService } from './service.js';

export interface Adoption {
  hosts: string[];
  graphs: string[];
  requeued: string[];
  failed: string[];
}

export class HostWatch {
  private timer: NodeJS.Timeout | null = null;
  /** Closing: the lease is still renewed (running attempts finish and write) but no host is taken over. */
  private closing = false;
  /** Every adoption so far (for tests and the dashboard). */
  readonly adoptions: Adoption[] = [];
  /** Graphs moved here whose recovery failed (a process still alive, the database gone): retried at each beat. */
  private unadopted: { hosts: string[]; graphs: string[] } | null = null;
  /**
   * Since when this host's beats reach the database without a break (its own
   * monotonic clock: a duration, not a lease). After an outage every host's
   * lease has run out; claiming only once this host has been back for a whole
   * lease gives the others the time to renew theirs, so a database restart
   * does not make the hosts take each other over.
   */
  private healthySince: number | null = performance.now();

  constructor(
    private readonly cluster: Cluster,
    private readonly store: Store,
    private readonly service: TaskService,
    private readonly everyMs: number,
    private readonly leaseMs: number,
    private readonly log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.beat(), this.everyMs);
    this.timer.unref();
  }

  /** One heartbeat: renew, then take over any host found dead. A database out of reach is retried at the next beat. */
  beat(): Adoption | null {
    try {
      if (!this.cluster.heartbeat() || this.closing) return null;
      this.healthySince ??= performance.now();
      if (performance.now() - this.healthySince < this.leaseMs) return null;
      const claimed = this.cluster.claimExpired();
      const hosts = [...(this.unadopted?.hosts ?? []), ...claimed.hosts];
      const graphs = [...(this.unadopted?.graphs ?? []), ...claimed.graphs];
      if (hosts.length === 0) return null;
      // They are this host's from the claim's commit on: until recovered, retry at every beat.
      this.unadopted = { hosts, graphs };
      const a = this.adopt(hosts, graphs);
      this.unadopted = null;
      return a;
    } catch (e) {
      this.healthySince = null;
      if (!this.cluster.isFenced) this.log(`colony: host heartbeat failed: ${(e as Error).message}`);
      return null;
    }
  }

  /** The host is closing: keep the lease while its attempts finish, take nothing over. */
  quiesce(): void {
    this.closing = true;
  }

  /** Stops beating and ends the lease now (another host takes this one's graphs at its next beat). */
  stop(): void {
    this.closing = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.cluster.release();
  }

  private adopt(hosts: string[], graphs: string[]): Adoption {
    sweepOrphans(this.store, 'host died', 10_000, graphs);
    const r = this.service.recover(graphs);
    const a = { hosts, graphs, ...r };
    this.adoptions.push(a);
    this.log(`colony: took over host ${hosts.join(', ')}: ${graphs.length} graph(s), ${r.requeued.length} task(s) requeued, ${r.failed.length} failed`);
    return a;
  }
}
