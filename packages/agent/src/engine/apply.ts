import { type ApplyReport, type ApplyStatus, type BundlePayload, type Resource, type ResourceReport, StemsError, toStemsError, UNIT_DIR } from '@stems/shared';
import type { Ctx, Step } from '../resources/types.js';
import { createContext, type EngineOptions } from './context.js';
import { applies, examine, Notifications } from './examine.js';
import { Journal } from './journal.js';
import { addChanges, resourceReport, wireError } from './report.js';

export interface ApplyOptions extends EngineOptions {
  factsHash: string;
  /** Called as each resource starts (in order), for progress output. */
  onProgress?: (id: string) => void;
  /** Bytes of replaced files an apply may hold in memory for rollback. @default 256 MiB */
  rollbackBudgetBytes?: number;
}

interface Failure {
  id: string;
  error: unknown;
}

/** Aspects a fresh read must no longer show after apply (a oneshot unit may be inactive again by then). */
function verifyAspects(step: Step | undefined): string[] {
  return (step?.aspects ?? []).filter((a) => a !== 'unit-state');
}

/** Examines one resource, applies its step, verifies it; returns the step and extra words, or undefined when converged. */
async function applyOne(resource: Resource, ctx: Ctx, notified: boolean): Promise<{ step: Step; extra: string[] } | undefined> {
  const handle = await examine(resource, ctx, { notified });
  const { step } = handle;
  if (!step) return undefined;
  if (step.error) throw step.error;
  const extra = await handle.apply();
  if (resource.type !== 'exec') {
    const again = await examine(resource, ctx, { notified: false });
    const left = verifyAspects(again.step);
    if (left.length > 0) {
      throw new StemsError('STEMS_APPLY_FAILED', `${resource.id} still differs after apply (${left.join(', ')})`, {
        hint: 'Something else on the node changes this path or unit at the same time.',
        details: { id: resource.id, aspects: left },
      });
    }
  }
  return { step, extra };
}

/** Parent directories of the paths this bundle writes, where a killed run may have left temp files. */
function writtenDirs(resources: readonly Resource[]): Set<string> {
  const dirs = new Set<string>();
  for (const r of resources) {
    const path = r.type === 'file' || r.type === 'symlink' ? r.path : r.type === 'unit' && r.body ? `${UNIT_DIR}/${r.name}` : undefined;
    if (path !== undefined) dirs.add(path.slice(0, path.lastIndexOf('/')) || '/');
  }
  dirs.delete('/');
  return dirs;
}

function removeStaleTemps(ctx: Ctx, resources: readonly Resource[]): void {
  for (const dir of writtenDirs(resources)) {
    try {
      const removed = ctx.fs.removeStaleTemps([dir]);
      if (removed.length > 0) ctx.log.warn({ removed }, 'removed temp files of an interrupted apply');
    } catch (err) {
      // a symlink or file in the way: the resource itself reports it
      if (!(err instanceof StemsError)) throw err;
    }
  }
}

/**
 * Applies in declared order, transactionally: with policy onFailure
 * "rollback" every change is journaled before it is made, and a failure
 * restores them all in reverse order. Never throws for a resource failure:
 * it is in the report.
 */
