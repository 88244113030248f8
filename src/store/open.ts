/**
 * Opens the store a host runs on: a SQLite file (the default) or a
 * PostgreSQL database (`store.url: postgres://…`, `colony serve --store`).
 * Both are the same Store over the synchronous SQL port; see backend.ts.
 */
import type { StoreBackend } from './backend.js';
import { EVENTS_CHANNEL } from './cluster.js';
import { MIGRATIONS } from './migrations.js';
import { isPostgresUrl, openPgDb } from './pg/open.js';
import { Store } from './store.js';

export { isPostgresUrl, redactUrl } from './pg/open.js';

/** `target`: a postgres:// URL (its store listens for the other hosts' live events: store/cluster.ts), or the SQLite file. */
export function openStore(target: string, now: () => number = Date.now): Store {
  return isPostgresUrl(target) ? new Store(openPgDb(target, MIGRATIONS, undefined, EVENTS_CHANNEL), now) : Store.open(target, now);
}

/** Compile-time proof that Store implements the backend interface (store.ts cannot import backend.ts: a cycle). */
export const asBackend = (s: Store): StoreBackend => s;
