/** Output reads that need SQL the Store class does not offer (kept here: only src/store talks SQL). */
import type { Store } from './store.js';
import { dbOf } from './internal.js';

/** The last `maxChars` characters a task printed (all attempts), reading only the newest rows. */
export function outputTail(store: Store, taskId: string, maxChars: number): string {
  const rows = dbOf(store).prepare('SELECT text FROM task_output WHERE task_id = ? ORDER BY id DESC LIMIT 500').iterate(taskId) as IterableIterator<{
    text: string;
  }>;
  const parts: string[] = [];
  let size = 0;
  for (const r of rows) {
    parts.push(r.text);
    size += r.text.length;
    if (size >= maxChars) break;
  }
  const text = parts.reverse().join('');
  return text.length > maxChars ? text.slice(text.length - maxChars) : text;
}
