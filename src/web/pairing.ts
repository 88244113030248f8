/**
 * My workers: pair a machine (one-time code + the exact command to run,
 * with a copy button and an expiry countdown) and the machines I paired.
 */
import { api, isMissingEndpoint } from './api.js';
import { h, put } from './dom.js';
import type { Live } from './live.js';
import { busy, copyText, emptyState, errorBox, notice, section } from './ui.js';
import type { WorkerCard } from './types.js';
import { WorkerBoard } from './workers.js';

interface PairingCode {
  code: string;
  expires_at: number;
  command: string;
  /** For a machine with only Node.js: downloads the worker from this host and checks its sha256 (null if the host has no bundle). */
  node_command?: string | null;
  host_fingerprint?: string;
}

export class PairingView {
  readonly el: HTMLElement;
  private readonly codeBox: HTMLElement;
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly board: WorkerBoard;
  private mine = new Set<string>();
  /** My workers when the shown code was made: a new one means the command worked. */
  private before: Set<string> | null = null;
  private shown: WorkerCard[] = [];

  /** `owner`: my submitter id (`session:<user_id>`); `onWorkers`: my workers after every change (the submit form's engines). */
  constructor(live: Live, owner: string, onWorkers?: (list: WorkerCard[]) => void) {
    this.codeBox = h('div', { class: 'pairing-code', 'aria-live': 'polite' });
    const err = errorBox();
    const get = h('button', { type: 'button', class: 'btn btn-primary', id: 'get-pairing-code' }, 'Get a pairing code');
    get.addEventListener('click', () => void busy(get, () => this.newCode(), err));
    this.board = new WorkerBoard({
      live,
      load: async () => {
        try {
          const list = (await api.get<{ workers: WorkerCard[] }>('/api/my-workers')).workers;
          this.mine = new Set(list.map((w) => w.id));
          return list;
        } catch (e) {
          if (isMissingEndpoint(e)) return [];
          throw e;
        }
      },
      // A worker paired after this tab loaded is mine when its (unredacted) owner is me: it appears live, no reload.
      accept: (w, known) => known || (w.kind === 'remote' && !w.redacted && (this.mine.has(w.id) || w.owner === owner)),
      onChange: (list) => {
        this.shown = list;
        this.pairedNow(list);
        onWorkers?.(list);
      },
      revoke: async (w) => void (await api.post(`/api/my-workers/${encodeURIComponent(w.id)}/revoke`)),
      empty: () =>
        emptyState(
          'No workers yet — here is how to connect one',
          h(
            'ol',
            { class: 'steps' },
            h('li', {}, 'Press “Get a pairing code” above.'),
            h(
              'li',
              {},
              'Paste the command it shows in a terminal on the machine that should run your tasks (see what it needs above): it downloads colony’s worker from this host, refuses it unless its fingerprint matches, and pairs with the one-time code (nothing to compare by hand).',
            ),
            h(
              'li',
              {},
              'Your machine appears here within seconds, with the engines it can run. Then submit a task from “My tasks”. Keep the terminal open while tasks run.',
            ),
          ),
        ),
    });
    live.onResync(() => void this.board.refresh());
    this.el = h(
      'div',
      {},
      section(
        'Pair a machine',
        {
          id: 'pairing',
          description:
            'Your tasks run on your own machine: it verifies every task the host signs, stays inside its workspace root and stops at its own budget cap.',
        },
        machineNeeds(),
        h('div', { class: 'form-actions left' }, get),
        err,
        this.codeBox,
      ),
      section('My workers', { id: 'my-workers-list', actions: [this.board.summary] }, this.board.el),
    );
  }

  /** The command on screen has done its job: say so in its place (the code cannot be used twice). */
  private pairedNow(list: WorkerCard[]): void {
    const fresh = this.before ? list.find((w) => !this.before?.has(w.id) && w.connected !== false) : undefined;
    if (!fresh) return;
    this.before = null;
    if (this.timer) clearInterval(this.timer);
    put(
      this.codeBox,
      h(
        'p',
        { class: 'pairing-done', id: 'pairing-done' },
        h('strong', {}, `Paired: ${fresh.name ?? fresh.id} is connected`),
        ` with ${fresh.engines?.join(', ') || 'its engines'}. Submit a task from `,
        h('a', { href: '#my-tasks' }, 'My tasks'),
        '; keep its terminal open while tasks run.',
      ),
    );
  }

