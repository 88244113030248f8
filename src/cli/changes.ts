/** `colony changes`: pending changes of host-run tasks — list, approve (merge), reject, request changes (the agent continues). */
import type { Command } from 'commander';
import { connectAdmin } from './client.js';

const HOME = ['--home <dir>', 'colony home (default $COLONY_HOME or ./.colony)'] as const;

interface ChangeView {
  task_id: string;
  status: string;
  branch: string;
  target_branch: string;
  head_commit: string;
  stat: { files_changed: number; insertions: number; deletions: number };
}

const line = (c: ChangeView): string =>
  `${c.task_id}  ${c.status}  ${c.branch} → ${c.target_branch}  ${c.stat.files_changed} file(s) +${c.stat.insertions} −${c.stat.deletions}  ${c.head_commit.slice(0, 12)}`;

function out(v: unknown, json: boolean | undefined, text: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(v, null, 2)}\n` : `${text()}\n`);
}

export function registerChanges(program: Command): void {
  const changes = program.command('changes').description('pending changes of host-run tasks (their diff in a git branch)');
  changes
    .command('list')
    .description('changes waiting for review (--all: every change)')
    .option('--all', 'include approved, rejected and superseded ones')
    .option('--json', 'print JSON')
    .option(...HOME)
    .action(async (o: { all?: boolean; json?: boolean; home?: string }) => {
      const r = await connectAdmin(o.home).request<{ changes: ChangeView[] }>('GET', `/admin/pending-changes${o.all ? '?status=all' : ''}`);
      out(r, o.json, () => (r.changes.length ? r.changes.map(line).join('\n') : 'no pending changes'));
    });
  for (const [verb, desc] of [
    ['approve', 'merge the change into its target branch'],
    ['reject', 'throw the change (its branch and worktree) away'],
  ] as const) {
    changes
      .command(`${verb} <task-id>`)
      .description(desc)
      .option('--json', 'print JSON')
      .option(...HOME)
      .action(async (id: string, o: { json?: boolean; home?: string }) => {
        const r = await connectAdmin(o.home).request<{ change: ChangeView }>('POST', `/admin/${verb}/${encodeURIComponent(id)}`, {});
        out(r, o.json, () => line(r.change));
      });
  }
  changes
    .command('request-changes <task-id>')
    .description("ask the agent for changes: its session continues with your comment in the task's worktree, and an updated change replaces this one")
    .requiredOption('-m, --comment <text>', 'what to change (the next message to the agent)')
    .option('--json', 'print JSON')
    .option(...HOME)
    .action(async (id: string, o: { comment: string; json?: boolean; home?: string }) => {
      const r = await connectAdmin(o.home).request<{ change: ChangeView; follow_up: { seq: number; engine: string; resume_session: string | null } }>(
        'POST',
        `/admin/pending-changes/${encodeURIComponent(id)}/request-changes`,
        { comment: o.comment },
      );
      const how = r.follow_up.resume_session ? `resuming its ${r.follow_up.engine} session` : `a fresh ${r.follow_up.engine} attempt with the comment`;
      out(r, o.json, () => `changes requested on ${id} (follow-up ${r.follow_up.seq}, ${how}); the change is superseded until the agent's update arrives`);
    });
}
