import { join } from 'node:path';
import { AGENT_BIN, HUB_BIN } from '../../test/helpers/processes.js';
import { type Output, seconds } from './output.js';
import type { CliResult, Daemon, Supervisor } from './processes.js';

/**
 * What every step of the demo gets: where things live, and the two CLIs run
 * as a user runs them (shown, then checked: a non-zero exit fails the step).
 */

export const NODES = ['cooperator', 'projector', 'director'] as const;
export type NodeName = (typeof NODES)[number];

/** Ways to make the demo fail on purpose, so its failure path can be tested. */
export type BreakMode = 'invalid-revision' | 'kill-hub';

export interface StatusJson {
  nodes: { name: string; state: string; serial: number; revision: string | null; drift: number }[];
}

export interface DemoState {
  hub?: Daemon;
  /** The first revision (the rollback target). */
  first?: string;
}

export interface DemoContext {
  out: Output;
  sup: Supervisor;
  work: string;
  repoDir: string;
  /** examples/colab in this checkout. */
  examples: string;
  listen: string;
  breakMode: BreakMode | undefined;
  state: DemoState;
}

export const hubEnv = (ctx: DemoContext) => ({ STEMS_HUB_DATA: join(ctx.work, 'hub') });
export const nodeDir = (ctx: DemoContext, node: NodeName) => join(ctx.work, 'nodes', node);
export const nodeRoot = (ctx: DemoContext, node: NodeName) => join(nodeDir(ctx, node), 'root');
export const nodeEnv = (ctx: DemoContext, node: NodeName) => ({
  STEMS_AGENT_CONFIG: join(nodeDir(ctx, node), 'agent.yaml'),
  STEMS_AGENT_STATE: join(nodeDir(ctx, node), 'state'),
  STEMS_AGENT_ROOT: nodeRoot(ctx, node),
});

/**
 * Settles with the work, or rejects as soon as a hub or agent dies. Work that
 * loses the race may still fail later; that failure is already reported.
 */
function unlessDied<T>(ctx: DemoContext, work: Promise<T>): Promise<T> {
  work.catch(() => undefined);
  return Promise.race([work, ctx.sup.died]);
}

interface CliOptions {
  /** Run without printing the command and its output. */
  quiet?: boolean;
  /**
   * Exit codes that still carry an answer on stdout: `hub status` exits 1
   * while a node is drifted, failed or offline.
   * @default [0]
   */
  okCodes?: readonly number[];
}

function check(result: CliResult, shown: string, okCodes: readonly number[] = [0]): string {
  const answered = result.code === 0 || (result.stdout.trim() !== '' && okCodes.includes(result.code ?? -1));
  if (answered) return result.stdout;
  const said = `${result.stderr}${result.stdout}`.trim();
  throw new Error(`\`${shown}\` exited ${result.code}${said ? `:\n${said}` : ''}`);
}

/** Runs `hub …` against the demo's data dir; prints the command and its output unless quiet. */
export async function hub(ctx: DemoContext, args: string[], opts: CliOptions = {}): Promise<string> {
  if (!opts.quiet) ctx.out.command(['hub', ...args]);
  const stdout = check(await unlessDied(ctx, ctx.sup.run(HUB_BIN, args, hubEnv(ctx))), `hub ${args.join(' ')}`, opts.okCodes);
  if (!opts.quiet) ctx.out.block(stdout);
  return stdout;
}

/** Runs `stems-agent …` as the given node (its config, state and root). */
export async function agent(ctx: DemoContext, node: NodeName, args: string[], opts: CliOptions = {}): Promise<string> {
  if (!opts.quiet) ctx.out.command(['stems-agent', ...args], node);
  const result = await unlessDied(ctx, ctx.sup.run(AGENT_BIN, args, nodeEnv(ctx, node)));
  const stdout = check(result, `stems-agent ${args.join(' ')}`, opts.okCodes);
  if (!opts.quiet) ctx.out.block(stdout);
  return stdout;
}

