/**
 * The admin app (loaded only when the server says the page is the admin
 * app): overview (stats, worker cards, task graph), queue, costs, submit,
 * approvals, sessions, audit; kill / pause / resume in the top bar.
 */
import { api, withQuery } from './api.js';
import { h } from './dom.js';
import { ApprovalsView } from './approvals.js';
import { AuditView } from './audit.js';
import { CostsView, type CostPoint } from './costs.js';
import { GraphView } from './graph.js';
import { KillswitchControls } from './killswitch.js';
import { SessionsView } from './sessions.js';
import type { Shell } from './shell.js';
import { StatsRow } from './stats.js';
import { RouterView } from './router.js';
import { SubmitView } from './submit.js';
import { TaskDrawer } from './taskdetail.js';
import { QueueView, type TaskFacets } from './tasks.js';
import { emptyState, mountTabs, section } from './ui.js';
import type { Costs, GraphSummary, TaskDetail, TaskView, WorkerCard } from './types.js';
import { WorkerBoard } from './workers.js';
import { taskActions } from './task-actions.js';
import { followDrawer, queueFiltersFromHash, taskFromHash, taskLink } from './deeplink.js';
import { BudgetsView } from './budgets.js';
import { NotificationToggle } from './notifications.js';
import { HostsView } from './hosts.js';

