/**
 * The worker agents of the remote benchmark: real WorkerAgents (pinned host
 * key, signed messages, workspace checks) with a no-op engine, either in this
 * thread or in a worker thread of this process (`thread`), which gives them a
 * core of their own as real workers on other machines have.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { Engine, EngineEvent } from '../src/core/engine.js';
import { WorkerAgent } from '../src/remote/worker/worker-agent.js';
import { loadIdentity } from '../src/remote/worker/worker-identity.js';
import { createWorkerGate } from '../src/remote/worker/worker-gate.js';
import { TaskRunner } from '../src/remote/worker/worker-runner.js';
import { defaultConfig } from '../src/core/config.js';
import { countFrames } from './frame-count.js';

export interface AgentSpec {
  home: string;
  root: string;
  concurrency: number;
}

export interface Agents {
  stop(): Promise<void>;
}

const noop: Engine = {
  name: 'noop',
  // eslint-disable-next-line require-yield
  async *run(): AsyncGenerator<EngineEvent> {
    yield { type: 'done', ok: true, summary: 'noop' };
  },
};

async function inThisThread(specs: readonly AgentSpec[]): Promise<Agents> {
  const agents: WorkerAgent[] = [];
  await Promise.all(
    specs.map(async (s) => {
      const identity = await loadIdentity(s.home);
      if (!identity) throw new Error(`no identity in ${s.home}`);
      const gate = createWorkerGate({ config: defaultConfig(), configFile: null, home: s.home, workspaceRoot: s.root });
      const runner = new TaskRunner({ engines: new Map([['noop', noop]]), workspaceRoot: s.root, budgetCap: null, gate, env: {} });
      const agent = new WorkerAgent({ identity, runner, openToAdmin: false, concurrency: s.concurrency });
      agents.push(agent);
      await new Promise<void>((resolve, reject) => {
        const off = agent.on((e) => {
          if (e.type === 'connected') (off(), resolve());
          if (e.type === 'fatal') (off(), reject(new Error(e.reason)));
        });
        agent.start();
      });
    }),
  );
  return { stop: async () => void (await Promise.all(agents.map((a) => a.stop(1000)))) };
}

export async function startAgents(specs: readonly AgentSpec[], mode: 'main' | 'thread'): Promise<Agents> {
  if (mode === 'main') return inThisThread(specs);
  // The thread imports this same .ts module; module hooks are per thread, so it registers tsx's loader first.
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const code = `import(${tsx}).then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); })`;
  const w = new Worker(code, { eval: true, workerData: { remoteAgents: specs } });
  await new Promise<void>((resolve, reject) => {
    w.once('message', (m) => (m === 'ready' ? resolve() : reject(new Error(String(m)))));
    w.once('error', reject);
  });
  return {
    stop: async () => {
      w.postMessage('stop');
      await new Promise<void>((r) => w.once('exit', () => r()));
    },
  };
}

if (!isMainThread && parentPort && (workerData as { remoteAgents?: AgentSpec[] } | null)?.remoteAgents) {
  const port = parentPort;
  const counted = countFrames(); // what the workers send: printed at stop (the host's side is counted by remote.bench.ts)
  inThisThread((workerData as { remoteAgents: AgentSpec[] }).remoteAgents).then(
    (agents) => {
      port.on('message', (m) => {
        if (m === 'stop') void agents.stop().then(() => (console.log(`worker frames: ${JSON.stringify(counted())}`), process.exit(0)));
      });
      port.postMessage('ready');
    },
    (e: unknown) => port.postMessage(`agents failed: ${e instanceof Error ? e.message : String(e)}`),
  );
}
