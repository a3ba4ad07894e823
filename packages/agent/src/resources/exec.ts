import fs from 'node:fs';
import { type ExecResource, StemsError } from '@stems/shared';
import { describeExit, type RunResult, runArgv } from '../system/run.js';
import type { Ctx, ExamineOptions, Handle, Step } from './types.js';

/** Output kept in the report, the tail of stdout+stderr. @default 400 characters */
const REPORT_OUTPUT_CHARS = 400;

export interface ExecActual {
  /** Why the command will not run, when a guard says so. */
  skipBecause?: 'not notified' | 'creates exists' | 'unless succeeded' | 'onlyif failed' | undefined;
}

function runOptions(resource: ExecResource, ctx: Ctx) {
  return {
    timeoutMs: resource.timeoutMs,
    cwd: resource.cwd === undefined ? undefined : ctx.fs.hostPath(resource.cwd),
    // STEMS_ROOT tells a command where the managed tree lives ("/" on a real
    // node), so a handler can skip touching the host under a test root.
    env: { STEMS_ROOT: ctx.fs.root === '' ? '/' : ctx.fs.root, ...resource.env },
  };
}

/**
 * Evaluates the guards, cheapest first: refreshonly, then `creates` (under
 * the root), then the `unless` and `onlyif` commands (exit code decides).
 */
export async function readExec(resource: ExecResource, ctx: Ctx, options: ExamineOptions): Promise<ExecActual> {
  if (resource.refreshonly && !options.notified) return { skipBecause: 'not notified' };
  if (resource.creates !== undefined && fs.existsSync(ctx.fs.hostPath(resource.creates))) return { skipBecause: 'creates exists' };
  if (resource.unless && (await runArgv(resource.unless, runOptions(resource, ctx))).code === 0) return { skipBecause: 'unless succeeded' };
  if (resource.onlyif && (await runArgv(resource.onlyif, runOptions(resource, ctx))).code !== 0) return { skipBecause: 'onlyif failed' };
  return {};
}

/** Pure. Running is an event, not a state: no drift aspects. */
export function planExec(resource: ExecResource, actual: ExecActual, options: ExamineOptions): Step | undefined {
  if (actual.skipBecause) return undefined;
  const why = options.notified ? ' (notified)' : '';
  return { action: 'run', changes: [`run ${resource.argv.join(' ')}${why}`], aspects: [], refreshes: true };
}

function trimOutput(output: string): string {
  const text = output.trim();
  return text.length > REPORT_OUTPUT_CHARS ? `…${text.slice(-REPORT_OUTPUT_CHARS)}` : text;
}

export async function applyExec(resource: ExecResource, ctx: Ctx): Promise<string[]> {
  const result: RunResult = await runArgv(resource.argv, runOptions(resource, ctx));
  const outcome = describeExit(result, resource.timeoutMs);
  ctx.log.info({ id: resource.id, code: result.code, timedOut: result.timedOut, durationMs: Math.round(result.durationMs) }, 'exec ran');
  if (result.code !== 0 || result.timedOut) {
    throw new StemsError('STEMS_APPLY_EXEC_FAILED', `Command ${resource.argv.join(' ')} failed: ${outcome}`, {
      hint: result.timedOut
        ? 'Raise the timeout of the exec resource, or make the command faster.'
        : 'See the output in the report details.',
      details: { id: resource.id, code: result.code, timedOut: result.timedOut, output: trimOutput(result.output) },
    });
  }
  const output = trimOutput(result.output);
  return output === '' ? [outcome] : [outcome, `output: ${output}`];
}

export async function examineExec(resource: ExecResource, ctx: Ctx, options: ExamineOptions): Promise<Handle> {
  const actual = await readExec(resource, ctx, options);
  return { step: planExec(resource, actual, options), apply: () => applyExec(resource, ctx) };
}
