/**
 * The raw database handle of a Store, for the other files of src/store only
 * (sessions, workers, changes, output). The Store hands no handle out: a
 * dependency-cruiser rule keeps this module inside src/store. Tests may use it
 * to inspect or tamper with a database.
 */
import type { Db } from './db.js';

const handles = new WeakMap<object, Db>();

export function registerDb(owner: object, db: Db): void {
  handles.set(owner, db);
}

export function dbOf(owner: object): Db {
  const db = handles.get(owner);
  if (!db) throw new Error('not a store');
  return db;
}
