/**
 * A swarm in a child process (child_process.fork), so that thousands of
 * agents spread over several processes and cores. The parent sends one
 * `start` message; the worker answers `count` with its welcomed agents,
 * connection attempts and bundle failures whenever asked, and closes its
 * agents and exits on `stop`. The parent side is ./workers.ts.
 */
import { fromWire, type WireIdentity } from './nodes.js';
import { Swarm } from './swarm.js';

export interface WorkerStart {
  type: 'start';
  url: string;
  hubKey: string;
  nodes: WireIdentity[];
  pingMs?: number;
  /** Health heartbeat period; none when absent. */
  healthMs?: number;
  /** Safety-net poll period; none when absent. */
  pollMs?: number;
  rampMs: number;
  /** Apply bundles under `<workDir>/<node>`; idle agents without it. */
  workDir?: string;
  skipApply?: boolean;
}
type WorkerMessage = WorkerStart | { type: 'count' | 'stop' };
export interface WorkerCount {
  type: 'count';
  ready: number;
  attempts: number;
  /** Bundles an agent failed to take, and the first such error. */
  errors: number;
  firstError?: string;
}
export type WorkerReply = { type: 'started' } | WorkerCount | { type: 'error'; message: string };

/** The parent is our own bench process; this only guards against a mismatched build of it. */
function isMessage(raw: unknown): raw is WorkerMessage {
  if (typeof raw !== 'object' || raw === null || !('type' in raw)) return false;
  if (raw.type === 'count' || raw.type === 'stop') return true;
  return raw.type === 'start' && 'nodes' in raw && Array.isArray(raw.nodes) && 'url' in raw && typeof raw.url === 'string';
}

let swarm: Swarm | undefined;
const reply = (msg: WorkerReply) => process.send?.(msg);

process.on('message', (raw) => {
  if (!isMessage(raw)) throw new Error(`swarm worker: unexpected message ${JSON.stringify(raw)}`);
  const msg = raw;
  if (msg.type === 'start') {
    const { type: _, nodes, ...opts } = msg;
    Swarm.start({ ...opts, nodes: nodes.map(fromWire) })
      .then((s) => {
        swarm = s;
        reply({ type: 'started' });
      })
      .catch((err: unknown) => reply({ type: 'error', message: String(err) }));
  } else if (msg.type === 'count') {
    const agents = swarm?.agents ?? [];
    const errors = agents.flatMap((a) => a.errors);
    reply({
      type: 'count',
      ready: swarm?.readyCount() ?? 0,
      attempts: agents.reduce((n, a) => n + a.attempts.length, 0),
      errors: errors.length,
      ...(errors.length ? { firstError: String(errors[0]) } : {}),
    });
  } else {
    void (swarm?.stop() ?? Promise.resolve()).then(() => process.exit(0));
  }
});
