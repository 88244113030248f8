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
}

export class PairingView {
  readonly el: HTMLElement;
  private readonly codeBox: HTMLElement;
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly board: WorkerBoard;
  private mine = new Set<string>();

  constructor(live: Live) {
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
      accept: (w, known) => known || (w.kind === 'remote' && !w.redacted && this.mine.has(w.id)),
      revoke: async (w) => void (await api.post(`/api/my-workers/${encodeURIComponent(w.id)}/revoke`)),
      empty: () =>
        emptyState(
          'No workers yet — here is how to connect one',
          h(
            'ol',
            { class: 'steps' },
            h('li', {}, 'Install colony on the machine that should run your tasks.'),
            h('li', {}, 'Press “Get a pairing code” above.'),
            h('li', {}, 'Run the command it shows on that machine. It appears here once connected.'),
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
        h('div', { class: 'form-actions left' }, get),
        err,
        this.codeBox,
      ),
      section('My workers', { id: 'my-workers-list', actions: [this.board.summary] }, this.board.el),
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
    const cmd = h('pre', { class: 'cmd', id: 'pairing-command', tabindex: '0' }, r.command);
    const copy = h('button', { type: 'button', class: 'btn btn-small' }, 'Copy command');
    copy.addEventListener(
      'click',
      () => void copyText(r.command, cmd).then((ok) => notice(ok ? 'success' : 'info', ok ? 'Command copied' : 'Command selected: press Ctrl+C to copy')),
    );
    const left = h('span', { class: 'muted small' });
    put(
      this.codeBox,
      h('p', {}, 'Code ', h('strong', { class: 'code mono', id: 'pairing-code' }, r.code), ' ', left),
      h('p', { class: 'small' }, 'Run this on the machine to pair:'),
      h('div', { class: 'cmd-row' }, cmd, copy),
    );
    if (this.timer) clearInterval(this.timer);
    const tick = (): void => {
      const s = Math.round((r.expires_at - Date.now()) / 1000);
      left.textContent = s > 0 ? `· expires in ${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}` : '· expired: get a new code';
      if (s <= 0 && this.timer) clearInterval(this.timer);
    };
    tick();
    this.timer = setInterval(tick, 1000);
  }
}
