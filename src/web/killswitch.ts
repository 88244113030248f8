/** Admin top-bar controls: pause, resume and kill, each behind a confirmation dialog. */
import { api } from './api.js';
import { h } from './dom.js';
import type { Shell } from './shell.js';
import { confirmDialog, notice, showError } from './ui.js';
import type { SwitchState } from './types.js';

export class KillswitchControls {
  private readonly pause: HTMLButtonElement;
  private readonly resume: HTMLButtonElement;
  private readonly kill: HTMLButtonElement;

  constructor(private readonly shell: Shell) {
    this.pause = h('button', { type: 'button', class: 'btn btn-small', id: 'btn-pause' }, 'Pause');
    this.resume = h('button', { type: 'button', class: 'btn btn-small', id: 'btn-resume' }, 'Resume');
    this.kill = h('button', { type: 'button', class: 'btn btn-small btn-danger', id: 'btn-kill' }, 'Kill');
    this.pause.addEventListener(
      'click',
      () =>
        void this.act('pause', {
          title: 'Pause dispatch?',
          body: 'Running tasks finish; no new task starts (here or on remote workers) until you resume.',
          confirm: 'Pause',
        }),
    );
    this.resume.addEventListener(
      'click',
      () => void this.act('resume', { title: 'Resume dispatch?', body: 'Ready tasks start again on free workers.', confirm: 'Resume' }),
    );
    this.kill.addEventListener(
      'click',
      () =>
        void this.act('kill', {
          title: 'Kill everything now?',
          body: 'Every running task is cancelled (SIGINT, then SIGKILL after the grace period; remote workers are told to stop) and nothing is dispatched until you resume. The host stays halted across restarts.',
          confirm: 'Kill all tasks',
          danger: true,
        }),
    );
    shell.header.append(h('div', { class: 'ks-controls', role: 'group', 'aria-label': 'Kill switch' }, this.pause, this.resume, this.kill));
    shell.live.on('killswitch', () => this.sync());
    shell.onStatus(() => this.sync());
    this.sync();
  }

  private sync(): void {
    const st: SwitchState = this.shell.killswitch();
    this.pause.disabled = st !== 'running';
    this.resume.disabled = st === 'running';
    this.kill.disabled = st === 'halted';
  }

  private async act(action: 'pause' | 'resume' | 'kill', dialog: { title: string; body: string; confirm: string; danger?: boolean }): Promise<void> {
    if (!(await confirmDialog(dialog))) return;
    try {
      const r = await api.post<{ state: SwitchState }>(`/admin/${action}`);
      notice('success', `Kill switch: ${r.state}`);
      await this.shell.refreshStatus();
    } catch (e) {
      showError(e, action);
    }
  }
}