/** `hub status` as shown to the user (exit 1 just means not every node is converged). */
export const showStatus = (ctx: DemoContext) => hub(ctx, ['status'], { okCodes: [0, 1] });

/** How often waitUntil() checks. @default 250 ms */
const POLL_MS = 250;

/**
 * Polls until check() returns a value. Fails at once when a hub or agent
 * process dies, and stops polling when the demo is stopping (Ctrl-C, another
 * failure), so no stray CLI call outlives the cleanup.
 */
export async function waitUntil<T>(ctx: DemoContext, what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline && !ctx.sup.stopping) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await Promise.race([new Promise((r) => setTimeout(r, POLL_MS)), ctx.sup.died]);
  }
  const why = last instanceof Error ? `: ${last.message}` : '';
  throw new Error(`${ctx.sup.stopping ? 'stopped' : `timed out after ${timeoutMs} ms`} waiting for ${what}${why}`);
}

/** How often `hub status --watch` prints while the demo waits on it. */
const WATCH_INTERVAL = '500ms';

/**
 * Follows `hub status --watch --json` (one process, one JSON line per
 * interval) until a status satisfies `ready`; returns that status.
 */
export async function watchStatus(
  ctx: DemoContext,
  what: string,
  ready: (s: StatusJson) => boolean,
  timeoutMs = 30_000,
): Promise<StatusJson> {
  let seen: StatusJson | undefined;
  const parse = (line: string): StatusJson | undefined => {
    try {
      const value = JSON.parse(line) as StatusJson | { error: unknown };
      return 'nodes' in value ? value : undefined;
    } catch (err) {
      if (err instanceof SyntaxError) return undefined; // not a JSON line: wait for the next one
      throw err;
    }
  };
  const watching = ctx.sup.stream({
    bin: HUB_BIN,
    args: ['status', '--watch', '--json', '--interval', WATCH_INTERVAL],
    env: hubEnv(ctx),
    timeoutMs,
    done: (line) => {
      const s = parse(line);
      if (s && ready(s)) seen = s;
      return seen !== undefined;
    },
  });
  try {
    await unlessDied(ctx, watching);
  } catch (err) {
    throw new Error(`waiting for ${what}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!seen) throw new Error(`waiting for ${what}: no status seen`);
  return seen;
}

/** Waits until every node has applied the given serial, and shows how long that took. */
export async function converged(ctx: DemoContext, serial: number, revision?: string): Promise<StatusJson> {
  const started = Date.now();
  const s = await watchStatus(ctx, `all ${NODES.length} nodes converged at serial ${serial}`, (now) =>
    NODES.every((name) =>
      now.nodes.some((n) => n.name === name && n.state === 'converged' && n.serial === serial && (!revision || n.revision === revision)),
    ),
  );
  ctx.out.note(`all ${NODES.length} nodes converged at serial ${serial} after ${seconds(Date.now() - started)}`);
  return s;
}

export interface Step {
  title: string;
  run(ctx: DemoContext): Promise<void>;
}

/** A step that failed: which one, and why. */
export class StepFailed extends Error {
  constructor(
    readonly index: number,
    readonly title: string,
    readonly reason: unknown,
  ) {
    super(`step ${index} (${title}) failed: ${reason instanceof Error ? reason.message : String(reason)}`);
  }
}

/** Runs the steps in order, each numbered and timed; the first failure stops the tour. */
export async function runSteps(ctx: DemoContext, steps: readonly Step[]): Promise<void> {
  for (const [i, step] of steps.entries()) {
    ctx.out.stepStart(i + 1, steps.length, step.title);
    const started = Date.now();
    try {
      await unlessDied(ctx, step.run(ctx));
    } catch (err) {
      throw new StepFailed(i + 1, step.title, err);
    }
    ctx.out.stepDone(Date.now() - started);
  }
}
