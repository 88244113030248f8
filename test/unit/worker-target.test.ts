import { describe, expect, it } from 'vitest';
import { workerOfLane, workerTargetProblem, type TargetWorker } from '../../src/core/worker-target.js';

const w = (o: Partial<TargetWorker> = {}): TargetWorker => ({ id: 'w-1', owner: 'session:ada', open_to_admin: false, revoked_at: null, ...o });

describe('workerTargetProblem', () => {
  it('lets the owner name a live worker, and the admin one opened to admin tasks', () => {
    expect(workerTargetProblem('w-1', w(), 'session:ada')).toBeNull();
    expect(workerTargetProblem('w-1', w({ open_to_admin: true }), 'admin')).toBeNull();
  });

  it("answers another user's worker exactly like an unknown one", () => {
    const theirs = workerTargetProblem('w-1', w(), 'session:bob');
    expect(theirs).toMatch(/unknown, or not yours/);
    expect(theirs).toBe(workerTargetProblem('w-1', null, 'session:bob'));
    // Revoked or not: someone else's worker reveals nothing about its state.
    expect(workerTargetProblem('w-1', w({ revoked_at: 5 }), 'session:bob')).toBe(theirs);
  });

  it('refuses the owner a revoked worker and the admin a closed one, saying why', () => {
    expect(workerTargetProblem('w-1', w({ revoked_at: 5 }), 'session:ada')).toMatch(/was revoked/);
    expect(workerTargetProblem('w-1', w({ revoked_at: 5, open_to_admin: true }), 'admin')).toMatch(/was revoked/);
    expect(workerTargetProblem('w-1', w(), 'admin')).toMatch(/not opened to admin/);
  });

  it('reads the worker of a lane', () => {
    expect(workerOfLane('worker:w-1')).toBe('w-1');
    expect(workerOfLane('user:session:ada')).toBeNull();
    expect(workerOfLane('host')).toBeNull();
  });
});
