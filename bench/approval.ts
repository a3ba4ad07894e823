/**
 * Benchmark (not a timed test), issue 8: approval → converged. M light agents
 * (real websockets on loopback, real challenge-response, the agent's own
 * HubConnection and receiveBundle: signature, node, cluster, serial, expiry;
 * then the real engine applying a 20-file templated bundle into each agent's
 * own temp root) connected to a real `hub serve`. Each run commits a change
 * to all 20 files, `hub sync`s, and times from the moment `hub approve`
 * returns to the moment the hub has stored every node's report (the reports'
 * received_at in the hub's SQLite store): p50, p99, max over the nodes; then
 * median and spread of those over the runs. Target: M = 1000 under 5 s.
 *
 *   npx tsx bench/approval.ts [--agents 10,100,1000] [--runs 3] [--files 20] [--workers 2]
 *     [--agent-dir DIR] [--skip-apply] [--write] [--results bench/RESULTS.md] [--cpu-prof DIR (the hub's profile)]
 *
 * The agents run in --workers child processes (test/helpers/swarm/worker.ts),
 * their roots and state under --agent-dir (default: the benchmark's temp dir).
 * On one machine all M agents share its cores and one disk, where M real nodes
 * would each have their own: `--agent-dir /dev/shm` (tmpfs) takes the shared
 * disk's fsync queue out of the measure. Needs `pnpm build` first.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { hubPaths, openStore } from '@stems/hub';
import { commitFiles, type RepoFiles } from '../test/helpers/git-http.js';
import { eventually, HUB_BIN, runOk } from '../test/helpers/processes.js';
import { quantile } from '../test/helpers/swarm/analysis.js';
import { type SwarmHub, startSwarmHub } from '../test/helpers/swarm/hub.js';
import type { NodeIdentity } from '../test/helpers/swarm/light-agent.js';
import { nodeIdentities } from '../test/helpers/swarm/nodes.js';
import { SwarmWorkers } from '../test/helpers/swarm/workers.js';
import { median, replaceSection, spread } from './_stats.js';

const { values: args } = parseArgs({
  options: {
    agents: { type: 'string', default: '10,100,1000' },
    runs: { type: 'string', default: '3' },
    files: { type: 'string', default: '20' },
    write: { type: 'boolean', default: false },
    results: { type: 'string', default: 'bench/RESULTS.md' },
    'cpu-prof': { type: 'string' },
    /** Agents verify and persist bundles but skip the engine: the hub's fan-out without the swarm's disk. */
    'skip-apply': { type: 'boolean', default: false },
    workers: { type: 'string', default: '2' },
    'agent-dir': { type: 'string' },
  },
});
const SIZES = args.agents.split(',').map(Number);
const RUNS = Number(args.runs);
const FILES = Number(args.files);
const WORKERS = Number(args.workers);
const TARGET_MS = { 1000: 5000 } as Record<number, number>;
const VARIANT = args['skip-apply'] ? ', no apply' : args['agent-dir'] ? `, roots under ${args['agent-dir']}` : '';
const HEADING = `## Approval → converged (light agents${VARIANT})`;

const TEMPLATE = '# managed by stems\nhost = {{facts.hostname}}\nname = {{vars.name}}\nrevision = {{vars.rev}}\n';

function repoFiles(nodes: readonly NodeIdentity[], rev: number): RepoFiles {
  const resources = Array.from(
    { length: FILES },
    (_, i) => `  - file: /etc/bench/file-${i}.conf\n    template: item.hbs\n    mode: "0644"\n    vars: { name: item-${i} }`,
  );
  return {
    'cluster.yaml': `apiVersion: stems/v1\ncluster: bench\nvars: { rev: ${rev} }\nnodes:\n${nodes.map((n) => `  ${n.name}: {}`).join('\n')}\ngroups:\n  all: { roles: [app] }\n`,
    'roles/app/role.yaml': `resources:\n${resources.join('\n')}\n`,
    'roles/app/files/item.hbs': TEMPLATE,
  };
}

interface Run {
  approveMs: number;
  p50: number;
  p99: number;
  max: number;
}

const hubCli = (hub: SwarmHub, ...argv: string[]) => runOk(HUB_BIN, argv, hub.env);

/** Commits revision `rev`, syncs, waits until the hub holds it as valid; returns its commit. */
async function newRevision(hub: SwarmHub, nodes: readonly NodeIdentity[], rev: number): Promise<string> {
  const commit = await commitFiles(hub.repoDir, repoFiles(nodes, rev), `rev ${rev}`);
  await hubCli(hub, 'sync');
  return eventually(
    async () => {
      const list = JSON.parse(await hubCli(hub, 'revisions', '--json')) as { commit: string; state: string; errors: unknown[] }[];
      const found = list.find((r) => r.commit === commit);
      if (found?.state === 'invalid') throw new Error(`bench repo is invalid: ${JSON.stringify(found.errors)}`);
      return found?.state === 'valid' ? commit : undefined;
    },
    `revision ${rev} valid`,
    120_000,
    250,
  );
}

