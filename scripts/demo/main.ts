import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertBuilt, freePort } from '../../test/helpers/processes.js';
import { printKeepHelp, writeStopScript } from './keep.js';
import { Output, seconds } from './output.js';
import { Supervisor } from './processes.js';
import { LIFECYCLE_STEPS } from './steps-lifecycle.js';
import { SETUP_STEPS } from './steps-setup.js';
import { type BreakMode, type DemoContext, runSteps, StepFailed } from './tour.js';

/**
 * `pnpm demo`: a hub and three agents on this machine, under one temp dir,
 * driven through the real CLIs like a guided tour. Exit 0 when every step
 * worked, 1 when one failed (with the processes' last log lines), 2 on a usage
 * error, 130/143 when interrupted; everything it started is stopped and its
 * temp dir removed in every case, unless --keep.
 */

const USAGE = `Usage: pnpm demo [--keep]

Runs a hub and three agents (cooperator, projector, director) on this machine
under a temp dir and walks through the lifecycle: revisions, diff, approve,
converge, drift, a change, a rollback. Needs \`pnpm install && pnpm build\`.

  --keep   leave the hub and the agents running at the end and print how to
           explore and stop them
  -h, --help

Environment: STEMS_DEMO_BREAK=invalid-revision|kill-hub makes it fail on
purpose (to test its failure path). NO_COLOR turns colours off.`;

const BREAK_MODES: readonly BreakMode[] = ['invalid-revision', 'kill-hub'];
const LOG_LINES_ON_FAILURE = 15;

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

function parseArgs(argv: string[]): { keep: boolean; help: boolean } | string {
  let keep = false;
  let help = false;
  for (const arg of argv) {
    if (arg === '--keep') keep = true;
    else if (arg === '-h' || arg === '--help') help = true;
    else return `unknown argument "${arg}"`;
  }
  return { keep, help };
}

/** The user's own STEMS_* settings would point the demo's commands at their hub or node. */
function childEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('STEMS_')));
}

async function main(): Promise<number> {
  // After Ctrl-C the terminal or the parent may be gone: losing the rest of
  // the output must not stop the cleanup halfway.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
  const out = new Output({
    write: (t) => process.stdout.write(t),
    color: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR,
    repoRoot,
  });
  const args = parseArgs(process.argv.slice(2));
  if (typeof args === 'string') {
    process.stderr.write(`pnpm demo: ${args}\n\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    out.line(USAGE);
    return 0;
  }
  const breakEnv = process.env.STEMS_DEMO_BREAK;
  const breakMode = BREAK_MODES.find((m) => m === breakEnv);
  if (breakEnv && !breakMode) {
    process.stderr.write(`pnpm demo: STEMS_DEMO_BREAK must be one of ${BREAK_MODES.join(', ')}\n`);
    return 2;
  }
  assertBuilt();

  const started = Date.now();
  const work = await mkdtemp(join(tmpdir(), 'stems-demo-'));
  const sup = new Supervisor(childEnv(process.env));
  let cleaning: Promise<void> | undefined;
  const cleanup = () => {
    cleaning ??= (async () => {
      await sup.stopAll();
      await rm(work, { recursive: true, force: true });
      out.note(`stopped ${sup.daemons.length} processes, removed ${work}`);
    })();
    return cleaning;
  };
  // Ctrl-C often arrives twice (the terminal signals the whole group and pnpm
  // passes it on too): a repeat must not cut the cleanup short, so the
  // handlers stay and only the first signal counts. The cleanup is bounded.
  let interruptedBy: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals, code: number) => {
    if (interruptedBy) return;
    interruptedBy = signal;
    out.line(out.red(`\ninterrupted (${signal}): cleaning up`));
    void cleanup().finally(() => process.exit(code));
  };
  process.on('SIGINT', () => onSignal('SIGINT', 130));
  process.on('SIGTERM', () => onSignal('SIGTERM', 143));
  process.on('SIGHUP', () => onSignal('SIGHUP', 129));

  const ctx: DemoContext = {
    out,
    sup,
    work,
    repoDir: join(work, 'colab'),
    examples: join(repoRoot, 'examples/colab'),
    listen: '',
    breakMode,
    state: {},
  };
  out.line(out.bold('stems demo: one hub and three agents on this machine'));
  out.note(`workdir: ${work}`);
  out.note('hub = packages/hub/bin/hub, stems-agent = packages/agent/bin/stems-agent; (node) marks a command run as that node');
  try {
    ctx.listen = `127.0.0.1:${await freePort()}`;
    await runSteps(ctx, [...SETUP_STEPS, ...LIFECYCLE_STEPS]);
  } catch (err) {
    if (cleaning) return 1; // interrupted: the signal handler owns the exit
    out.line();
    out.line(out.red(`✗ ${err instanceof StepFailed ? err.message : `failed: ${String(err)}`}`));
    for (const d of sup.daemons) {
      out.line(out.bold(`--- last lines of ${d.name} (${d.logPath})`));
      out.line(await sup.tail(d, LOG_LINES_ON_FAILURE));
    }
    await cleanup();
    return 1;
  }
  if (args.keep) {
    sup.release();
    printKeepHelp(ctx, await writeStopScript(ctx));
    out.line(out.green(`\n✓ demo finished in ${seconds(Date.now() - started)}; hub and agents left running (--keep)`));
    return 0;
  }
  await cleanup();
  out.line(out.green(`\n✓ demo finished in ${seconds(Date.now() - started)}`));
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`pnpm demo: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
