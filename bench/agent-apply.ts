/**
 * Benchmark (not a timed test): 1000 templated files through
 * `stems-agent apply --once` as whole processes (Node start, config, bundle
 * signature check and facts cache included), against the plain-Node floor
 * (bench/floor.mjs). Phases: first apply (empty root), no-op, repair of 10
 * edited + 1 deleted file. Also peak RSS per phase and the idle RSS of
 * `stems-agent run`.
 *
 *   npx tsx bench/agent-apply.ts [--files 1000] [--runs 5] [--idle-sec 30] [--write] [--cpu-prof DIR]
 *     [--work DIR (keep the set-up and reuse it next time)] [--quick (agent only: no floor, no idle)]
 *
 * The bundle is made the way a user makes it: a git repo, a real hub
 * (`hub init`, `hub serve`), a real agent enrolled with a join token that
 * pulls and applies it once; only then are the one-shot applies timed.
 * Needs `pnpm build` first. --write puts the table into bench/RESULTS.md;
 * --cpu-prof DIR also writes V8 CPU profiles of one first apply and one no-op.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { makeGitRepo } from '../test/helpers/git-http.js';
import { AGENT_BIN, assertBuilt, eventually, freePort, HUB_BIN, runOk, startDaemon } from '../test/helpers/processes.js';
import { median, replaceSection, spread } from './_stats.js';

const { values: args } = parseArgs({
  options: {
    files: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '5' },
    'idle-sec': { type: 'string', default: '30' },
    write: { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
    /** Time another build of the agent, e.g. the esbuild bundle: `node packages/agent/dist/stems-agent.mjs`. */
    'agent-cmd': { type: 'string' },
    /** Reuse (or create and keep) this work directory: skips the hub set-up when it already holds an enrolled agent. */
    work: { type: 'string' },
    /** Skip the floor and the idle measurement (quick iterations). */
    quick: { type: 'boolean', default: false },
  },
});
const FILES = Number(args.files);
const RUNS = Number(args.runs);
const TARGETS = { first: 1200, noop: 350, repair: 350 };

const TEMPLATE = '# managed by stems\nhost = {{facts.hostname}}\nip = {{facts.primaryIp}}\nname = {{vars.name}}\nvalue = {{vars.value}}\n';

function repo(): Record<string, string> {
  const resources = Array.from(
    { length: FILES },
    (_, i) =>
      `  - file: /etc/bench/file-${i}.conf\n    template: item.hbs\n    mode: "0644"\n    vars: { name: item-${i}, value: ${i * 7} }`,
  );
  return {
    'cluster.yaml': 'apiVersion: stems/v1\ncluster: bench\nnodes:\n  bench-node: {}\ngroups:\n  all: { roles: [bench] }\n',
    'roles/bench/role.yaml': `resources:\n${resources.join('\n')}\n`,
    'roles/bench/files/item.hbs': TEMPLATE,
  };
}

interface Sample {
  ms: number;
  rssKiB: number;
}

/** Runs a whole process under /usr/bin/time for wall time and peak RSS. */
function timed(cmd: string, argv: string[], env: NodeJS.ProcessEnv): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('/usr/bin/time', ['-f', '%M', cmd, ...argv], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - started;
      if (code !== 0) reject(new Error(`${cmd} ${argv.join(' ')} exited ${code}: ${err}`));
      else resolve({ ms, rssKiB: Number(err.trim().split('\n').pop()) });
    });
  });
}

async function damage(dir: string): Promise<void> {
  for (let i = 0; i < 10; i++) await writeFile(join(dir, `file-${i * 97}.conf`), 'edited by hand\n');
  await unlink(join(dir, 'file-500.conf'));
}

type Phase = 'first' | 'noop' | 'repair';

async function measure(run: () => Promise<Sample>, reset: (phase: Phase) => Promise<void>): Promise<Record<Phase, Sample[]>> {
  const out: Record<Phase, Sample[]> = { first: [], noop: [], repair: [] };
  for (let r = 0; r < RUNS; r++) {
    for (const phase of ['first', 'noop', 'repair'] as const) {
      await reset(phase);
      out[phase].push(await run());
    }
  }
  return out;
}

