/**
 * Approvals: LAN tasks that ask to run on the host (approve / reject), and
 * pending changes left by host-run tasks, with their diff (approve merges,
 * reject throws the branch away), and tool calls of running agents that the
 * safety gateway holds (the exact command, path or URL; approve lets the agent
 * go on, reject denies it). All go through POST /admin/approve|reject/:id,
 * which decides by what is waiting. Lists reload when an event says they changed.
 */
import { api, isMissingEndpoint } from './api.js';
import { ago, debounce, engineModel, h, put, usd } from './dom.js';
import { renderDiff } from './diff.js';
import type { Live } from './live.js';
import { foreignOwnerNote } from './task-actions.js';
import { busy, confirmDialog, emptyState, errorBox, notice, section, showError } from './ui.js';
import type { PendingChangeView, TaskView } from './types.js';

/** A held tool call as GET /admin/pending lists it. */
interface ToolCallView {
  kind: 'tool_call';
  id: string;
  task_id: string;
  task_title?: string;
  tool: string;
  command?: string;
  path?: string;
  url?: string;
  reason?: string | null;
  created_at: number;
  expires_at: number;
}

export class ApprovalsView {
  readonly el: HTMLElement;
  readonly badge: HTMLElement;
  private readonly tasksBox: HTMLElement;
  private readonly changesBox: HTMLElement;
  private readonly toolBox: HTMLElement;
  private toolCalls: ToolCallView[] = [];
  private readonly reloadSoon = debounce(() => void this.refresh(), 300);
  private last: { tasks: TaskView[] | null; changes: PendingChangeView[] | null } = { tasks: null, changes: null };

  constructor(
    live: Live,
    private readonly openTask: (id: string) => void,
    private readonly who: (submittedBy: string | null | undefined) => string,
    /** This host's id when several hosts share PostgreSQL (another host's task is approved there), else null. */
    private readonly thisHost: () => string | null = () => null,
  ) {
    // No aria-label: not allowed on a plain span (axe aria-prohibited-attr); the tab's name is read with the count.
    this.badge = h('span', { class: 'badge', hidden: true, title: 'items waiting' });
    this.tasksBox = h('div', { class: 'approval-list' });
    this.changesBox = h('div', { class: 'approval-list' });
    this.toolBox = h('div', { class: 'approval-list' });
    this.el = h(
      'div',
      {},
      section(
        'Agent tool calls',
        {
          id: 'pending-tool-calls',
          description:
            'Commands, file writes and fetches of running agents that the safety gateway holds. The agent waits; approve lets it go on, reject denies the call.',
        },
        this.toolBox,
      ),
      section(
        'Pending LAN tasks',
        { id: 'pending-tasks', description: 'Tasks from LAN users that ask to run on this host. They run only after you approve them.' },
        this.tasksBox,
      ),
      section(
        'Pending changes',
        { id: 'pending-changes', description: 'Work left by host-run tasks in their own git branch. Approve merges it; reject discards the branch.' },
        this.changesBox,
      ),
    );
    live.on('task.state', (e) => {
      if (e.data['to'] === 'awaiting_approval' || e.data['from'] === 'awaiting_approval' || e.data['to'] === 'succeeded') this.reloadSoon();
    });
    live.on('graph.submitted', () => this.reloadSoon()); // LAN host tasks are born awaiting approval, without a transition
    live.on('change', () => this.reloadSoon());
    live.on('approval', () => this.reloadSoon());
    live.onResync(() => void this.refresh());
  }

  async refresh(): Promise<void> {
    const [tasks, changes] = await Promise.all([this.loadTasks(), this.loadChanges()]);
    this.last = { tasks, changes };
    this.render(tasks, changes);
  }

  /** Re-renders the last lists (e.g. once the submitters' display names are known). */
  relabel(): void {
    this.render(this.last.tasks, this.last.changes);
  }

