/**
 * 24 realistic task texts (the kind the original system saw), labelled by a
 * human as easy / medium / hard. Used to check that the complexity score
 * spreads them out and orders the clear cases (DESIGN §11).
 */
export interface LabelledTask {
  label: 'easy' | 'medium' | 'hard';
  prompt: string;
  depth?: number;
}

export const LABELLED_TASKS: LabelledTask[] = [
  { label: 'easy', prompt: 'Fix the typo in README.md: "recieve" should be "receive".' },
  { label: 'easy', prompt: 'Rename the variable `tmp` to `pendingTasks` in src/runner/pool.ts.' },
  { label: 'easy', prompt: 'Run prettier on the src folder and commit the formatting changes.' },
  { label: 'easy', prompt: 'Add a docstring to the parse_config function explaining its arguments.' },
  { label: 'easy', prompt: 'Bump the version number in package.json to 0.2.0 and update the changelog.' },
  { label: 'easy', prompt: 'Remove unused imports flagged by eslint in src/cli/index.ts.' },
  { label: 'easy', prompt: 'Explain what the function retryWithBackoff does.' },
  { label: 'easy', prompt: 'Add the .colony directory to .gitignore' },
  { label: 'medium', prompt: 'Add a --json flag to the `colony status` command that prints the task list as JSON instead of a table.' },
  { label: 'medium', prompt: 'Write unit tests for src/core/budget.ts covering the exactly-at-budget case and an unknown price.' },
  { label: 'medium', prompt: 'The /api/status endpoint returns 500 when there are no workers. Make it return an empty list and add a test.' },
  { label: 'medium', prompt: 'Add pagination to GET /admin/audit: accept ?limit and ?before, default limit 100, and return a next cursor.' },
  { label: 'medium', prompt: 'Create a small CLI script scripts/export-costs.ts that reads colony.db and writes a CSV of cost per task.' },
  { label: 'medium', prompt: 'Add input validation with zod to the submit-task route and return 400 with the list of problems.' },
  { label: 'medium', prompt: 'Implement a `colony tasks --state` filter in src/cli/tasks.ts.', depth: 1 },
  { label: 'medium', prompt: 'Update the dashboard worker card to show tokens in and out next to the cost, and keep the layout on narrow screens.' },
  {
    label: 'hard',
    prompt:
      'Refactor the scheduler to fix a race condition where two workers can claim the same task when leases expire at the same time. Make claimNextReady atomic in src/store/store.ts and src/runner/pool.ts, and add a reliability test.',
  },
  {
    label: 'hard',
    prompt:
      'Investigate the intermittent deadlock in the worker pool under load. Stack trace:\n  at Pool.acquire (src/runner/pool.ts:88:13)\n  at async Runner.dispatch (src/runner/runner.ts:142:5)\n  at async Promise.all (index 3)\nFind the root cause and fix it.',
  },
  {
    label: 'hard',
    prompt:
      'Design the architecture for running tasks on remote workers with signed messages, leases and heartbeats; implement the protocol in src/remote/ and document the security model.',
  },
  {
    label: 'hard',
    prompt:
      'Migrate the store from better-sqlite3 to PostgreSQL behind the same interface, keeping backwards compatibility and zero downtime for existing data.',
  },
  {
    label: 'hard',
    prompt:
      'There is a memory leak in the SSE event bus: RSS grows by 50 MB per hour with 200 clients. Profile it, find the cause and fix it without dropping events.',
  },
  {
    label: 'hard',
    prompt:
      'Audit the admin app for security vulnerabilities (CSRF, DNS rebinding, cross-site WebSocket hijacking) and fix what you find, with attacker-side tests for each.',
  },
  {
    label: 'hard',
    prompt:
      'Implement the adaptive router:\n1. keep per-class success rates\n2. pick the cheapest engine that clears the threshold\n3. explore a little\n4. fall back to Claude on failure within the budget\n5. add a benchmark comparing it to fixed policies\n6. document the results',
    depth: 2,
  },
  {
    label: 'hard',
    prompt:
      'Optimize the ready-set maintenance so scheduling 100k tasks is linear; the current implementation scans all tasks on every completion and throughput collapses.',
  },
];
