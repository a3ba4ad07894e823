import { type ChildProcess, fork } from 'node:child_process';
import type { NodeIdentity } from './light-agent.js';
import { toWire } from './nodes.js';
import type { WorkerCount, WorkerReply, WorkerStart } from './worker.js';

/** What every worker is started with; each gets its own share of the nodes. */
export type WorkersStart = Omit<WorkerStart, 'type' | 'nodes'>;

interface Worker {
  child: ChildProcess;
  ask(msg: WorkerStart | { type: 'count' }): Promise<WorkerReply>;
}

function startWorker(): Worker {
  const child = fork(new URL('./worker.ts', import.meta.url), { stdio: 'inherit' });
  return {
    child,
    ask: (msg) =>
      new Promise((resolve, reject) => {
        child.once('message', (reply: WorkerReply) => (reply.type === 'error' ? reject(new Error(reply.message)) : resolve(reply)));
        child.send(msg);
      }),
  };
}

/** Asks the worker to close its agents; kills it if it has not exited within 10 s. */
async function stopWorker(w: Worker): Promise<void> {
  if (w.child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => w.child.once('exit', () => resolve()));
  w.child.send({ type: 'stop' });
  const timer = setTimeout(() => w.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** A swarm of light agents spread over `count` child processes (./worker.ts), for benchmarks. */
export class SwarmWorkers {
  readonly #workers: Worker[];

  private constructor(workers: Worker[]) {
    this.#workers = workers;
  }

  /** Forks the workers and starts an equal share of `nodes` in each. */
  static async start(count: number, nodes: readonly NodeIdentity[], opts: WorkersStart): Promise<SwarmWorkers> {
    const swarm = new SwarmWorkers(Array.from({ length: count }, startWorker));
    const per = Math.ceil(nodes.length / count);
    await Promise.all(
      swarm.#workers.map((w, i) => w.ask({ type: 'start', ...opts, nodes: nodes.slice(i * per, (i + 1) * per).map(toWire) })),
    );
    return swarm;
  }

  /** Welcomed agents, connection attempts and bundle failures, summed over the workers. */
  async counts(): Promise<Omit<WorkerCount, 'type'>> {
    const replies = await Promise.all(this.#workers.map((w) => w.ask({ type: 'count' })));
    const sum: Omit<WorkerCount, 'type'> = { ready: 0, attempts: 0, errors: 0 };
    for (const r of replies) {
      if (r.type !== 'count') continue;
      sum.ready += r.ready;
      sum.attempts += r.attempts;
      sum.errors += r.errors;
      if (r.firstError !== undefined) sum.firstError ??= r.firstError;
    }
    return sum;
  }

  /** Polls until every one of `total` agents is welcomed. */
  async waitReady(total: number, timeoutMs: number): Promise<void> {
    const started = performance.now();
    for (;;) {
      const { ready } = await this.counts();
      if (ready >= total) return;
      if (performance.now() - started > timeoutMs) throw new Error(`only ${ready}/${total} agents connected within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.#workers.map(stopWorker));
  }
}
