/**
 * A swarm in a child process (child_process.fork), so that thousands of
 * agents spread over several processes and cores. The parent sends one
 * `start` message; the worker answers `ready` with its count of welcomed
 * agents whenever asked (`count`), and closes them and exits on `stop`.
 */
import { fromWire, type WireIdentity } from './nodes.js';
import { Swarm } from './swarm.js';

export interface WorkerStart {
  type: 'start';
  url: string;
  hubKey: string;
  nodes: WireIdentity[];
  pingMs: number;
  rampMs: number;
}
type WorkerMessage = WorkerStart | { type: 'count' | 'stop' };
export type WorkerReply = { type: 'started' } | { type: 'count'; ready: number; attempts: number } | { type: 'error'; message: string };

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
    const { url, hubKey, pingMs, rampMs } = msg;
    Swarm.start({ url, hubKey, pingMs, rampMs, nodes: msg.nodes.map(fromWire) })
      .then((s) => {
        swarm = s;
        reply({ type: 'started' });
      })
      .catch((err: unknown) => reply({ type: 'error', message: String(err) }));
  } else if (msg.type === 'count') {
    const attempts = swarm?.agents.reduce((n, a) => n + a.attempts.length, 0) ?? 0;
    reply({ type: 'count', ready: swarm?.readyCount() ?? 0, attempts });
  } else {
    void (swarm?.stop() ?? Promise.resolve()).then(() => process.exit(0));
  }
});
