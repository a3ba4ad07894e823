/**
 * Benchmark (not a timed test), issue 8: a real `hub serve` process holding
 * AGENTS idle connected agents (light agents: real websockets on loopback,
 * real challenge-response with their own node keys, the agent's own
 * HubConnection and keepalive, a health heartbeat every 15 s and the
 * safety-net poll every 5 minutes, as the daemon sends by default; the hub
 * stores health with last_seen). Measures the hub's
 * RSS and CPU over a window, from /proc/<pid>/stat, and counts the nodes
 * whose newest stored health sample was sent in the window (all of them, when
 * the write-behind keeps up). Targets: RSS < 300 MB, CPU < 5 % of one core.
 *
 *   npx tsx bench/hub-capacity.ts [--agents 5000] [--workers 4] [--window-sec 180] [--quick (30 s)]
 *     [--write] [--results bench/RESULTS.md] [--cpu-prof DIR]
 *
 * The agents run in --workers child processes (test/helpers/swarm/worker.ts).
 * Needs `pnpm build` first and `ulimit -n` above agents + 200 (the hub holds
 * one socket per agent).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AGENT_DEFAULTS } from '@stems/agent';
import { hubPaths, openStore } from '@stems/hub';
import { idleCluster, startSwarmHub } from '../test/helpers/swarm/hub.js';
import { assertFdLimit } from '../test/helpers/swarm/limits.js';
import { nodeIdentities } from '../test/helpers/swarm/nodes.js';
import { SwarmWorkers } from '../test/helpers/swarm/workers.js';
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
const { pingMs: PING_MS, healthMs: HEALTH_MS, pollMs: POLL_MS } = AGENT_DEFAULTS.intervals;
const TARGETS = { rssMB: 300, cpuPct: 5 };
const HEADING = '## Hub capacity: idle connected agents';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Nodes whose newest health sample the hub stored was sent at or after `iso` (a second connection to its SQLite file). */
function healthFreshSince(dataDir: string, iso: string): number {
  const store = openStore(hubPaths(dataDir).db);
  try {
    return (store.db.prepare('SELECT count(*) AS n FROM node_health WHERE at >= ?').get(iso) as { n: number }).n;
  } finally {
    store.close();
  }
}

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
  let workers: SwarmWorkers | undefined;
  try {
    const idleRss = (await hub.memory()).rss;
    const started = performance.now();
    workers = await SwarmWorkers.start(WORKERS, nodes, {
      url: hub.url,
      hubKey: hub.hubKey,
      pingMs: PING_MS,
      healthMs: HEALTH_MS,
      pollMs: POLL_MS,
      rampMs: Math.round(AGENTS * 4), // ~250 new connections a second: enrolment is set-up
    });
    await workers.waitReady(AGENTS, 600_000);
    const connectSec = (performance.now() - started) / 1000;
    console.info(`${AGENTS} agents connected in ${connectSec.toFixed(1)} s; settling 20 s, then measuring ${WINDOW_SEC} s`);
    await sleep(20_000);
    const before = await workers.counts();
    const cpuBefore = await hub.cpuMs();
    const windowStartIso = new Date().toISOString();
    const load1 = loadavg()[0] ?? 0;
    let maxRss = 0;
    const windowStart = performance.now();
    while (performance.now() - windowStart < WINDOW_SEC * 1000) {
      maxRss = Math.max(maxRss, (await hub.memory()).rss);
      await sleep(5_000);
    }
    const windowMs = performance.now() - windowStart;
    const cpuPct = (((await hub.cpuMs()) - cpuBefore) / windowMs) * 100;
    const after = await workers.counts();
    const { rss, peak } = await hub.memory();
    const fresh = healthFreshSince(hub.dataDir, windowStartIso);
    maxRss = Math.max(maxRss, rss);
    const mb = (b: number) => (b / 2 ** 20).toFixed(0);
    const rows = [
      `| agents connected | ${after.ready} / ${AGENTS} (reconnects during the window: ${after.attempts - before.attempts}) |`,
      `| hub RSS (max over the window) | ${mb(maxRss)} MB (target < ${TARGETS.rssMB} MB) |`,
      `| hub RSS idle, before any agent | ${mb(idleRss)} MB |`,
      `| hub peak RSS (VmHWM, incl. the connect ramp) | ${mb(peak)} MB |`,
      `| hub CPU over ${(windowMs / 1000).toFixed(0)} s | ${cpuPct.toFixed(2)} % of one core (target < ${TARGETS.cpuPct} %) |`,
      `| nodes whose newest stored health sample is from the window | ${fresh} / ${AGENTS} (each sends one every ${HEALTH_MS / 1000} s) |`,
      `| connect ramp | ${connectSec.toFixed(1)} s for ${AGENTS} agents |`,
    ];
    const section = [
      HEADING,
      '',
      `${AGENTS} idle agents (light agents in ${WORKERS} processes): a health heartbeat every ${HEALTH_MS / 1000} s each, ` +
        `a safety-net poll every ${POLL_MS / 60_000} min (both sent on the beat, the next whole second), keepalive pings only after ${PING_MS / 1000} s of silence ` +
        "(the agent's and the hub's defaults); the hub keeps each node's newest health sample.",
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
    await workers?.stop();
    await hub.kill(cpuProf ? 'SIGTERM' : 'SIGKILL'); // a SIGTERM'd hub writes its CPU profile
    await hub.cleanup();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