export async function applyBundle(payload: BundlePayload, opts: ApplyOptions): Promise<ApplyReport> {
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const journal = payload.policy.onFailure === 'rollback' ? new Journal(opts.rollbackBudgetBytes) : undefined;
  const log = opts.log.child({ serial: payload.serial });
  const ctx = createContext(payload, { ...opts, log }, journal);
  const notes = new Notifications();
  const reports = new Map<string, ResourceReport>();
  let failure: Failure | undefined;
  let rollbackFailures: Failure[] = [];

  const run = async (resource: Resource, late: boolean) => {
    const started = performance.now();
    try {
      if (!late && !applies(resource, ctx)) {
        reports.set(resource.id, resourceReport(resource.id, 'skipped', { changes: ['when is false'], durationMs: 0 }));
        return;
      }
      const done = await applyOne(resource, ctx, late || notes.pendingFor(resource.id));
      notes.visit(resource.id, done?.step.refreshes === true);
      const durationMs = performance.now() - started;
      const existing = reports.get(resource.id);
      if (!done) {
        if (!existing) reports.set(resource.id, resourceReport(resource.id, 'unchanged', { durationMs }));
        return;
      }
      if (existing && existing.outcome !== 'unchanged') addChanges(existing, [...done.step.changes, ...done.extra]);
      else reports.set(resource.id, resourceReport(resource.id, 'changed', { changes: [...done.step.changes, ...done.extra], step: done.step, durationMs }));
      log.info({ id: resource.id, changes: done.step.changes }, 'resource changed');
      notes.notify(resource.notify);
    } catch (error) {
      failure = { id: resource.id, error };
      reports.set(resource.id, { ...resourceReport(resource.id, 'failed', { durationMs: performance.now() - started }), error: wireError(error) });
      log.error({ id: resource.id, err: error }, 'resource failed');
    }
  };

  try {
    removeStaleTemps(ctx, payload.resources);
    for (const resource of payload.resources) {
      opts.onProgress?.(resource.id);
      await run(resource, false);
      if (failure) break;
    }
    for (const resource of failure ? [] : notes.lateTargets(payload.resources)) {
      await run(resource, true);
      if (failure) break;
    }
    if (failure && journal) {
      const touched = journal.touched();
      rollbackFailures = (await journal.rollback()).map((f) => ({ id: f.id, error: f.error }));
      for (const f of rollbackFailures) log.error({ id: f.id, err: f.error }, 'rollback step failed');
      for (const report of reports.values()) {
        if (report.outcome !== 'changed') continue;
        if (touched.has(report.id)) report.outcome = 'rolled_back';
        else addChanges(report, ['not undone: a command that ran cannot be rolled back']);
      }
    }
  } finally {
    try {
      ctx.fs.flush();
    } catch (error) {
      // the renames happened but may not survive a power cut: say so rather than claim success
      failure ??= { id: 'fsync', error: new StemsError('STEMS_APPLY_FAILED', `Could not fsync directories: ${String(error)}`, { cause: error }) };
      log.error({ err: error }, 'directory fsync failed');
    }
  }

  for (const resource of payload.resources) {
    if (!reports.has(resource.id)) {
      reports.set(resource.id, resourceReport(resource.id, 'skipped', { changes: ['not applied: an earlier resource failed'], durationMs: 0 }));
    }
  }
  const resources = payload.resources.map((r) => reports.get(r.id) as ResourceReport);
  const status = statusOf(failure, journal !== undefined, rollbackFailures, resources);
  const report: ApplyReport = {
    serial: payload.serial,
    commit: payload.revision.commit,
    status,
    startedAt,
    durationMs: Math.round(performance.now() - t0),
    resources,
    factsHash: opts.factsHash,
  };
  if (failure) report.error = wireError(topError(failure, status, rollbackFailures));
  log.info({ status, durationMs: report.durationMs }, 'apply finished');
  return report;
}

function statusOf(failure: Failure | undefined, rollback: boolean, rollbackFailures: Failure[], resources: ResourceReport[]): ApplyStatus {
  if (failure) return rollback && rollbackFailures.length === 0 ? 'rolled_back' : 'failed';
  return resources.some((r) => r.outcome === 'changed') ? 'changed' : 'converged';
}

function topError(failure: Failure, status: ApplyStatus, rollbackFailures: Failure[]): StemsError {
  const cause = toStemsError(failure.error, 'STEMS_APPLY_FAILED');
  const details = { id: failure.id, cause: cause.toJSON() };
  if (status === 'rolled_back') {
    return new StemsError('STEMS_APPLY_ROLLED_BACK', `${failure.id} failed (${cause.message}); every change of this apply was restored`, {
      hint: cause.hint ?? 'Fix the resource in the repository and approve a new revision.',
      details,
    });
  }
  if (rollbackFailures.length > 0) {
    const ids = rollbackFailures.map((f) => f.id).join(', ');
    return new StemsError('STEMS_APPLY_FAILED', `${failure.id} failed (${cause.message}) and the rollback was incomplete for ${ids}`, {
      hint: 'Check those resources by hand; the next apply will converge them again.',
      details: { ...details, rollbackFailed: rollbackFailures.map((f) => ({ id: f.id, error: toStemsError(f.error).toJSON() })) },
    });
  }
  return new StemsError('STEMS_APPLY_FAILED', `${failure.id} failed: ${cause.message}`, { hint: cause.hint, details });
}
