/**
 * Benchmark (not a timed test): N templated files through
 * `stems-agent apply --once` as whole processes (Node start, config, bundle
 * signature check and facts cache included), against the plain-Node floor
 * (bench/floor.mjs). Phases: first apply (empty root), no-op, repair of 10
 * edited + 1 deleted file, with peak RSS per phase. The idle daemon is
 * measured by bench/agent-footprint.ts, the other tools by bench/anchors.ts.
 *
 *   npx tsx bench/agent-apply.ts [--files 1000] [--runs 5] [--write] [--cpu-prof DIR]
 *     [--work DIR (keep the set-up and reuse it next time)] [--quick (agent only: no floor)]
 *
 * The bundle is made the way a user makes it (bench/_stems.ts); only then are
 * the one-shot applies timed. Needs `pnpm build` first. --write puts the table
 * into bench/RESULTS.md; --cpu-prof DIR also writes V8 CPU profiles of one
 * first apply and one no-op.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { assertBuilt } from '../test/helpers/processes.js';
import { fmtMs, fmtRss, measureRounds, medianMs, type PhaseSamples, type Subject, timed } from './_measure.js';
import { PHASES, phaseReset } from './_scenario.js';
import { replaceSection } from './_stats.js';
import { agentEnvOf, BENCH_DIR, INSTALLED_AGENT, setupStems } from './_stems.js';

const { values: args } = parseArgs({
  options: {
    files: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '5' },
    write: { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
    /** Time another build of the agent instead of the installed bundle, e.g. the development stub `packages/agent/bin/stems-agent`. */
    'agent-cmd': { type: 'string' },
    /** Reuse (or create and keep) this work directory: skips the hub set-up when it already holds an enrolled agent. */
    work: { type: 'string' },
    /** Skip the floor (quick iterations). */
    quick: { type: 'boolean', default: false },
  },
});
const FILES = Number(args.files);
const RUNS = Number(args.runs);
const TARGETS = { first: 1200, noop: 350, repair: 350 };

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
    if (!reuse) await (await setupStems({ work, n: FILES })).stop();
    const env = agentEnvOf(work);
    const root = env.STEMS_AGENT_ROOT as string;
    const reset = phaseReset(root, join(root, BENCH_DIR), FILES);
    const profileDir = args['cpu-prof'];
    if (profileDir) {
      const profiled = () =>
        timed(process.execPath, ['--cpu-prof', '--cpu-prof-dir', profileDir, ...INSTALLED_AGENT.argv, 'apply', '--once'], { env });
      await reset('first');
      await profiled();
      await profiled();
    }
    const [agentCmd, ...agentArgs] = args['agent-cmd']?.split(' ') ?? [INSTALLED_AGENT.cmd, ...INSTALLED_AGENT.argv];
    const stems: Subject = { run: () => timed(agentCmd as string, [...agentArgs, 'apply', '--once'], { env }), reset };
    if (args.quick) {
      const [agent] = (await measureRounds([stems], RUNS)) as [PhaseSamples];
      for (const phase of PHASES) console.log(`${phase}: ${fmtMs(agent[phase])}, peak RSS ${fmtRss(agent[phase])}`);
      return;
    }
    const floorRoot = join(work, 'floor');
    const floorSubject: Subject = {
      run: () => timed(process.execPath, ['bench/floor.mjs', floorRoot, String(FILES)]),
      reset: phaseReset(floorRoot, join(floorRoot, BENCH_DIR), FILES),
    };
    const [agent, floor] = (await measureRounds([stems, floorSubject], RUNS)) as [PhaseSamples, PhaseSamples];
    const rows = PHASES.map((phase) => {
      const ratio = medianMs(agent[phase]) / medianMs(floor[phase]);
      const met = medianMs(agent[phase]) <= TARGETS[phase] ? 'met' : 'missed';
      return `| ${phase} | ${fmtMs(agent[phase])} | ${fmtRss(agent[phase])} | ${fmtMs(floor[phase])} | ${fmtRss(floor[phase])} | ${ratio.toFixed(2)}× | ≤ ${TARGETS[phase]} ms: ${met} |`;
    });
    const table = [
      `Machine: ${cpus().length} cores (${cpus()[0]?.model.trim()}), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, load average ${loadavg()[0]?.toFixed(1)} at the end.`,
      `${FILES} files from one template (per-file vars, two host facts), mode 0644, one directory; median of ${RUNS} runs [min–max]; whole processes; stems and the floor take turns, round by round.`,
      'Run: `pnpm build && npx tsx bench/agent-apply.ts --write`.',
      '',
      '| phase | stems-agent apply --once | peak RSS | plain-Node floor | floor RSS | ratio | target |',
      '|---|---|---|---|---|---|---|',
      ...rows,
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