function agentEnvOf(work: string): NodeJS.ProcessEnv {
  return {
    STEMS_AGENT_CONFIG: join(work, 'agent', 'agent.yaml'),
    STEMS_AGENT_STATE: join(work, 'agent', 'state'),
    STEMS_AGENT_ROOT: join(work, 'root'),
  };
}

async function setupAgent(work: string): Promise<NodeJS.ProcessEnv> {
  const git = await makeGitRepo(repo(), 'bench');
  const hubEnv = { STEMS_HUB_DATA: join(work, 'hub') };
  const agentEnv = agentEnvOf(work);
  const listen = `127.0.0.1:${await freePort()}`;
  await runOk(HUB_BIN, ['init', '--repo', git.dir, '--listen', listen], hubEnv);
  const hub = startDaemon(HUB_BIN, ['serve'], hubEnv);
  try {
    await hub.waitFor(/hub listening/, 30_000);
    const key = (await runOk(HUB_BIN, ['key'], hubEnv)).trim();
    const token = JSON.parse(await runOk(HUB_BIN, ['join-token', 'create', '--json'], hubEnv)).token as string;
    const enrollArgs = ['enroll', '--hub', `http://${listen}`, '--hub-key', key, '--token', token, '--name', 'bench-node', '--offline'];
    await runOk(AGENT_BIN, enrollArgs, agentEnv);
    const agent = startDaemon(AGENT_BIN, ['run'], agentEnv);
    try {
      await eventually(
        async () => {
          const nodes = JSON.parse(await runOk(HUB_BIN, ['nodes', '--json'], hubEnv)) as { state: string }[];
          return nodes[0]?.state === 'accepted' ? true : undefined;
        },
        'the node accepted',
        60_000,
        250,
      );
      await runOk(HUB_BIN, ['sync'], hubEnv);
      await eventually(
        async () => {
          const revisions = JSON.parse(await runOk(HUB_BIN, ['revisions', '--json'], hubEnv)) as { state: string; errors: unknown[] }[];
          if (revisions[0]?.state === 'invalid') throw new Error(`bench repo is invalid: ${JSON.stringify(revisions[0].errors)}`);
          return revisions[0]?.state === 'valid' ? true : undefined;
        },
        'a valid revision',
        60_000,
        250,
      );
      await runOk(HUB_BIN, ['approve', 'latest', '--note', 'bench'], hubEnv);
      await eventually(
        async () => {
          const status = JSON.parse(await runOk(HUB_BIN, ['status', '--json'], hubEnv)) as { nodes: { serial: number }[] };
          return status.nodes[0]?.serial === 1 ? true : undefined;
        },
        'the bundle applied by the daemon',
        120_000,
        500,
      );
    } finally {
      await agent.stop();
    }
  } finally {
    await hub.stop();
    await git.cleanup();
  }
  return agentEnv;
}

async function idleRss(env: NodeJS.ProcessEnv, seconds: number): Promise<{ rssKiB: number; cpuPct: number }> {
  // The hub is stopped: the agent retries with backoff and enforces its last bundle, as when idle.
  const agent = startDaemon(AGENT_BIN, ['run'], env);
  try {
    await agent.waitFor(/agent running/, 30_000);
    await new Promise((r) => setTimeout(r, 5000));
    const stat = async () => (await readFile(`/proc/${agent.child.pid}/stat`, 'utf8')).split(' ');
    const ticks = (s: string[]) => Number(s[13]) + Number(s[14]);
    const before = ticks(await stat());
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const after = ticks(await stat());
    const status = await readFile(`/proc/${agent.child.pid}/status`, 'utf8');
    const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    return { rssKiB, cpuPct: ((after - before) / 100 / seconds) * 100 };
  } finally {
    await agent.stop();
  }
}

const fmt = (samples: Sample[]) => `${Math.round(median(samples.map((s) => s.ms)))} ms ${spread(samples.map((s) => s.ms))}`;
const rss = (samples: Sample[]) => `${(Math.max(...samples.map((s) => s.rssKiB)) / 1024).toFixed(0)} MB`;

