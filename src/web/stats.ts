/** The overview's headline numbers, from /api/status and kept current by task.state and worker events. */
import { debounce, h, put, str } from './dom.js';
import type { Shell } from './shell.js';

const GROUPS: { label: string; states: string[]; cls: string }[] = [
  { label: 'Running', states: ['assigned', 'running'], cls: 'state-running' },
  { label: 'Queued', states: ['waiting', 'ready', 'paused'], cls: 'state-ready' },
  { label: 'Awaiting approval', states: ['awaiting_approval'], cls: 'state-awaiting_approval' },
  { label: 'Succeeded', states: ['succeeded'], cls: 'state-succeeded' },
  // Counted as the graph counts them: a task that failed is not the same as one skipped because an upstream task failed.
  { label: 'Failed', states: ['failed', 'timed_out'], cls: 'state-failed' },
  { label: 'Upstream failed', states: ['upstream_failed'], cls: 'state-upstream_failed' },
  { label: 'Cancelled / skipped', states: ['cancelled', 'skipped'], cls: 'state-cancelled' },
];

export class StatsRow {
  readonly el: HTMLElement;
  private counts: Record<string, number> = {};

  constructor(shell: Shell) {
    this.el = h('div', { class: 'stats', 'aria-label': 'Task counts' });
    shell.onStatus((s) => {
      this.counts = { ...s.tasks };
      this.render();
    });
    // Between snapshots the counts follow the events. New tasks are born without a
    // transition event (as `waiting`, or `awaiting_approval` for LAN host tasks),
    // so a snapshot is also taken once a burst of events settles, and at least
    // every few seconds while events keep coming: event-driven, never a timer on its own.
    let lastSnapshot = Date.now();
    const quiet = debounce(() => snapshot(), 800);
    const snapshot = (): void => {
      lastSnapshot = Date.now();
      void shell.refreshStatus();
    };
    const settle = (): void => {
      if (Date.now() - lastSnapshot > 3000) snapshot();
      else quiet();
    };
    shell.live.on('graph.submitted', (e) => {
      const n = Array.isArray(e.data['tasks']) ? e.data['tasks'].length : 0;
      this.counts['waiting'] = (this.counts['waiting'] ?? 0) + n;
      this.render();
      settle();
    });
    shell.live.on('task.state', (e) => {
      settle();
      const from = str(e.data['from']);
      const to = str(e.data['to']);
      if (from) this.counts[from] = Math.max(0, (this.counts[from] ?? 0) - 1);
      if (to) this.counts[to] = (this.counts[to] ?? 0) + 1;
      this.render();
    });
    this.render();
  }

  private render(): void {
    put(
      this.el,
      GROUPS.map((g) => {
        const n = g.states.reduce((s, st) => s + (this.counts[st] ?? 0), 0);
        return h(
          'div',
          { class: `stat ${g.cls}`, 'data-stat': g.label },
          h('span', { class: 'stat-label' }, h('span', { class: 'swatch', 'aria-hidden': 'true' }), g.label),
          h('span', { class: 'stat-value' }, String(n)),
        );
      }),
    );
  }
}