/** Polls the hub's store (read-only use) until every node has a report for `serial`; returns received_at per node. */
async function reportsFor(hub: SwarmHub, serial: number, count: number): Promise<number[]> {
  const store = openStore(hubPaths(hub.dataDir).db);
  try {
    const query = store.db.prepare<[number], { node: string; received_at: string; status: string }>(
      'SELECT node, MIN(received_at) AS received_at, status FROM reports WHERE serial = ? GROUP BY node',
    );
    return await eventually(
      async () => {
        const rows = query.all(serial);
        const bad = rows.filter((r) => r.status !== 'changed' && r.status !== 'converged');
        if (bad.length) throw new Error(`${bad.length} reports not applied, e.g. ${JSON.stringify(bad[0])}`);
        return rows.length >= count ? rows.map((r) => Date.parse(r.received_at)) : undefined;
      },
      `${count} reports for serial ${serial}`,
      300_000,
      50,
    );
  } finally {
    store.close();
  }
}

async function measure(agents: number): Promise<Run[]> {
  const work = await mkdtemp(join(tmpdir(), 'stems-bench-approval-'));
  const nodes = nodeIdentities(agents, 'appr');
  const cpuProf = args['cpu-prof'];
  const hub = await startSwarmHub({
    work,
    files: repoFiles(nodes, 0),
    nodes,
    ...(cpuProf ? { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', cpuProf] } : {}),
  });
  const agentDir = await mkdtemp(join(args['agent-dir'] ?? work, 'stems-bench-agents-'));
  let swarm: SwarmWorkers | undefined;
  try {
    swarm = await SwarmWorkers.start(Math.min(WORKERS, agents), nodes, {
      url: hub.url,
      hubKey: hub.hubKey,
      workDir: agentDir,
      skipApply: args['skip-apply'],
      rampMs: agents * 4,
    });
    await swarm.waitReady(agents, 300_000);
    const runs: Run[] = [];
    for (let r = 1; r <= RUNS; r++) {
      const commit = await newRevision(hub, nodes, r);
      const started = Date.now();
      const approved = JSON.parse(await hubCli(hub, 'approve', commit, '--json')) as { bundles: { serial: number }[] };
      const returned = Date.now();
      const serial = approved.bundles[0]?.serial;
      if (serial === undefined || approved.bundles.length !== agents) throw new Error(`approve made ${approved.bundles.length} bundles`);
      const latencies = (await reportsFor(hub, serial, agents)).map((t) => t - returned);
      const run = {
        approveMs: returned - started,
        p50: quantile(latencies, 0.5),
        p99: quantile(latencies, 0.99),
        max: Math.max(...latencies),
      };
      console.info(`M=${agents} run ${r}: approve ${run.approveMs} ms, then p50 ${run.p50} p99 ${run.p99} max ${run.max} ms`);
      runs.push(run);
    }
    const { errors, firstError } = await swarm.counts();
    if (errors) throw new Error(`${errors} agents failed a bundle: ${firstError}`);
    return runs;
  } finally {
    await swarm?.stop();
    await hub.kill(cpuProf ? 'SIGTERM' : 'SIGKILL'); // a SIGTERM'd hub writes its CPU profile
    await hub.cleanup();
    await rm(agentDir, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  }
}

const fmt = (xs: number[]) => `${Math.round(median(xs))} ${spread(xs)}`;

async function main(): Promise<void> {
  const load1 = loadavg()[0] ?? 0;
  const rows: string[] = [];
  for (const m of SIZES) {
    const runs = await measure(m);
    const target = TARGET_MS[m];
    const maxMedian = median(runs.map((r) => r.max));
    const verdict = target === undefined ? '' : maxMedian < target ? `met (< ${target} ms)` : `MISSED (< ${target} ms)`;
    rows.push(
      `| ${m} | ${fmt(runs.map((r) => r.approveMs))} | ${fmt(runs.map((r) => r.p50))} | ${fmt(runs.map((r) => r.p99))} | ${fmt(runs.map((r) => r.max))} | ${verdict} |`,
    );
  }
  const where = `light agents in ${WORKERS} processes, roots and state ${args['agent-dir'] ? `under ${args['agent-dir']}` : 'in a temp dir on disk'}`;
  const what = args['skip-apply']
    ? `${FILES}-file bundles verified and stored as the agent does, engine skipped (${where});`
    : `Each agent applies a ${FILES}-file templated bundle with the real engine into its own root (${where});`;
  const section = [
    HEADING,
    '',
    what,
    'time from `hub approve` returning to the hub storing each node’s report. Median [min–max] over the runs, in ms.',
    `Machine: ${cpus()[0]?.model ?? '?'} ×${cpus().length}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, ` +
      `load average ${load1.toFixed(2)} at the start.`,
    `Command: \`npx tsx bench/approval.ts --agents ${args.agents} --runs ${RUNS} --files ${FILES} --workers ${WORKERS}` +
      `${args['agent-dir'] ? ` --agent-dir ${args['agent-dir']}` : ''}${args['skip-apply'] ? ' --skip-apply' : ''}\``,
    '',
    '| agents | `hub approve` itself | p50 | p99 | max (converged) | target |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
  console.info(section);
  if (args.write) await replaceSection(args.results, HEADING, section);
}

await main();
