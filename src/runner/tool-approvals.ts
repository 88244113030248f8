/**
 * Tool calls of running agents, decided by colony's safety gateway
 * (safety/tool-check.ts) one by one: allow, deny with a reason the agent
 * sees, or hold for the admin. A held call waits (the CLI waits with it) until
 * the admin approves or rejects it (`POST /admin/approve|reject/:id`), its
 * timeout passes, or the task is cancelled — anything but an approval denies.
 * Every verdict is audited (`safety.tool_call`), and so is each admin answer.
 *
 * Held calls live in memory only: they belong to a running CLI process, which
 * does not survive a host restart either.
 */
import { randomBytes } from 'node:crypto';
import type { ColonyConfig } from '../core/config.js';
import type { ToolCall, ToolDecision, ToolGate } from '../core/engine.js';
import { ColonyError } from '../core/errors.js';
import { checkToolCall, type ToolVerdict } from '../safety/tool-check.js';
import { SYSTEM, type Actor, type Store } from '../store/store.js';
import type { StoredTask } from '../store/rows.js';

export interface PendingToolCall {
  kind: 'tool_call';
  id: string;
  task_id: string;
  task_title: string;
  attempt: number;
  tool: string;
  command?: string;
  path?: string;
  url?: string;
  rule: string | null;
  reason: string | null;
  created_at: number;
  expires_at: number;
}

interface Held {
  item: PendingToolCall;
  settle(d: ToolDecision, how: string): void;
}

export interface ToolApprovalsOptions {
  store: Store;
  config: ColonyConfig;
  home: string;
  configFile: string | null;
  providerHosts: readonly string[];
  now?: () => number;
}

export class ToolApprovals {
  private readonly held = new Map<string, Held>();
  private readonly now: () => number;

  constructor(private readonly o: ToolApprovalsOptions) {
    this.now = o.now ?? Date.now;
  }

  /** The gate for one attempt of a task running in `workspace`. */
  gateFor(task: StoredTask, attempt: number, workspace: string): ToolGate {
    return async (call, signal) => {
      const v = checkToolCall(
        { config: this.o.config.safety, providerHosts: this.o.providerHosts, home: this.o.home, configFile: this.o.configFile, workspace },
        call,
      );
      this.audit(SYSTEM, 'safety.tool_call', task.id, call, { verdict: v.verdict, rule: v.rule, reason: v.reason, attempt });
      if (v.verdict === 'allow') return { behavior: 'allow' };
      if (v.verdict === 'deny')
        return { behavior: 'deny', message: `colony's safety gateway refused this ${call.tool} call: ${v.reason ?? v.rule ?? 'denied'}` };
      return this.hold(task, attempt, call, v, signal);
    };
  }

  list(): PendingToolCall[] {
    return [...this.held.values()].map((h) => ({ ...h.item }));
  }

  has(id: string): boolean {
    return this.held.has(id);
  }

  approve(id: string, who: Actor): PendingToolCall {
    return this.answer(id, who, { behavior: 'allow' }, 'approved');
  }

  reject(id: string, who: Actor, comment?: string): PendingToolCall {
    const message = `an admin rejected this tool call${comment ? `: ${comment}` : ''}; do not retry it`;
    return this.answer(id, who, { behavior: 'deny', message }, 'rejected');
  }

  private answer(id: string, who: Actor, d: ToolDecision, how: string): PendingToolCall {
    const h = this.held.get(id);
    if (!h) throw new ColonyError('E_NOT_FOUND', `no tool call ${id} is waiting for approval`);
    h.settle(d, `${how} by ${who.actor}`);
    this.audit(who, `tool_call.${how === 'approved' ? 'approve' : 'reject'}`, h.item.task_id, h.item, { id });
    return { ...h.item };
  }

  private hold(task: StoredTask, attempt: number, call: ToolCall, v: ToolVerdict, signal: AbortSignal): Promise<ToolDecision> {
    const created = this.now();
    const timeoutMs = this.o.config.engines.claude.tool_approval_timeout_s * 1000;
    const item: PendingToolCall = {
      kind: 'tool_call',
      id: `tc_${randomBytes(6).toString('hex')}`,
      task_id: task.id,
      task_title: task.title,
      attempt,
      tool: call.tool,
      ...(call.command !== undefined ? { command: call.command } : {}),
      ...(call.path !== undefined ? { path: call.path } : {}),
      ...(call.url !== undefined ? { url: call.url } : {}),
      rule: v.rule,
      reason: v.reason,
      created_at: created,
      expires_at: created + timeoutMs,
    };
    return new Promise<ToolDecision>((resolve) => {
      const settle = (d: ToolDecision, how: string): void => {
        if (!this.held.delete(item.id)) return;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.o.store.publish('approval', null, { kind: 'tool_call', id: item.id, task_id: item.task_id, state: how }, item.task_id);
        resolve(d);
      };
      const timer = setTimeout(() => {
        this.audit(SYSTEM, 'tool_call.timeout', task.id, call, { id: item.id });
        settle({ behavior: 'deny', message: `no admin approved this ${call.tool} call within ${timeoutMs / 1000} s; it is refused` }, 'timed out');
      }, timeoutMs);
      timer.unref();
      const onAbort = (): void => settle({ behavior: 'deny', message: 'the task was cancelled' }, 'cancelled');
      signal.addEventListener('abort', onAbort, { once: true });
      this.held.set(item.id, { item, settle });
      this.o.store.publish('approval', null, { ...item, state: 'waiting' }, item.task_id);
      if (signal.aborted) onAbort();
    });
  }

  private audit(who: Actor, action: string, taskId: string, call: Pick<ToolCall, 'tool' | 'command' | 'path' | 'url'>, extra: Record<string, unknown>): void {
    try {
      this.o.store.appendAudit({
        ...who,
        action,
        target: taskId,
        detail: { tool: call.tool, command: call.command ?? null, path: call.path ?? null, url: call.url ?? null, ...extra },
      });
    } catch {
      /* the store refused (disk full): the verdict still stands; the store reports its own failure */
    }
  }
}
