/**
 * Benchmark (not a timed test): stems against the tools people would use
 * instead, side by side in one run, on the same scenario (bench/_scenario.ts):
 * `stems-agent apply --once`, the plain-Node floor (bench/floor.mjs),
 * CFEngine `cf-agent`, `puppet apply` and `ansible-playbook -c local`
 * (installed from Debian's packages when missing). Whole processes, facts
 * and (stems) signature check included; phases first apply, no-op, repair
 * (10 edited + 1 deleted file). Every phase's result is checked against the
 * expected rendering, so each tool is timed doing the real job.
 *
 *   npx tsx bench/anchors.ts [--n 100,1000,5000] [--runs 5] [--tools stems,floor,cfengine,puppet,ansible]
 *     [--ansible-n 100] [--ansible-runs 1] [--write]
 *
 * Ansible takes about a minute per 100 files, so by default it runs only at
 * N = 100 and once per phase. Needs `pnpm build` first; run as root (the
 * anchors are installed with apt-get). --write puts the tables into bench/RESULTS.md.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { assertBuilt } from '../test/helpers/processes.js';
import { ANCHORS, installMissing, type ToolRun } from './_anchor-tools.js';
import { fmtRss, fmtSec, measureRounds, medianMs, type PhaseSamples, type Subject, timed } from './_measure.js';
import { PHASES, type Phase, phaseReset, verify } from './_scenario.js';
import { replaceSection } from './_stats.js';
import { agentEnvOf, BENCH_DIR, INSTALLED_AGENT, setupStems } from './_stems.js';

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '100,1000,5000' },
    runs: { type: 'string', default: '5' },
    tools: { type: 'string', default: 'stems,floor,cfengine,puppet,ansible' },
    'ansible-n': { type: 'string', default: '100' },
    'ansible-runs': { type: 'string', default: '1' },
    write: { type: 'boolean', default: false },
  },
});
const SIZES = args.n.split(',').map(Number);
const TOOLS = args.tools.split(',');
const RUNS = Number(args.runs);
const ANSIBLE_SIZES = new Set(args['ansible-n'].split(',').map(Number));
const TARGETS_MS = { first: 1200, noop: 350, repair: 350 };
const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

interface Row {
  n: number;
  tool: string;
  runs: number;
  samples: PhaseSamples;
}

/** One tool's three phases on `out`, its files checked after each phase. */
function subject(opts: { tool: string; n: number; runs: number; out: string; run: ToolRun; clear: string }): Subject & { runs: number } {
  const { n, out } = opts;
  return {
    run: () => timed(opts.run.cmd, opts.run.argv, { env: opts.run.env ?? {} }),
    reset: phaseReset(opts.clear, out, n),
    after: async (phase: Phase) => {
      const problems = await verify(out, n);
      if (problems.length > 0) throw new Error(`${opts.tool} N=${n} after ${phase}:\n${problems.slice(0, 5).join('\n')}`);
    },
    runs: opts.runs,
  };
}

/** Sets every tool up for N files, then measures them round by round (measureRounds), so they share the machine's ups and downs. */
async function benchSize(work: string, n: number): Promise<Row[]> {
  const tools: Array<{ tool: string; subject: Subject & { runs: number } }> = [];
  const add = (opts: Parameters<typeof subject>[0]) => tools.push({ tool: opts.tool, subject: subject(opts) });
  if (TOOLS.includes('stems')) {
    const dir = join(work, `stems-${n}`);
    log(`stems N=${n}: setting up hub and agent`);
    await (await setupStems({ work: dir, n })).stop();
    const env = agentEnvOf(dir);
    const root = env.STEMS_AGENT_ROOT as string;
    const run = { cmd: INSTALLED_AGENT.cmd, argv: [...INSTALLED_AGENT.argv, 'apply', '--once'], env };
    add({ tool: 'stems', n, runs: RUNS, out: join(root, BENCH_DIR), run, clear: root });
  }
  if (TOOLS.includes('floor')) {
    const root = join(work, `floor-${n}`);
    const run = { cmd: process.execPath, argv: ['bench/floor.mjs', root, String(n)] };
    add({ tool: 'floor', n, runs: RUNS, out: join(root, BENCH_DIR), run, clear: root });
  }
  for (const tool of ANCHORS) {
    if (!TOOLS.includes(tool.name) || (tool.name === 'ansible' && !ANSIBLE_SIZES.has(n))) continue;
    const dir = join(work, `${tool.name}-${n}`);
    await mkdir(dir, { recursive: true });
    const out = join(dir, 'out');
    const run = await tool.prepare({ dir, out, n });
    const runs = tool.name === 'ansible' ? Number(args['ansible-runs']) : RUNS;
    add({ tool: tool.name, n, runs, out, run, clear: out });
  }
  log(`N=${n}: ${tools.map((t) => `${t.tool} ${t.subject.runs}`).join(', ')} run(s), round by round`);
  const samples = await measureRounds(
    tools.map((t) => t.subject),
    Math.max(...tools.map((t) => t.subject.runs)),
  );
  return tools.map((t, i) => ({ n, tool: t.tool, runs: t.subject.runs, samples: samples[i] as PhaseSamples }));
}

