/**
 * This host's id on a shared PostgreSQL (several hosts, issue 19): the machine
 * name plus a random suffix, made once and kept in `<home>/host-id` (0600), so
 * two machines with the same name and home path never share an id, and a
 * restart is the same host again (it finds its graphs its own).
 *
 * Upgrade: a home made before the file existed was known under the old id
 * (machine name + a hash of the home path, `legacyHostId`). When the database
 * has a host row under that id, the file is created with it, so the upgraded
 * host keeps its graphs instead of leaving them to be adopted as a dead host's.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ColonyError } from '../core/errors.js';

const VALID = /^[A-Za-z0-9._:-]{1,80}$/;

function machineName(): string {
  return (
    hostname()
      .replace(/[^A-Za-z0-9._-]/g, '-')
      .slice(0, 40) || 'host'
  );
}

/** The id hosts had before `<home>/host-id`: stable per machine name and home path (two such machines collided). */
export function legacyHostId(home: string): string {
  return `${machineName()}-${createHash('sha256').update(home).digest('hex').slice(0, 8)}`;
}

export function hostIdFile(home: string): string {
  return join(home, 'host-id');
}

/**
 * The id in `<home>/host-id`, made on first use: the legacy id when `knownAs(legacy)` says the database has
 * a host under it (an upgraded home), else the machine name and 6 random bytes.
 */
export function loadOrCreateHostId(home: string, knownAs: (id: string) => boolean): string {
  const file = hostIdFile(home);
  if (existsSync(file)) {
    const id = readFileSync(file, 'utf8').trim();
    if (!VALID.test(id)) throw new ColonyError('E_CONFIG', `${file}: not a host id (letters, digits and . _ : - only); fix or remove it`);
    return id;
  }
  const legacy = legacyHostId(home);
  const id = knownAs(legacy) ? legacy : `${machineName()}-${randomBytes(6).toString('hex')}`;
  writeFileSync(file, `${id}\n`, { mode: 0o600, flag: 'wx' });
  return id;
}
