/**
 * Notifications (issue 18). `emit` publishes a `notify` live event (the
 * browser raises it; the live stream's per-viewer rules decide who gets it)
 * and, in the same transaction, puts one outbox row per interested webhook.
 * A delivery loop sends due rows: generic JSON signed (core/webhook.ts) or
 * Slack's format; a non-2xx answer or a network error is retried with
 * exponential backoff up to `max_attempts`; every attempt is audited. The
 * outbox is in the store, so deliveries pending at a restart are sent after it.
 */
import type { ColonyConfig } from '../../core/config.js';
import { hookWants, retryDelayMs, signWebhook, webhookBody, SIGNATURE_HEADER, type Notification } from '../../core/webhook.js';
import { ColonyError } from '../../core/errors.js';
import { BudgetScopeStore } from '../../store/budget-scopes.js';
import { OutboxStore, type AttemptResult, type OutboxRow } from '../../store/outbox.js';
import type { EventRecord, StoredTask } from '../../store/rows.js';
import type { Store } from '../../store/store.js';
import { fromEvent, graphFinished, graphMaybeDone } from './derive.js';

type Hook = ColonyConfig['notifications']['webhooks'][number];

const GRAPH_CHECK_MS = 250; // finished-graph checks are batched: one count per graph per window, however many tasks end

/** How soon deliveries are tried again after the store refused to be read. */
const STORE_RETRY_MS = 5_000;

export class Notifier {
  readonly outbox: OutboxStore;
  private readonly scopes: BudgetScopeStore;
  private timer: NodeJS.Timeout | null = null;
  private graphTimer: NodeJS.Timeout | null = null;
  private readonly graphsToCheck = new Set<string>();
  private readonly inflight = new Set<number>();
  private unsubscribe: () => void = () => {};
  private stopped = true;
  /** Aborts the deliveries in flight when the host closes (their rows stay pending for the next start). */
  private abort = new AbortController();

  constructor(
    private readonly store: Store,
    private readonly config: ColonyConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.outbox = new OutboxStore(store);
    this.scopes = new BudgetScopeStore(store);
  }

  start(): void {
    this.stopped = false;
    this.abort = new AbortController();
    this.unsubscribe = this.store.subscribe((events) => setImmediate(() => this.onEvents(events)));
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    this.abort.abort();
    this.unsubscribe();
    if (this.timer) clearTimeout(this.timer);
    if (this.graphTimer) clearTimeout(this.graphTimer);
    this.timer = this.graphTimer = null;
  }

  hooks(): readonly Hook[] {
    return this.config.notifications.webhooks;
  }

  /** Publishes the notification and queues it for every webhook that wants it (or only `onlyHook`); returns the outbox ids. */
  emit(n: Notification, onlyHook?: string): number[] {
    if (!this.store.isOpen()) return [];
    const hooks = this.hooks().filter((h) => (onlyHook === undefined || h.name === onlyHook) && hookWants(h.events, n.event));
    const payload = JSON.stringify(n);
    const ids = this.store.transaction(() => {
      this.store.publish('notify', n.owner, { ...n }, n.task_id);
      return hooks.map((h) => this.outbox.enqueue(h.name, n.event, payload, this.now()));
    });
    if (ids.length > 0) this.schedule(0);
    return ids;
  }

  /** The admin's "send test": one test notification to the named hook, sent now; resolves with the first attempt's outcome. */
  async test(hookName: string): Promise<OutboxRow> {
    if (!this.hooks().some((h) => h.name === hookName)) throw new ColonyError('E_NOT_FOUND', `no webhook named '${hookName}' in notifications.webhooks`);
    const at = this.now();
    const [id] = this.emit(
      {
        event: 'test',
        title: 'colony test notification',
        body: `sent from the admin dashboard to '${hookName}'`,
        at,
        owner: 'admin',
        task_id: null,
        graph_id: null,
        detail: {},
      },
      hookName,
    );
    const row = id === undefined ? null : this.outbox.get(id);
    if (!row) throw new ColonyError('E_INTERNAL', 'the test delivery was not queued');
    return this.deliver(row);
  }

  /**
   * How fromEvent reads tasks. A submission only matters for its tasks held for
   * approval: those are read in one query, not each task of the graph (issue 17).
   */
  private lookupFor(e: EventRecord): (id: string) => StoredTask | null {
    const graphId = e.data['graph_id'];
    if (e.kind !== 'graph.submitted' || typeof graphId !== 'string') return (id) => this.store.getTask(id);
    const held = new Map(this.store.listTasks({ graph_id: graphId, state: 'awaiting_approval', limit: 1_000_000 }).map((t) => [t.id, t]));
    return (id) => held.get(id) ?? null;
  }