const OWN_LABELS: Record<string, string> = {
  stems: '**stems** `stems-agent apply --once`',
  floor: 'plain-Node floor (bench/floor.mjs)',
};

/** A tool's name in the tables, with the version it reports (asked after installMissing has run). */
function labelOf(tool: string): string {
  const anchor = ANCHORS.find((t) => t.name === tool);
  return OWN_LABELS[tool] ?? (anchor ? `${anchor.label} (${anchor.version()})` : tool);
}

function tables(rows: Row[]): string {
  const floorOf = (n: number) => rows.find((r) => r.tool === 'floor' && r.n === n);
  const line = (r: Row) => {
    const floor = floorOf(r.n);
    const ratio =
      floor && r.tool !== 'floor' ? PHASES.map((p) => (medianMs(r.samples[p]) / medianMs(floor.samples[p])).toFixed(1)).join(' / ') : '';
    const runs = r.runs === RUNS ? '' : ` (${r.runs} run${r.runs === 1 ? '' : 's'})`;
    return `| ${r.n} | ${labelOf(r.tool)}${runs} | ${PHASES.map((p) => fmtSec(r.samples[p])).join(' | ')} | ${fmtRss([...r.samples.first, ...r.samples.noop, ...r.samples.repair])} | ${ratio} |`;
  };
  const targets = rows
    .filter((r) => r.tool === 'stems' && r.n === 1000)
    .flatMap((r) =>
      PHASES.map(
        (p) =>
          `${p} ${Math.round(medianMs(r.samples[p]))} ms (≤ ${TARGETS_MS[p]}: ${medianMs(r.samples[p]) <= TARGETS_MS[p] ? 'met' : 'missed'})`,
      ),
    );
  const big = rows.find((r) => r.tool === 'stems' && r.n === 5000);
  if (big)
    targets.push(
      `no-op at 5000 ${Math.round(medianMs(big.samples.noop))} ms (≤ 1000: ${medianMs(big.samples.noop) <= 1000 ? 'met' : 'missed'})`,
    );
  return [
    `Machine: ${cpus().length} cores (${cpus()[0]?.model.trim()}), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} at the end.`,
    `Scenario: N files from one template (per-file vars name/value, host facts hostname and primary IP from each tool's own facts), mode 0644, one directory. Phases: first apply into an empty directory, no-op, repair of 10 edited + 1 deleted file; every phase's files are checked against the expected text. Whole-process wall time, median of ${RUNS} runs [min–max], the tools taking turns round by round; peak RSS of the largest process (and of the whole process tree when larger). Ansible runs only at N = ${[...ANSIBLE_SIZES].join(', ')} and ${args['ansible-runs']} time(s) per phase (about a minute per 100 files).`,
    `Run: \`pnpm build && npx tsx bench/anchors.ts --n ${args.n} --runs ${RUNS} --write\`.`,
    '',
    '| N | tool | first apply | no-op | repair | peak RSS | × floor (first / no-op / repair) |',
    '|---|---|---|---|---|---|---|',
    ...rows.map(line),
    '',
    targets.length > 0 ? `Stems targets: ${targets.join('; ')}.` : '',
  ].join('\n');
}

async function main(): Promise<void> {
  if (TOOLS.includes('stems')) assertBuilt();
  installMissing(ANCHORS.filter((t) => TOOLS.includes(t.name)));
  const work = await mkdtemp(join(tmpdir(), 'stems-anchors-'));
  const rows: Row[] = [];
  try {
    for (const n of SIZES) rows.push(...(await benchSize(work, n)));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const text = tables(rows);
  console.log(text);
  if (args.write) {
    const heading = '## Agent apply vs CFEngine, Puppet, Ansible';
    await replaceSection('bench/RESULTS.md', heading, `${heading}\n\n${text}\n`);
  }
}

await main();