  private render(tasks: TaskView[] | null, changes: PendingChangeView[] | null): void {
    // A task held for its pending change is decided there (approve merges), so it is listed once, as a change.
    const held = new Set((changes ?? []).map((c) => c.task_id));
    const waiting = (tasks ?? []).filter((t) => !held.has(t.id));
    if (tasks)
      put(
        this.tasksBox,
        waiting.length
          ? waiting.map((t) => this.taskCard(t))
          : emptyState('Nothing waiting for approval', 'LAN tasks that ask to run on the host appear here.'),
      );
    if (changes)
      put(
        this.changesBox,
        changes.length
          ? changes.map((c) => this.changeCard(c))
          : emptyState('No pending changes', 'When a host-run task changes files in a git repository, its diff waits here for review.'),
      );
    if (tasks)
      put(
        this.toolBox,
        this.toolCalls.length
          ? this.toolCalls.map((c) => this.toolCallCard(c))
          : emptyState('No tool call waiting', "When the safety gateway holds an agent's command, file write or fetch, it waits here."),
      );
    const n = waiting.length + (changes?.length ?? 0) + this.toolCalls.length;
    this.badge.hidden = n === 0;
    this.badge.textContent = String(n);
  }

  private async loadTasks(): Promise<TaskView[] | null> {
    try {
      const r = await api.get<{ tasks: TaskView[]; tool_calls?: ToolCallView[] }>('/admin/pending');
      this.toolCalls = r.tool_calls ?? [];
      return r.tasks;
    } catch (e) {
      showError(e, 'pending tasks');
      return null;
    }
  }

  private async loadChanges(): Promise<PendingChangeView[] | null> {
    try {
      return (await api.get<{ changes?: PendingChangeView[] }>('/admin/pending-changes')).changes ?? [];
    } catch (e) {
      if (isMissingEndpoint(e)) {
        put(this.changesBox, emptyState('Pending changes are not available on this host', 'This host version does not collect task diffs.'));
        return [];
      }
      showError(e, 'pending changes');
      return null;
    }
  }

  private decide(button: HTMLButtonElement, err: HTMLElement, id: string, verb: 'approve' | 'reject', done: string, body: Record<string, unknown> = {}): void {
    void busy(
      button,
      async () => {
        await api.post(`/admin/${verb}/${encodeURIComponent(id)}`, body);
        notice('success', `${done} ${id}`);
        await this.refresh();
      },
      err,
    );
  }

  private taskCard(t: TaskView): HTMLElement {
    const err = errorBox();
    const approve = h('button', { type: 'button', class: 'btn btn-primary btn-small' }, 'Approve');
    const reject = h('button', { type: 'button', class: 'btn btn-danger-outline btn-small' }, 'Reject');
    // The approval covers exactly the findings shown here (the host answers 409 if they changed).
    const review = t as TaskView & { findings?: SafetyFindingView[] | null; review_digest?: string | null };
    // Approving runs a LAN user's command on this host: the dialog shows exactly what, where, whose, and what the screens found.
    approve.addEventListener(
      'click',
      () =>
        void (async () => {
          const ok = await confirmDialog({
            title: `Run ${t.title ?? t.id} on this host?`,
            body: 'This command runs on this host once you approve it. Check it, its target and the safety findings.',
            confirm: 'Approve and run',
            extra: approveSummary(t, this.who(t.submitted_by), review.findings),
          });
          if (ok) this.decide(approve, err, t.id, 'approve', 'Approved', review.review_digest ? { digest: review.review_digest } : {});
        })(),
    );
    reject.addEventListener(
      'click',
      () =>
        void (async () => {
          if (
            !(await confirmDialog({ title: `Reject ${t.id}?`, body: 'The task is cancelled and will not run on this host.', confirm: 'Reject', danger: true }))
          )
            return;
          this.decide(reject, err, t.id, 'reject', 'Rejected');
        })(),
    );
    return h(
      'article',
      { class: 'approval', 'data-task-id': t.id },
      h(
        'header',
        { class: 'approval-head' },
        h('button', { type: 'button', class: 'link strong', onclick: () => this.openTask(t.id) }, t.title ?? t.id),
        h('span', { class: 'muted small' }, 'from ', h('strong', {}, this.who(t.submitted_by)), ` · ${ago(t.created_at)}`),
      ),
      t.state_reason ? h('p', { class: 'muted small' }, t.state_reason) : null,
      t.prompt ? h('pre', { class: 'prompt' }, t.prompt) : null,
      findingsList(review.findings),
      h('p', { class: 'small muted' }, `engine ${engineModel(t.engine, t.model)} · budget ${usd(t.budget_usd)} · `, h('span', { class: 'mono' }, t.id)),
      err,
      foreignOwnerNote(t, this.thisHost(), [approve, reject]),
      h('div', { class: 'approval-actions' }, approve, reject),
    );
  }

