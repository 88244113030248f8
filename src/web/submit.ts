/**
 * Admin submit: one task, or a whole graph as JSON (typed, pasted or read
 * from a file). JSON is parsed in the browser; YAML files are refused here
 * with a pointer to `colony submit`, which reads YAML (the browser bundle
 * stays free of a YAML parser).
 */
import { api, ApiError } from './api.js';
import { h } from './dom.js';
import { busy, errorBox, field, notice, section } from './ui.js';

interface SubmitResult {
  graph_id: string;
  task_ids: string[];
}

const ENGINES = ['auto', 'claude', 'groq', 'exec', 'ollama'];
const MODELS = ['haiku', 'sonnet', 'opus', 'llama-3.1-8b-instant', 'llama-3.3-70b-versatile'];

const EXAMPLE = {
  name: 'example',
  tasks: [
    { id: 'build', engine: 'exec', prompt: "echo 'building' && sleep 1" },
    { id: 'lint', engine: 'exec', prompt: "echo 'linting'", depends_on: ['build'] },
    { id: 'test', engine: 'exec', prompt: "echo 'testing' && sleep 1 && echo '12 passed'", depends_on: ['build'] },
  ],
};

export class SubmitView {
  readonly el: HTMLElement;

  constructor(private readonly openTask: (id: string) => void) {
    this.el = h('div', { class: 'two-col' }, this.taskForm(), this.graphForm());
  }

  private taskForm(): HTMLElement {
    const title = h('input', { name: 'title', maxlength: '200', placeholder: 'optional: first line of the prompt' });
    const prompt = h('textarea', {
      name: 'prompt',
      required: true,
      rows: '5',
      placeholder: 'What should the agent do? For the exec engine: the shell command.',
    });
    const engine = h('select', { name: 'engine' }, ...ENGINES.map((e) => h('option', { value: e }, e)));
    const model = h('input', { name: 'model', list: 'model-list', placeholder: 'router decides', maxlength: '100' });
    const budget = h('input', { name: 'budget_usd', type: 'number', min: '0', step: '0.01', inputmode: 'decimal', placeholder: 'config default' });
    const deps = h('input', { name: 'depends_on', placeholder: 'task ids, comma-separated' });
    const workspace = h('input', { name: 'workspace', placeholder: "the host's working directory" });
    const err = errorBox();
    const button = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Submit task');
    const form = h(
      'form',
      { class: 'form', id: 'submit-task-form', 'aria-describedby': 'submit-task-help' },
      h('datalist', { id: 'model-list' }, ...MODELS.map((m) => h('option', { value: m }))),
      field('Prompt', prompt),
      h('div', { class: 'form-row' }, field('Engine', engine), field('Model', model)),
      h('div', { class: 'form-row' }, field('Budget (USD)', budget), field('Title', title)),
      field('Depends on', deps),
      field('Workspace', workspace),
      err,
      h('div', { class: 'form-actions' }, button),
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void busy(
        button,
        async () => {
          const body: Record<string, unknown> = { prompt: prompt.value, engine: engine.value };
          if (title.value.trim()) body['title'] = title.value.trim();
          if (model.value.trim()) body['model'] = model.value.trim();
          if (budget.value !== '') body['budget_usd'] = Number(budget.value);
          const d = deps.value
            .split(',')
            .map((x) => x.trim())
            .filter(Boolean);
          if (d.length) body['depends_on'] = d;
          if (workspace.value.trim()) body['workspace'] = workspace.value.trim();
          const r = await api.post<SubmitResult>('/admin/execute', body);
          prompt.value = '';
          this.submitted(r);
        },
        err,
      );
    });
    return section(
      'Submit a task',
      { description: 'Runs on the host. The router picks engine and model unless you choose them.' },
      h('p', { id: 'submit-task-help', class: 'sr-only' }, 'Only the prompt is required.'),
      form,
    );
  }

  private graphForm(): HTMLElement {
    const file = h('input', { type: 'file', accept: '.json,application/json,.yaml,.yml' });
    const text = h('textarea', {
      name: 'graph',
      rows: '12',
      class: 'mono',
      spellcheck: 'false',
      placeholder: '{ "name": "release", "tasks": [ { "id": "build", "engine": "exec", "prompt": "npm run build" } ] }',
    });
    const err = errorBox();
    const button = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Submit graph');
    const example = h('button', { type: 'button', class: 'btn' }, 'Insert example');
    example.addEventListener('click', () => {
      text.value = JSON.stringify(EXAMPLE, null, 2);
      text.focus();
    });
    file.addEventListener('change', () => {
      const f = file.files?.[0];
      if (!f) return;
      if (/\.ya?ml$/i.test(f.name)) {
        err.hidden = false;
        err.textContent = `${f.name} is YAML: the browser accepts JSON graphs only. Submit YAML from a terminal with  colony submit ${f.name}`;
        file.value = '';
        return;
      }
      void f.text().then((t) => {
        text.value = t;
        err.hidden = true;
      });
    });
    const form = h(
      'form',
      { class: 'form', id: 'submit-graph-form' },
      field('Graph file (JSON)', file, 'Or paste the JSON below. YAML: use `colony submit file.yaml`.'),
      field('Graph JSON', text),
      err,
      h('div', { class: 'form-actions' }, example, button),
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void busy(
        button,
        async () => {
          let graph: unknown;
          try {
            graph = JSON.parse(text.value);
          } catch (e) {
            throw new ApiError(0, 'E_BAD_JSON', `the graph is not valid JSON: ${(e as Error).message}`);
          }
          const r = await api.post<SubmitResult>('/admin/execute', { graph });
          this.submitted(r);
        },
        err,
      );
    });
    return section(
      'Submit a graph',
      { description: 'Tasks with depends_on edges; ids are local to the graph. Every field but id and prompt has a default.' },
      form,
    );
  }

  private submitted(r: SubmitResult): void {
    notice('success', `Submitted ${r.task_ids.length} task${r.task_ids.length === 1 ? '' : 's'} as run ${r.graph_id}`);
    location.hash = 'overview';
    const first = r.task_ids[0];
    if (r.task_ids.length === 1 && first) this.openTask(first);
  }
}
