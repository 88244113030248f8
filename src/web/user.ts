/**
 * The LAN user app (loaded only when the server says the page is the user
 * app; it holds no admin control): session bootstrap (display name), submit,
 * my tasks with live output, my workers and pairing, and everyone's activity
 * as the server redacts it for this viewer.
 */
import { api, ApiError } from './api.js';
import { h } from './dom.js';
import { ActivityFeed } from './activity.js';
import { MyTasksView } from './mytasks.js';
import { MyBudgetView } from './my-budget.js';
import { PairingView } from './pairing.js';
import type { Shell } from './shell.js';
import { TaskDrawer } from './taskdetail.js';
import { busy, emptyState, errorBox, field, mountTabs, notice, section, showError } from './ui.js';
import type { SessionView, TaskDetail, WorkerCard } from './types.js';
import { WorkerBoard } from './workers.js';
import { UserSubmit } from './user-submit.js';
import { StatsRow } from './stats.js';
import { NotificationToggle } from './notifications.js';

export function mountUser(shell: Shell): void {
  void (async () => {
    const session = await currentSession();
    if (session) start(shell, session);
    else welcome(shell, (s) => start(shell, s));
  })();
}

async function currentSession(): Promise<SessionView | null> {
  try {
    return (await api.get<{ session: SessionView | null }>('/api/session')).session; // null: no session yet (a 200, no console error)
  } catch (e) {
    if (e instanceof ApiError && e.code === 'E_UNAUTHORIZED') return null;
    showError(e, 'session');
    return null;
  }
}

/** First visit: pick a display name (and the access code, if the host asks for one). */
function welcome(shell: Shell, done: (s: SessionView) => void): void {
  const name = h('input', { id: 'display-name', name: 'display_name', required: true, maxlength: '60', autocomplete: 'nickname', placeholder: 'e.g. Ada' });
  const code = h('input', { name: 'code', autocomplete: 'off', autocapitalize: 'characters' });
  const codeField = field('Access code', code, 'Ask the person running colony.');
  codeField.hidden = true;
  const err = errorBox();
  const button = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Continue');
  const form = h(
    'form',
    { class: 'form', id: 'session-form' },
    field('Your display name', name, 'Shown to the host’s admin and next to the workers you pair.'),
    codeField,
    err,
    h('div', { class: 'form-actions' }, button),
  );
  const card = h(
    'div',
    { class: 'welcome' },
    section(
      'Welcome to colony',
      { description: 'Watch the swarm, submit tasks and run them on your own machine. Your task text and output stay private to you and the host’s admin.' },
      form,
    ),
  );
  shell.main.append(card);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void busy(
      button,
      async () => {
        try {
          const body: Record<string, string> = { display_name: name.value.trim() };
          if (!codeField.hidden && code.value.trim()) body['code'] = code.value.trim();
          const r = await api.post<{ session: SessionView }>('/api/session', body);
          card.remove();
          done(r.session);
        } catch (e) {
          if (e instanceof ApiError && e.code === 'E_ACCESS_CODE') {
            codeField.hidden = false;
            code.focus();
          }
          throw e;
        }
      },
      err,
    );
  });
  name.focus();
}

function start(shell: Shell, session: SessionView): void {
  const { live } = shell;
  const me = h('span', { class: 'me' }, 'Signed in as ', h('strong', { id: 'my-name' }, session.display_name));
  const rename = h('button', { type: 'button', class: 'btn btn-small' }, 'Rename');
  rename.addEventListener('click', () => void renameSelf(me));
  shell.header.append(h('div', { class: 'me-wrap' }, me, rename));

  const drawer = new TaskDrawer(live, { load: (id) => api.get<TaskDetail>(`/api/tasks/${encodeURIComponent(id)}`) });
  document.body.append(drawer.el);
  const openTask = (id: string): void => drawer.open(id);
  shell.header.append(new NotificationToggle({ live, owner: `session:${session.user_id}`, openTask }).el); // own tasks only

  const myTasks = new MyTasksView(live, openTask);
  const submit = new UserSubmit(() => void myTasks.refresh());
  const myBudget = new MyBudgetView(live);
  void myBudget.refresh();
  const workers = new WorkerBoard({
    live,
    load: async () => (await api.get<{ workers: WorkerCard[] }>('/api/workers')).workers,
    empty: () =>
      emptyState(
        'No workers yet — here is how to connect one',
        h(
          'p',
          {},
          'Pair your own machine from the ',
          h('a', { href: '#my-workers' }, 'My workers'),
          ' tab: it gives you a one-time code and the command to run.',
        ),
      ),
    onTaskClick: openTask,
  });
  const activity = new ActivityFeed(live, (id) => myTasks.titleOf(id));
  myTasks.onRendered = () => activity.resolveTitles();
  const pairing = new PairingView(live, `session:${session.user_id}`, (list) => submit.setWorkers(list));

  const stats = new StatsRow(shell);
  const overview = h(
    'div',
    {},
    stats.el,
    section(
      'Workers',
      { id: 'workers', actions: [workers.summary], description: 'Every worker of this colony. Tasks of other people are hidden.' },
      workers.el,
    ),
    section('Activity', { id: 'activity', description: 'What is happening on this colony, live. Other people’s tasks show their state only.' }, activity.el),
  );
  // A refused stream usually means the admin revoked this session: say so instead of retrying forever.
  live.refused = async () => {
    try {
      if ((await api.get<{ session: SessionView | null }>('/api/session')).session) return true;
      showError(new Error('your session ended: reload the page to start a new one'), 'live updates stopped');
      return false;
    } catch (e) {
      showError(e, 'live updates stopped');
      return !(e instanceof ApiError && (e.code === 'E_FORBIDDEN' || e.code === 'E_UNAUTHORIZED'));
    }
  };
  mountTabs(shell.nav, shell.main, [
    { id: 'my-tasks', label: 'My tasks', panel: h('div', { class: 'two-col wide-right' }, h('div', { class: 'stack' }, submit.el, myBudget.el), myTasks.el) },
    { id: 'overview', label: 'Colony', panel: overview },
    { id: 'my-workers', label: 'My workers', panel: pairing.el },
  ]);
  live.start();
}

async function renameSelf(me: HTMLElement): Promise<void> {
  const current = me.querySelector('strong')?.textContent ?? '';
  const name = window.prompt('Your display name', current)?.trim();
  if (!name || name === current) return;
  try {
    const r = await api.patch<{ session: SessionView }>('/api/session', { display_name: name });
    const strong = me.querySelector('strong');
    if (strong) strong.textContent = r.session.display_name;
    notice('success', `You are now ${r.session.display_name}`);
  } catch (e) {
    showError(e, 'rename');
  }
}
