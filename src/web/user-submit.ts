/** The LAN submit form: a task for my own paired worker, or for the host (after the admin approves it). */
import { api } from './api.js';
import { h } from './dom.js';
import { busy, errorBox, field, notice, section } from './ui.js';

const ENGINES = ['auto', 'claude', 'groq', 'exec', 'ollama'];

export class UserSubmit {
  readonly el: HTMLElement;

  constructor(onSubmitted: (id: string) => void) {
    const prompt = h('textarea', {
      name: 'prompt',
      required: true,
      rows: '5',
      id: 'user-prompt',
      placeholder: 'What should the agent do? For the exec engine: the shell command.',
    });
    const engine = h('select', { name: 'engine' }, ...ENGINES.map((e) => h('option', { value: e }, e)));
    const model = h('input', { name: 'model', placeholder: 'router decides', maxlength: '100' });
    const budget = h('input', { name: 'budget_usd', type: 'number', min: '0', step: '0.01', inputmode: 'decimal', placeholder: 'default' });
    const target = h(
      'select',
      { name: 'target' },
      h('option', { value: 'own-worker' }, 'My own worker (paired machine)'),
      h('option', { value: 'host' }, 'The host (needs the admin’s approval)'),
    );
    const err = errorBox();
    const button = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Submit task');
    const form = h(
      'form',
      { class: 'form', id: 'user-submit-form' },
      field('Prompt', prompt),
      field('Run on', target),
      h('div', { class: 'form-row' }, field('Engine', engine), field('Model', model)),
      field('Budget (USD)', budget),
      err,
      h('div', { class: 'form-actions' }, button),
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void busy(
        button,
        async () => {
          const body: Record<string, unknown> = { prompt: prompt.value, engine: engine.value, target: target.value };
          if (model.value.trim()) body['model'] = model.value.trim();
          if (budget.value !== '') body['budget_usd'] = Number(budget.value);
          const r = await api.post<{ id?: string; task_ids: string[] }>('/api/submit-task', body);
          prompt.value = '';
          const id = r.id ?? r.task_ids[0] ?? '';
          notice('success', target.value === 'host' ? 'Submitted: waiting for the admin’s approval' : 'Submitted: it runs when your worker is connected');
          onSubmitted(id);
        },
        err,
      );
    });
    this.el = section('Submit a task', { description: 'Your tasks never run on the host without the admin’s approval.' }, form);
  }
}
