/** Renders a unified diff (git format) as per-file blocks with added/removed lines coloured. */
import { h } from './dom.js';

const MAX_LINES = 4000;

export function renderDiff(patch: string): HTMLElement {
  const root = h('div', { class: 'diff' });
  let file: HTMLElement | null = null;
  let body: HTMLElement | null = null;
  const lines = patch.split('\n');
  const shown = lines.slice(0, MAX_LINES);
  for (const line of shown) {
    if (line.startsWith('diff --git ')) {
      const m = /^diff --git a\/(.+?) b\/(.+)$/.exec(line);
      body = h('div', { class: 'diff-body' });
      file = h('div', { class: 'diff-file' }, h('div', { class: 'diff-file-head mono' }, m ? (m[1] === m[2] ? m[2] : `${m[1]} → ${m[2]}`) : line), body);
      root.append(file);
      continue;
    }
    if (!body) {
      body = h('div', { class: 'diff-body' });
      root.append(h('div', { class: 'diff-file' }, body));
    }
    if (/^(index |--- |\+\+\+ |new file mode|deleted file mode|similarity index|rename (from|to) |old mode|new mode|GIT binary patch)/.test(line)) {
      body.append(h('div', { class: 'diff-line diff-meta' }, line));
    } else if (line.startsWith('@@')) {
      body.append(h('div', { class: 'diff-line diff-hunk' }, line));
    } else if (line.startsWith('+')) {
      body.append(h('div', { class: 'diff-line diff-add' }, h('span', { class: 'sr-only' }, 'added: '), line));
    } else if (line.startsWith('-')) {
      body.append(h('div', { class: 'diff-line diff-del' }, h('span', { class: 'sr-only' }, 'removed: '), line));
    } else {
      body.append(h('div', { class: 'diff-line' }, line || ' '));
    }
  }
  if (lines.length > MAX_LINES) root.append(h('p', { class: 'muted' }, `… ${lines.length - MAX_LINES} more lines not shown`));
  if (!patch.trim()) root.append(h('p', { class: 'muted' }, 'Empty diff.'));
  return root;
}
