/** The per-task agent-state folder's name: always one plain folder under <home>/agent-state, one per task id. */
import { mkdtempSync, mkdirSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentStateDirOf, removeAgentState } from '../../src/runner/agent-state.js';

const HOME = '/srv/colony-home';

describe('agentStateDirOf', () => {
  it('gives each task its own folder directly under <home>/agent-state', () => {
    const a = agentStateDirOf(HOME, 'graph-1:build');
    expect(dirname(a)).toBe(join(HOME, 'agent-state'));
    expect(a).toMatch(/\/graph-1_build-[0-9a-f]{12}$/);
    expect(agentStateDirOf(HOME, 'graph-1:build')).toBe(a); // the same for every attempt
    expect(agentStateDirOf(HOME, 'graph-1_build')).not.toBe(a); // ids that read the same once made plain stay apart
  });

  it('an id that looks like a path cannot leave the folder (attacker side)', () => {
    for (const id of ['../../etc', '/etc/passwd', '..', 'a/../../b', '.']) {
      const d = agentStateDirOf(HOME, id);
      expect(dirname(d), id).toBe(join(HOME, 'agent-state'));
      expect(d.slice(dirname(d).length + 1), id).toMatch(/^[A-Za-z0-9_-]+$/);
    }
  });

  it('removeAgentState removes that task folder only', async () => {
    const home = mkdtempSync(join(tmpdir(), 'colony-agent-state-'));
    try {
      for (const id of ['t:1', 't:2']) {
        mkdirSync(agentStateDirOf(home, id), { recursive: true });
        writeFileSync(join(agentStateDirOf(home, id), 'session.jsonl'), '{}');
      }
      await removeAgentState(home, 't:1');
      await removeAgentState(home, 't:1'); // idempotent
      expect(existsSync(agentStateDirOf(home, 't:1'))).toBe(false);
      expect(existsSync(join(agentStateDirOf(home, 't:2'), 'session.jsonl'))).toBe(true);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
