/**
 * The LAN submit form: a task for my own paired workers (any of them, or, when
 * I have several, one I pick by name), or for the host (after the admin
 * approves it). For my own worker it offers the engines my machines (or the
 * one picked) reported when they connected and defaults to one that will run
 * there; with no machine paired it says so first and points to the pairing steps.
 */
import { api } from './api.js';
import { h, put } from './dom.js';
import { busy, errorBox, field, notice, section } from './ui.js';
import type { WorkerCard } from './types.js';

const ALL_ENGINES = ['auto', 'claude', 'groq', 'exec', 'ollama'];
const EXEC_PLACEHOLDER = 'The shell command to run on the machine, e.g. uname -a && ls';
const AGENT_PLACEHOLDER = 'What should the agent do?';

export class UserSubmit {
  readonly el: HTMLElement;
  private readonly prompt: HTMLTextAreaElement;
  private readonly engine: HTMLSelectElement;
  private readonly target: HTMLSelectElement;
  private readonly pairNote: HTMLElement;
  /** My workers as last reported; null until the first load. */
  private workers: WorkerCard[] | null = null;
  private offered = '';
  /** The worker options last rendered (ids and labels), to rebuild the list only when it changed. */
  private targets = '';
  /** The visitor picked an engine themselves: keep it while it is offered. */
  private chosen = false;

  constructor(onSubmitted: (id: string) => void) {
    this.prompt = h('textarea', { name: 'prompt', required: true, rows: '5', id: 'user-prompt', placeholder: EXEC_PLACEHOLDER });
    this.engine = h('select', { name: 'engine' });
    const model = h('input', { name: 'model', placeholder: 'router decides', maxlength: '100' });
    const budget = h('input', { name: 'budget_usd', type: 'number', min: '0', step: '0.01', inputmode: 'decimal', placeholder: 'default' });
    this.target = h('select', { name: 'target' });
    this.renderTargets();
    this.pairNote = h('div', { id: 'pair-first', 'aria-live': 'polite' });
    const err = errorBox();
    const button = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Submit task');
    const form = h(
      'form',
      { class: 'form', id: 'user-submit-form' },
      this.pairNote,
      field('Prompt', this.prompt),
      field('Run on', this.target),
      h('div', { class: 'form-row' }, field('Engine', this.engine), field('Model', model)),
      field('Budget (USD)', budget),
      err,
      h('div', { class: 'form-actions' }, button),
    );
    this.target.addEventListener('change', () => this.update());
    this.engine.addEventListener('change', () => {
      this.chosen = true;
      this.placeholder();
    });
    this.update();
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void busy(
        button,
        async () => {
          const body: Record<string, unknown> = { prompt: this.prompt.value, engine: this.engine.value, target: this.target.value };
          if (model.value.trim()) body['model'] = model.value.trim();
          if (budget.value !== '') body['budget_usd'] = Number(budget.value);
          const r = await api.post<{ id?: string; task_ids: string[] }>('/api/submit-task', body);
          this.prompt.value = '';
          const id = r.id ?? r.task_ids[0] ?? '';
          const picked = (this.workers ?? []).filter((w) => this.target.value === 'own-worker' || w.id === this.target.value);
          const online = picked.some((w) => w.connected);
          notice(
            'success',
            this.target.value === 'host'
              ? 'Submitted: waiting for the admin’s approval'
              : online
                ? 'Submitted: your machine runs it now'
                : 'Submitted: it runs when your machine connects',
          );
          onSubmitted(id);
        },
        err,
      );
    });
    this.el = section('Submit a task', { description: 'Your tasks never run on the host without the admin’s approval.' }, form);
  }

  /** My workers changed (the My workers board loaded or a live event arrived). */
  setWorkers(list: WorkerCard[]): void {
    this.workers = list.filter((w) => w.kind === 'remote' && w.revoked !== true);
    this.renderTargets();
    this.update();
  }

  /** Any of my workers, each of them by name when I have several (the server refuses a worker that is not mine), or the host. */
  private renderTargets(): void {
    const mine = this.workers ?? [];
    const each = mine.length > 1 ? mine.map((w) => ({ value: w.id, label: `Only ${w.name ?? w.id}${w.connected ? '' : ' (offline)'}` })) : [];
    const key = JSON.stringify(each);
    if (key === this.targets && this.target.options.length > 0) return;
    this.targets = key;
    const previous = this.target.value || 'own-worker';
    put(
      this.target,
      h('option', { value: 'own-worker' }, mine.length > 1 ? 'Any of my workers (paired machines)' : 'My own worker (paired machine)'),
      each.length ? h('optgroup', { label: 'One of my workers' }, ...each.map((o) => h('option', { value: o.value }, o.label))) : null,
      h('option', { value: 'host' }, 'The host (needs the admin’s approval)'),
    );
    this.target.value = [...this.target.options].some((o) => o.value === previous) ? previous : 'own-worker';
  }

  private update(): void {
    const picked = (this.workers ?? []).find((w) => w.id === this.target.value);
    const own = this.target.value === 'own-worker' || picked !== undefined;
    const mine = picked ? [picked] : (this.workers ?? []);
    put(
      this.pairNote,
      own && this.workers !== null && mine.length === 0
        ? h(
            'div',
            { class: 'empty pair-first' },
            h('p', { class: 'empty-title' }, 'First, pair your machine'),
            h(
              'p',
              { class: 'empty-body' },
              'Tasks for “My own worker” run on a machine you paired, and none is paired yet. It takes one pasted command (Node.js 20; on Linux, bubblewrap too): ',
              h('a', { href: '#my-workers' }, 'pair a machine in My workers'),
              '.',
            ),
          )
        : null,
    );
    // The engines my connected machines have (or, if none is connected, any of my machines); all of them for the host.
    const live = mine.filter((w) => w.connected);
    const reported = [...new Set((live.length ? live : mine).flatMap((w) => w.engines ?? []))];
    const engines = own && reported.length ? (reported.some((e) => e !== 'exec') ? ['auto', ...reported] : reported) : ALL_ENGINES;
    const key = engines.join(',');
    if (key !== this.offered) {
      const previous = this.engine.value;
      this.offered = key;
      put(this.engine, ...engines.map((e) => h('option', { value: e }, e)));
      // Keep the visitor's choice when it is still offered; else one that will run: an agent the machine has, else exec.
      const preferred = own ? (reported.find((e) => e !== 'exec') ?? 'exec') : 'auto';
      this.engine.value = this.chosen && engines.includes(previous) ? previous : preferred;
    }
    this.placeholder();
  }

  private placeholder(): void {
    this.prompt.placeholder = this.engine.value === 'exec' ? EXEC_PLACEHOLDER : AGENT_PLACEHOLDER;
  }
}