  private toolCallCard(c: ToolCallView): HTMLElement {
    const err = errorBox();
    const approve = h('button', { type: 'button', class: 'btn btn-primary btn-small' }, 'Allow');
    const reject = h('button', { type: 'button', class: 'btn btn-danger-outline btn-small' }, 'Deny');
    approve.addEventListener('click', () => this.decide(approve, err, c.id, 'approve', 'Allowed'));
    reject.addEventListener('click', () => this.decide(reject, err, c.id, 'reject', 'Denied'));
    const what = c.command ?? c.path ?? c.url ?? '';
    return h(
      'article',
      { class: 'approval tool-call', 'data-tool-call-id': c.id },
      h(
        'header',
        { class: 'approval-head' },
        h('button', { type: 'button', class: 'link strong', onclick: () => this.openTask(c.task_id) }, c.task_title ?? c.task_id),
        h('span', { class: 'muted small' }, `${c.tool} · ${ago(c.created_at)}`),
      ),
      h('pre', { class: 'prompt mono' }, what),
      c.reason ? h('p', { class: 'muted small' }, c.reason) : null,
      err,
      h('div', { class: 'approval-actions' }, approve, reject),
    );
  }

  /** "Request changes": the comment goes to the agent, whose session continues in the task's worktree; an updated change replaces this one. */
  private requestChangesBox(id: string, err: HTMLElement): HTMLElement {
    const comment = h('textarea', { class: 'input', rows: '3', placeholder: 'What should the agent change?', 'aria-label': `Requested changes for ${id}` });
    const send = h('button', { type: 'button', class: 'btn btn-primary btn-small' }, 'Send to the agent');
    send.addEventListener('click', () => {
      const text = comment.value.trim();
      if (!text) {
        comment.focus();
        return;
      }
      void busy(
        send,
        async () => {
          await api.post(`/admin/pending-changes/${encodeURIComponent(id)}/request-changes`, { comment: text });
          notice('success', `Changes requested on ${id}: the agent continues its session; the updated change will appear here`);
          await this.refresh();
        },
        err,
      );
    });
    const box = h('div', { class: 'request-changes', 'data-request-changes': id }, comment, h('div', { class: 'approval-actions' }, send));
    box.hidden = true;
    return box;
  }

  private requestChangesButton(id: string, box: HTMLElement): HTMLButtonElement {
    const b = h('button', { type: 'button', class: 'btn btn-small', 'aria-expanded': 'false', title: `Ask the agent to revise ${id}` }, 'Request changes');
    b.addEventListener('click', () => {
      box.hidden = !box.hidden;
      b.setAttribute('aria-expanded', String(!box.hidden));
      if (!box.hidden) box.querySelector('textarea')?.focus();
    });
    return b;
  }

