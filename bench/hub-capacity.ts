/**
 * Benchmark (not a timed test), issue 8: a real `hub serve` process holding
 * AGENTS idle connected agents (light agents: real websockets on loopback,
 * real challenge-response with their own node keys, the agent's own
 * HubConnection with 15 s client pings; the hub pings each every 30 s and
 * stores last_seen). Measures the hub's RSS and CPU over a window, from
 * /proc/<pid>/stat. Targets: RSS < 300 MB, CPU < 5 % of one core.
 *
 *   npx tsx bench/hub-capacity.ts [--agents 5000] [--workers 4] [--window-sec 180] [--quick (30 s)]
 *     [--write] [--results bench/RESULTS.md] [--cpu-prof DIR]
 *
 * The agents run in --workers child processes (test/helpers/swarm/worker.ts).
 * Needs `pnpm build` first and `ulimit -n` above agents + 200 (the hub holds
 * one socket per agent).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { idleCluster, startSwarmHub } from '../test/helpers/swarm/hub.js';
import { assertFdLimit } from '../test/helpers/swarm/limits.js';
import { nodeIdentities, toWire } from '../test/helpers/swarm/nodes.js';
import type { WorkerReply, WorkerStart } from '../test/helpers/swarm/worker.js';
import { replaceSection } from './_stats.js';

const { values: args } = parseArgs({
  options: {
    agents: { type: 'string', default: '5000' },
    workers: { type: 'string', default: '4' },
    'window-sec': { type: 'string', default: '180' },
    quick: { type: 'boolean', default: false },
    write: { type: 'boolean', default: false },
    results: { type: 'string', default: 'bench/RESULTS.md' },
    'cpu-prof': { type: 'string' },
  },
});
const AGENTS = Number(args.agents);
const WORKERS = Number(args.workers);
const WINDOW_SEC = args.quick ? 30 : Number(args['window-sec']);
const PING_MS = 15_000;
const TARGETS = { rssMB: 300, cpuPct: 5 };
const HEADING = '## Hub capacity: idle connected agents';

interface Worker {
  child: ChildProcess;
  ask(msg: WorkerStart | { type: 'count' }): Promise<WorkerReply>;
}

function startWorker(): Worker {
  const child = fork(new URL('../test/helpers/swarm/worker.ts', import.meta.url), { stdio: 'inherit' });
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

async function counts(workers: Worker[]): Promise<{ ready: number; attempts: number }> {
  const replies = await Promise.all(workers.map((w) => w.ask({ type: 'count' })));
  return replies.reduce((sum, r) => (r.type === 'count' ? { ready: sum.ready + r.ready, attempts: sum.attempts + r.attempts } : sum), {
    ready: 0,
    attempts: 0,
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  assertFdLimit(AGENTS, 'the hub');
  const work = await mkdtemp(join(tmpdir(), 'stems-bench-capacity-'));
  const nodes = nodeIdentities(AGENTS, 'cap');
  const cpuProf = args['cpu-prof'];
  const hub = await startSwarmHub({
    work,
    files: idleCluster(nodes),
    nodes,
    ...(cpuProf ? { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', cpuProf] } : {}),
    // A real hub logs at info; each connection logs a few lines, which is part of its cost.
  });
  const workers = Array.from({ length: WORKERS }, startWorker);
  try {
    const idleRss = (await hub.memory()).rss;
    const per = Math.ceil(AGENTS / WORKERS);
    const started = performance.now();
    await Promise.all(
      workers.map((w, i) =>
        w.ask({
          type: 'start',
          url: hub.url,
          hubKey: hub.hubKey,
          nodes: nodes.slice(i * per, (i + 1) * per).map(toWire),
          pingMs: PING_MS,
          rampMs: Math.round(AGENTS * 4), // ~250 new connections a second: enrolment is set-up
        }),
      ),
    );
    for (;;) {
      const c = await counts(workers);
      if (c.ready >= AGENTS) break;
      if (performance.now() - started > 600_000) throw new Error(`only ${c.ready}/${AGENTS} connected after 10 min`);
      await sleep(1000);
    }
    const connectSec = (performance.now() - started) / 1000;
    console.info(`${AGENTS} agents connected in ${connectSec.toFixed(1)} s; settling 20 s, then measuring ${WINDOW_SEC} s`);
    await sleep(20_000);
    const before = await counts(workers);
    const cpuBefore = await hub.cpuMs();
    const load1 = loadavg()[0] ?? 0;
    let maxRss = 0;
    const windowStart = performance.now();
    while (performance.now() - windowStart < WINDOW_SEC * 1000) {
      maxRss = Math.max(maxRss, (await hub.memory()).rss);
      await sleep(5_000);
    }
    const windowMs = performance.now() - windowStart;
    const cpuPct = (((await hub.cpuMs()) - cpuBefore) / windowMs) * 100;
    const after = await counts(workers);
    const { rss, peak } = await hub.memory();
    maxRss = Math.max(maxRss, rss);
    const mb = (b: number) => (b / 2 ** 20).toFixed(0);
    const rows = [
      `| agents connected | ${after.ready} / ${AGENTS} (reconnects during the window: ${after.attempts - before.attempts}) |`,
      `| hub RSS (max over the window) | ${mb(maxRss)} MB (target < ${TARGETS.rssMB} MB) |`,
      `| hub RSS idle, before any agent | ${mb(idleRss)} MB |`,
      `| hub peak RSS (VmHWM, incl. the connect ramp) | ${mb(peak)} MB |`,
      `| hub CPU over ${(windowMs / 1000).toFixed(0)} s | ${cpuPct.toFixed(2)} % of one core (target < ${TARGETS.cpuPct} %) |`,
      `| connect ramp | ${connectSec.toFixed(1)} s for ${AGENTS} agents |`,
    ];
    const section = [
      HEADING,
      '',
      `${AGENTS} idle agents (light agents in ${WORKERS} processes, 15 s client pings; hub pings every 30 s).`,
      `Machine: ${cpus()[0]?.model ?? '?'} ×${cpus().length}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, ` +
        `load average ${load1.toFixed(2)} at the start of the window.`,
      `Command: \`npx tsx bench/hub-capacity.ts --agents ${AGENTS} --workers ${WORKERS} ${args.quick ? '--quick' : `--window-sec ${WINDOW_SEC}`}\``,
      '',
      '| measure | value |',
      '|---|---|',
      ...rows,
      '',
    ].join('\n');
    console.info(section);
    if (args.write) await replaceSection(args.results, HEADING, section);
  } finally {
    await Promise.all(workers.map(stopWorker));
    await hub.kill(cpuProf ? 'SIGTERM' : 'SIGKILL'); // a SIGTERM'd hub writes its CPU profile
    await hub.cleanup();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