  private async newCode(): Promise<void> {
    let r: PairingCode;
    try {
      r = await api.post<PairingCode>('/api/pairing-codes');
    } catch (e) {
      if (isMissingEndpoint(e)) {
        put(this.codeBox, emptyState('Pairing is not available on this host yet', 'Ask the host’s admin to update colony.'));
        return;
      }
      throw e;
    }
    const main = r.node_command ?? r.command;
    const left = h('span', { class: 'muted small' });
    put(
      this.codeBox,
      h('p', {}, 'Code ', h('strong', { class: 'code mono', id: 'pairing-code' }, r.code), ' ', left),
      h(
        'p',
        { class: 'small' },
        r.node_command
          ? 'Paste this in a terminal on the machine to pair (Node.js 20 or later; on Linux, bubblewrap too):'
          : 'Run this on the machine to pair (it needs colony installed):',
      ),
      commandRow(main, 'pairing-command'),
      h(
        'p',
        { class: 'small muted' },
        'It prints “paired” and then “connected”; this page then shows your machine below. The host is authenticated by the one-time code, so there is no key to compare.',
      ),
      r.host_fingerprint
        ? h(
            'p',
            { class: 'small muted' },
            'Host key (the worker prints it as pinned): ',
            h('code', { class: 'mono', id: 'pairing-host-key' }, r.host_fingerprint),
          )
        : null,
      r.node_command
        ? h('details', { class: 'small' }, h('summary', {}, 'colony already installed there?'), commandRow(r.command, 'pairing-command-colony'))
        : null,
    );
    if (this.timer) clearInterval(this.timer);
    this.before = new Set(this.shown.map((w) => w.id));
    const tick = (): void => {
      const s = Math.round((r.expires_at - Date.now()) / 1000);
      left.textContent = s > 0 ? `· expires in ${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}` : '· expired: get a new code';
      if (s <= 0 && this.timer) clearInterval(this.timer);
    };
    tick();
    this.timer = setInterval(tick, 1000);
  }
}

/**
 * What the visitor's machine needs, as the worker checks it: Node.js 20 for the pasted command, and the OS sandbox
 * every task runs in (safety/os-sandbox/probe.ts): bubblewrap on Linux, the built-in sandbox-exec on macOS, none on Windows.
 */
function machineNeeds(): HTMLElement {
  const cmd = (text: string): HTMLElement => h('code', { class: 'mono' }, text);
  return h(
    'div',
    { class: 'machine-needs small', id: 'machine-needs' },
    h('p', {}, h('strong', {}, 'What the machine needs')),
    h(
      'ul',
      {},
      h('li', {}, 'Node.js 20 or later.'),
      h(
        'li',
        {},
        'Linux: bubblewrap, the sandbox every task runs in — ',
        cmd('sudo apt-get install bubblewrap'),
        ' (Debian, Ubuntu) or ',
        cmd('sudo dnf install bubblewrap'),
        ' (Fedora). Without it the worker does not start and says so.',
      ),
      h(
        'li',
        {},
        'macOS: nothing more; tasks run in the built-in sandbox-exec, which isolates less than bubblewrap (no separate process or network namespace).',
      ),
      h('li', {}, 'Windows: not supported; there is no OS sandbox for it, so the worker does not start.'),
    ),
  );
}

function commandRow(text: string, id: string): HTMLElement {
  const cmd = h('pre', { class: 'cmd', id, tabindex: '0' }, text);
  const copy = h('button', { type: 'button', class: 'btn btn-small' }, 'Copy command');
  copy.addEventListener(
    'click',
    () => void copyText(text, cmd).then((ok) => notice(ok ? 'success' : 'info', ok ? 'Command copied' : 'Command selected: press Ctrl+C to copy')),
  );
  return h('div', { class: 'cmd-row' }, cmd, copy);
}