  private changeCard(c: PendingChangeView): HTMLElement {
    const id = c.task_id;
    const err = errorBox();
    const approve = h('button', { type: 'button', class: 'btn btn-primary btn-small' }, 'Approve and merge');
    const reject = h('button', { type: 'button', class: 'btn btn-danger-outline btn-small' }, 'Reject');
    approve.addEventListener(
      'click',
      () =>
        void (async () => {
          if (
            !(await confirmDialog({
              title: `Merge ${id}?`,
              body: `The branch ${c.branch ?? ''} is merged into ${c.target_branch ?? 'its target branch'}.`,
              confirm: 'Merge',
            }))
          )
            return;
          this.decide(approve, err, id, 'approve', 'Merged');
        })(),
    );
    reject.addEventListener(
      'click',
      () =>
        void (async () => {
          if (!(await confirmDialog({ title: `Reject ${id}?`, body: 'The task branch and its worktree are thrown away.', confirm: 'Reject', danger: true })))
            return;
          this.decide(reject, err, id, 'reject', 'Rejected');
        })(),
    );
    const requestBox = this.requestChangesBox(id, err);
    const stat = c.stat ? `${c.stat.files_changed} file${c.stat.files_changed === 1 ? '' : 's'}, +${c.stat.insertions} −${c.stat.deletions}` : '';
    const diffBox = h('div', {}, h('p', { class: 'muted small' }, 'Loading the diff…'));
    const details = h('details', { class: 'diff-details' }, h('summary', {}, 'Diff'), diffBox);
    let loaded = false;
    const loadDiff = async (): Promise<void> => {
      if (loaded) return;
      loaded = true;
      try {
        const patch =
          c.patch ?? c.diff ?? (await api.get<{ change: PendingChangeView }>(`/admin/pending-changes/${encodeURIComponent(id)}`)).change.patch ?? '';
        put(diffBox, renderDiff(patch));
      } catch (e) {
        loaded = false;
        put(diffBox, h('p', { class: 'muted small' }, 'The diff could not be loaded.'));
        showError(e, `diff of ${id}`);
      }
    };
    details.addEventListener('toggle', () => {
      if (details.open) void loadDiff();
    });
    details.open = true;
    return h(
      'article',
      { class: 'approval change', 'data-change-id': id },
      h(
        'header',
        { class: 'approval-head' },
        h('button', { type: 'button', class: 'link strong', onclick: () => this.openTask(id) }, c.task_title ?? id),
        h(
          'span',
          { class: 'mono small muted' },
          [c.branch && c.target_branch ? `${c.branch} → ${c.target_branch}` : c.branch, stat].filter(Boolean).join(' · '),
        ),
      ),
      c.files?.length
        ? h(
            'ul',
            { class: 'file-list mono small' },
            ...c.files.map((f) =>
              h(
                'li',
                {},
                h('span', { class: `fstat fstat-${f.status}` }, f.status),
                ` ${f.path} `,
                h('span', { class: 'muted' }, f.additions === null ? 'binary' : `+${f.additions} −${f.deletions ?? 0}`),
              ),
            ),
          )
        : null,
      details,
      err,
      h('div', { class: 'approval-actions' }, approve, this.requestChangesButton(id, requestBox), reject),
      requestBox,
    );
  }
}

interface SafetyFindingView {
  check: string;
  verdict: string;
  rule: string | null;
  reason: string | null;
}

/** The safety screens' findings on the exact command: what an approval covers. */
function findingsList(findings: SafetyFindingView[] | null | undefined): HTMLElement {
  if (findings === undefined || findings === null)
    return h('p', { class: 'small muted' }, 'Safety screens: not run yet (the task is screened again before it runs).');
  if (findings.length === 0) return h('p', { class: 'small muted' }, 'Safety screens: no findings.');
  return h(
    'ul',
    { class: 'small findings' },
    ...findings.map((f) =>
      h('li', {}, h('strong', {}, `${f.check} ${f.verdict === 'deny' ? '(will be refused)' : '(needs your approval)'}`), `: ${f.reason ?? f.rule ?? ''}`),
    ),
  );
}

/** What the approve confirmation shows: the exact command, its target, who submitted it, and the findings. */
function approveSummary(t: TaskView, submitter: string, findings: SafetyFindingView[] | null | undefined): HTMLElement {
  return h(
    'div',
    { class: 'approve-summary' },
    h('h3', { class: 'small-head' }, 'Command'),
    h('pre', { class: 'prompt mono approve-command' }, t.prompt ?? ''),
    h(
      'dl',
      { class: 'detail-grid approve-facts' },
      h('div', {}, h('dt', {}, 'Target'), h('dd', { class: 'approve-target' }, t.target ?? 'host')),
      h('div', {}, h('dt', {}, 'Workspace'), h('dd', { class: 'approve-workspace mono' }, t.workspace ?? '—')),
      h('div', {}, h('dt', {}, 'Submitted by'), h('dd', { class: 'approve-who' }, submitter)),
      h('div', {}, h('dt', {}, 'Engine'), h('dd', {}, engineModel(t.engine, t.model))),
    ),
    h('h3', { class: 'small-head' }, 'Safety screens'),
    findingsList(findings),
  );
}