export function mountAdmin(shell: Shell): void {
  const { live } = shell;
  const sessionNames = new Map<string, string>();
  const who = (submittedBy: string | null | undefined): string => {
    if (!submittedBy) return '—';
    if (submittedBy.startsWith('session:')) return sessionNames.get(submittedBy.slice(8)) ?? `LAN user ${submittedBy.slice(8, 16)}`;
    return submittedBy;
  };

  const hosts = new HostsView(live); // several hosts on PostgreSQL: the Hosts card, and which tasks are another host's
  const drawer = new TaskDrawer(live, {
    load: async (id) => {
      await hosts.ready;
      return api.get<TaskDetail>(`/admin/tasks/${encodeURIComponent(id)}`);
    },
    actions: (t, reload) => taskActions(t, reload, hosts.thisHost),
    onOpenChange: followDrawer(),
    linkTo: taskLink,
  });
  document.body.append(drawer.el);
  const openTask = (id: string): void => drawer.open(id);

  new KillswitchControls(shell);
  shell.header.append(new NotificationToggle({ live, owner: 'admin', openTask }).el);

  // ---- overview ----
  const stats = new StatsRow(shell);
  const workers = new WorkerBoard({
    live,
    load: async () => (await api.get<{ workers: WorkerCard[] }>('/admin/workers')).workers,
    revoke: async (w) => void (await api.post(`/admin/workers/${encodeURIComponent(w.id)}/revoke`)),
    empty: () =>
      emptyState(
        'No workers yet — here is how to connect one',
        h('p', {}, 'Local workers appear when the host starts (one per ', h('code', {}, 'runner.concurrency'), ' slot).'),
        h(
          'p',
          {},
          'To add a machine on your LAN: start the host with ',
          h('code', {}, 'colony serve --lan'),
          ', open the LAN app on that machine, ask for a pairing code, then run the command it shows:',
        ),
        h('pre', { class: 'cmd' }, 'colony worker --host http://<this-host>:8081 --code <CODE>'),
      ),
    onTaskClick: openTask,
  });
  const graph = new GraphView({
    live,
    listGraphs: async () => (await api.get<{ graphs: GraphSummary[] }>('/admin/graphs')).graphs,
    loadGraph: (id) => api.get<{ tasks: TaskView[] }>(`/admin/graphs/${encodeURIComponent(id)}`),
    onSelectTask: openTask,
    foreignOwner: (g) => (hosts.thisHost && g.owner_host && g.owner_host !== hosts.thisHost ? g.owner_host : null),
    emptyHint: () => [
      h('p', {}, 'Submit a task or a graph from the ', h('a', { href: '#submit' }, 'Submit'), ' tab, or from a terminal:'),
      h('pre', { class: 'cmd' }, 'colony submit examples/release.json'),
    ],
  });
  const overview = h(
    'div',
    {},
    stats.el,
    section('Workers', { id: 'workers', actions: [workers.summary] }, workers.el),
    hosts.el,
    section(
      'Task graph',
      {
        id: 'graph',
        actions: [graph.toolbar],
        description: 'Click a task (or focus it and press Enter) for its prompt, route decision, attempts and live output.',
      },
      graph.el,
    ),
  );

  // ---- queue ----
  const queue = new QueueView({
    live,
    load: async (q) => (await api.get<{ tasks: TaskView[] }>(withQuery('/admin/tasks', { ...q, limit: 500 }))).tasks,
    listGraphs: async () => (await api.get<{ graphs: GraphSummary[] }>('/admin/graphs')).graphs,
    facets: () => api.get<TaskFacets>('/admin/task-facets'),
    whoLabel: (s) => who(s),
    onSelect: openTask,
    who: (t) => who(t.submitted_by),
  });

  // ---- costs ----
  const costs = new CostsView({
    live,
    loadGroups: () => api.get<Costs>('/admin/costs'),
    loadTimeline: async () => {
      const { tasks } = await api.get<{ tasks: TaskView[] }>(withQuery('/admin/tasks', { limit: 5000 }));
      return tasks.filter((t) => (t.attempt ?? 0) > 0 && t.updated_at).map((t): CostPoint => ({ at: t.updated_at as number, cost_usd: t.cost_usd ?? 0 }));
    },
    label: (dim, key) => (dim === 'user' ? who(key) : (key ?? '(none)')),
  });

  const budgets = new BudgetsView(live, who);
  const submit = new SubmitView(openTask);
  const approvals = new ApprovalsView(live, openTask, who, () => hosts.thisHost);
  void hosts.ready.then(() => approvals.relabel()); // another host's tasks: approve/reject disabled once this host is known
  const sessions = new SessionsView(live, (list) => {
    for (const s of list) sessionNames.set(s.user_id, s.display_name);
    approvals.relabel();
    queue.refreshFacets();
  });
  const audit = new AuditView();
  const router = new RouterView(live);

  const panels = {
    overview: h('div', {}, overview),
    queue: h('div', {}, section('Queue and history', { description: 'Every task by state. Search matches title, prompt and id.' }, queue.el)),
    costs: h(
      'div',
      {},
      section('Costs', { description: 'Reported by the engines (tokens priced only when an engine reports no cost).' }, costs.el),
      budgets.el,
    ),
    submit: h('div', {}, submit.el),
    approvals: h('div', {}, approvals.el),
    sessions: h('div', {}, sessions.el),
    audit: h('div', {}, audit.el),
    router: h('div', {}, router.el),
  };
  mountTabs(shell.nav, shell.main, [
    { id: 'overview', label: 'Overview', panel: panels.overview, onShow: () => costs.setVisible(false) },
    { id: 'queue', label: 'Queue', panel: panels.queue, onShow: () => (costs.setVisible(false), queue.ensureLoaded()) },
    { id: 'costs', label: 'Costs', panel: panels.costs, onShow: () => (costs.setVisible(true), void budgets.refresh()) },
    { id: 'submit', label: 'Submit', panel: panels.submit, onShow: () => costs.setVisible(false) },
    { id: 'approvals', label: 'Approvals', panel: panels.approvals, badge: approvals.badge, onShow: () => costs.setVisible(false) },
    { id: 'sessions', label: 'Sessions', panel: panels.sessions, onShow: () => (costs.setVisible(false), void sessions.refresh()) },
    { id: 'audit', label: 'Audit', panel: panels.audit, onShow: () => (costs.setVisible(false), audit.ensureLoaded()) },
    { id: 'router', label: 'Router', panel: panels.router, onShow: () => (costs.setVisible(false), router.show()) },
  ]);

  // Deep links: a task's drawer, or the queue with filters (see deeplink.ts).
  const followHash = (): void => {
    const task = taskFromHash(location.hash);
    if (task) drawer.open(task);
    const filters = queueFiltersFromHash(location.hash);
    if (filters) queue.applyFilters(filters);
  };
  window.addEventListener('hashchange', followHash);
  followHash();

  // Snapshots load from each view's onResync, i.e. once the event stream is open.
  live.start();
}