  private onEvents(events: readonly EventRecord[]): void {
    if (this.stopped || !this.store.isOpen()) return;
    for (const e of events) {
      if (e.kind === 'notify') continue;
      try {
        for (const n of fromEvent(e, this.lookupFor(e))) this.emit(n);
      } catch {
        /* a notification must never break the host; the store reports its own failures */
      }
      const g = graphMaybeDone(e);
      if (g) this.graphsToCheck.add(g);
    }
    if (this.graphsToCheck.size > 0 && !this.graphTimer) {
      this.graphTimer = setTimeout(() => this.checkGraphs(), GRAPH_CHECK_MS);
      this.graphTimer.unref();
    }
  }

  private checkGraphs(): void {
    this.graphTimer = null;
    const ids = [...this.graphsToCheck];
    this.graphsToCheck.clear();
    if (this.stopped || !this.store.isOpen()) return;
    for (const id of ids) {
      try {
        const g = this.store.getGraph(id);
        const n = g ? graphFinished(g, this.scopes.graphCounts(id), this.now()) : null;
        if (n) this.emit(n);
      } catch {
        // The store cannot be read (a database server out of reach): look again later, never crash the host.
        this.graphsToCheck.add(id);
      }
    }
    if (this.graphsToCheck.size > 0 && !this.graphTimer && !this.stopped) {
      this.graphTimer = setTimeout(() => this.checkGraphs(), GRAPH_CHECK_MS * 8);
      this.graphTimer.unref();
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.deliverDue(), Math.max(0, delayMs));
    this.timer.unref();
  }

  private async deliverDue(): Promise<void> {
    this.timer = null;
    if (this.stopped || !this.store.isOpen()) return;
    try {
      const due = this.outbox.due(this.now(), 50).filter((r) => !this.inflight.has(r.id));
      await Promise.all(due.map((r) => this.deliver(r)));
      if (this.stopped || !this.store.isOpen()) return;
      const next = this.outbox.nextDue();
      if (next !== null) this.schedule(next - this.now());
    } catch {
      // The outbox cannot be read or written (a database server out of reach): the rows stay due; try again later.
      this.schedule(STORE_RETRY_MS);
    }
  }

  private async deliver(row: OutboxRow): Promise<OutboxRow> {
    if (this.inflight.has(row.id)) return row;
    this.inflight.add(row.id);
    try {
      const hook = this.hooks().find((h) => h.name === row.hook);
      const r: AttemptResult = hook ? await this.send(hook, row) : { ok: false, status: null, error: 'webhook no longer in the config' };
      if (!this.store.isOpen()) return row;
      const { max_attempts, retry_base_ms, retry_cap_ms } = this.config.notifications;
      const more = !r.ok && hook !== undefined && row.attempts + 1 < max_attempts;
      return this.outbox.recordAttempt(row, r, more ? this.now() + retryDelayMs(row.attempts + 1, retry_base_ms, retry_cap_ms) : null, this.now());
    } finally {
      this.inflight.delete(row.id);
    }
  }

  private async send(hook: Hook, row: OutboxRow): Promise<AttemptResult> {
    const body = webhookBody(hook.format, JSON.parse(row.payload) as Notification, row.id);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'colony-webhook',
      'x-colony-event': row.event,
      'x-colony-delivery': String(row.id),
    };
    if (hook.format === 'json' && hook.secret) headers[SIGNATURE_HEADER] = signWebhook(hook.secret, body, Math.floor(this.now() / 1000));
    try {
      const res = await fetch(hook.url, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.config.notifications.timeout_ms)]),
      });
      await res.arrayBuffer().catch(() => undefined);
      return res.ok ? { ok: true, status: res.status, error: null } : { ok: false, status: res.status, error: `E_WEBHOOK: answered ${res.status}` };
    } catch (e) {
      // The message names the cause only (never the URL: a Slack URL is itself a secret).
      const cause = e instanceof Error && e.cause instanceof Error ? e.cause.message : e instanceof Error ? e.name : String(e);
      return { ok: false, status: null, error: `E_WEBHOOK: ${cause}`.slice(0, 300) };
    }
  }
}