/** The hand-written "what we found" part of the section survives a re-run (it follows FINDINGS). */
const FINDINGS = '\n### What we found and changed';
async function keptFindings(heading: string): Promise<string> {
  const text = await readFile('bench/RESULTS.md', 'utf8').catch(() => '');
  const start = text.indexOf(heading);
  if (start < 0) return '';
  const end = text.indexOf('\n## ', start + 1);
  const section = text.slice(start, end < 0 ? undefined : end + 1);
  const at = section.indexOf(FINDINGS);
  return at < 0 ? '' : section.slice(at);
}

async function main(): Promise<void> {
  assertBuilt();
  const work = args.work ?? (await mkdtemp(join(tmpdir(), 'stems-bench-')));
  try {
    const reuse = args.work !== undefined && existsSync(join(work, 'agent', 'agent.yaml'));
    const env = reuse ? agentEnvOf(work) : await setupAgent(work);
    const root = env.STEMS_AGENT_ROOT as string;
    const benchDir = join(root, 'etc/bench');
    const reset = async (phase: Phase) => {
      if (phase === 'first') await rm(root, { recursive: true, force: true });
      if (phase === 'repair') await damage(benchDir);
    };
    const profileDir = args['cpu-prof'];
    if (profileDir) {
      const profiled = () => timed(process.execPath, ['--cpu-prof', '--cpu-prof-dir', profileDir, AGENT_BIN, 'apply', '--once'], env);
      await reset('first');
      await profiled();
      await profiled();
    }
    const [agentCmd, ...agentArgs] = args['agent-cmd']?.split(' ') ?? [AGENT_BIN];
    const agent = await measure(() => timed(agentCmd as string, [...agentArgs, 'apply', '--once'], env), reset);
    if (args.quick) {
      for (const phase of ['first', 'noop', 'repair'] as const)
        console.log(`${phase}: ${fmt(agent[phase])}, peak RSS ${rss(agent[phase])}`);
      return;
    }
    const floorRoot = join(work, 'floor');
    const floorReset = async (phase: Phase) => {
      if (phase === 'first') await rm(floorRoot, { recursive: true, force: true });
      if (phase === 'repair') await damage(join(floorRoot, 'etc/bench'));
    };
    const floor = await measure(() => timed(process.execPath, ['bench/floor.mjs', floorRoot, String(FILES)], {}), floorReset);
    const idle = await idleRss(env, Number(args['idle-sec']));
    const rows = (['first', 'noop', 'repair'] as const).map((phase) => {
      const ratio = median(agent[phase].map((s) => s.ms)) / median(floor[phase].map((s) => s.ms));
      const met = median(agent[phase].map((s) => s.ms)) <= TARGETS[phase] ? 'met' : 'missed';
      return `| ${phase} | ${fmt(agent[phase])} | ${rss(agent[phase])} | ${fmt(floor[phase])} | ${rss(floor[phase])} | ${ratio.toFixed(2)}× | ≤ ${TARGETS[phase]} ms: ${met} |`;
    });
    const table = [
      `Machine: ${cpus().length} cores (${cpus()[0]?.model.trim()}), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, load average ${loadavg()[0]?.toFixed(1)} at the end.`,
      `${FILES} files from one template (per-file vars, two host facts), mode 0644, one directory; median of ${RUNS} runs [min–max]; whole processes.`,
      'Run: `pnpm build && npx tsx bench/agent-apply.ts --write`.',
      '',
      '| phase | stems-agent apply --once | peak RSS | plain-Node floor | floor RSS | ratio | target |',
      '|---|---|---|---|---|---|---|',
      ...rows,
      '',
      `Idle \`stems-agent run\` over ${args['idle-sec']} s: RSS ${(idle.rssKiB / 1024).toFixed(0)} MB (target < 60 MB), CPU ${idle.cpuPct.toFixed(2)} % of one core.`,
    ].join('\n');
    console.log(table);
    if (args.write) {
      const heading = `## Agent apply (${FILES} templated files)`;
      await replaceSection('bench/RESULTS.md', heading, `${heading}\n\n${table}\n${await keptFindings(heading)}`);
    }
  } finally {
    if (args.work === undefined) await rm(work, { recursive: true, force: true });
  }
}

await main();
