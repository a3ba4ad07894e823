/**
 * Benchmark (not a timed test), issue 8: the hub's liveness write-behind
 * (packages/hub/src/ws/liveness.ts) on a real SQLite file, in process. NODES
 * accepted nodes with facts; each simulated second the agents of a 15 s
 * heartbeat send NODES / 15 health samples (each also a last_seen), and about
 * a quarter as many other nodes are heard from (pings, polls); then one
 * flush() stores it all, as the hub's timer does once a second. Measures the
 * CPU (user + sys) and wall time of each flush: the largest part of an idle
 * hub's CPU once thousands of agents are connected ("Hub capacity").
 *
 *   npx tsx bench/liveness-flush.ts [--nodes 5000] [--seconds 200] [--runs 5] [--write]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AGENT_DEFAULTS } from '@stems/agent';
import { FACTS } from '../packages/agent/src/daemon/_test-fixtures.js';
import { openStore, type Store } from '../packages/hub/src/store/index.js';
import { Liveness } from '../packages/hub/src/ws/liveness.js';
import { HEALTH_SAMPLE } from '../test/helpers/swarm/light-agent.js';
import { replaceSection, stats } from './_stats.js';

const { values: args } = parseArgs({
  options: {
    nodes: { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '200' },
    runs: { type: 'string', default: '5' },
    write: { type: 'boolean', default: false },
    results: { type: 'string', default: 'bench/RESULTS.md' },
  },
});
const NODES = Number(args.nodes);
const SECONDS = Number(args.seconds);
const RUNS = Number(args.runs);
const HEALTH_MS = AGENT_DEFAULTS.intervals.healthMs;
/** Heartbeats a second from NODES agents. */
const PER_SECOND = Math.round((NODES * 1000) / HEALTH_MS);
const HEADING = '## Hub write-behind (liveness flush)';

/** A store whose nodes are accepted, with facts and one heartbeat each, as after a first round of heartbeats. */
function seededStore(path: string, names: readonly string[]): Store {
  const store = openStore(path);
  const at = new Date().toISOString();
  store.transaction(() => {
    for (const name of names) {
      store.nodes.upsert({ name, publicKey: `ed25519:${name}`, fingerprint: name, state: 'accepted', at });
      store.nodes.setFacts(name, { ...FACTS, hostname: name }, `sha256:${name}`);
    }
    store.events.setHealth(new Map(names.map((name) => [name, { ...HEALTH_SAMPLE, at, intervalMs: HEALTH_MS }])));
  });
  return store;
}

/** CPU and wall milliseconds per flush over SECONDS simulated seconds, on a fresh database. */
async function oneRun(names: readonly string[]): Promise<{ cpuMs: number; wallMs: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'stems-bench-flush-'));
  const store = seededStore(join(dir, 'hub.db'), names);
  try {
    const live = new Liveness(store, 3_600_000); // flushed by hand below, once per simulated second
    let next = 0;
    let cpuUs = 0;
    let wallMs = 0;
    for (let s = 0; s < SECONDS; s++) {
      for (let i = 0; i < PER_SECOND; i++) {
        const node = names[next++ % NODES] as string;
        const at = new Date().toISOString();
        live.health(node, { ...HEALTH_SAMPLE, at, intervalMs: HEALTH_MS });
        live.touch(node, at);
        // Now and then another node's lone ping or poll, in the scattered order the agents' phases give.
        if (i % 4 === 0) live.touch(names[(next * 7919) % NODES] as string, at);
      }
      const cpu = process.cpuUsage();
      const started = performance.now();
      live.flush();
      wallMs += performance.now() - started;
      const used = process.cpuUsage(cpu);
      cpuUs += used.user + used.system;
    }
    return { cpuMs: cpuUs / 1000 / SECONDS, wallMs: wallMs / SECONDS };
  } finally {
    store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const names = Array.from({ length: NODES }, (_, i) => `node-${String(i).padStart(5, '0')}`);
  const runs: { cpuMs: number; wallMs: number }[] = [];
  for (let r = 0; r < RUNS; r++) runs.push(await oneRun(names));
  const cpu = stats(runs.map((r) => r.cpuMs));
  const wall = stats(runs.map((r) => r.wallMs));
  const ms = (v: number) => v.toFixed(1);
  const section = [
    HEADING,
    '',
    `${NODES} nodes; each second ${PER_SECOND} health samples with their last_seen and a quarter as many other nodes' last_seen, ` +
      `stored by one Liveness.flush() (one transaction, WAL, synchronous=FULL), ${SECONDS} flushes a run (simulated seconds, back to back), ${RUNS} runs on fresh databases.`,
    `Machine: ${cpus()[0]?.model ?? '?'} ×${cpus().length}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, load average ${loadavg()[0]?.toFixed(2)}.`,
    `Command: \`npx tsx bench/liveness-flush.ts --nodes ${NODES} --seconds ${SECONDS} --runs ${RUNS}\``,
    '',
    '| measure (per flush, median of runs) | value |',
    '|---|---|',
    `| CPU (user + sys) | ${ms(cpu.median)} ms [${ms(cpu.min)}–${ms(cpu.max)}], ${(cpu.median / 10).toFixed(2)} % of one core |`,
    `| wall | ${ms(wall.median)} ms [${ms(wall.min)}–${ms(wall.max)}] |`,
    '',
  ].join('\n');
  console.info(section);
  if (args.write) await replaceSection(args.results, HEADING, section);
}

await main();
