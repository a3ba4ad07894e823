import { type ApplyReport, type ApplyStatus, type BundlePayload, type ResourceReport, StemsError, toStemsError } from '@stems/shared';
import { WriteBatch } from '../system/write-batch.js';
import { ApplyRun, type Failure } from './apply-run.js';
import { createContext, type EngineOptions } from './context.js';
import { Journal } from './journal.js';
import { addChanges, resourceReport, wireError } from './report.js';
import { removeStaleTemps } from './stale-temps.js';

export interface ApplyOptions extends EngineOptions {
  factsHash: string;
  /** Called as each resource starts (in order), for progress output. */
  onProgress?: (id: string) => void;
  /** Bytes of replaced files an apply may hold in memory for rollback. @default 256 MiB */
  rollbackBudgetBytes?: number;
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
  const writes = new WriteBatch(ctx.fs);
  const run = new ApplyRun({ ...ctx, writes }, log);
  const { reports } = run;
  let rollbackFailures: Failure[] = [];
  try {
    removeStaleTemps(ctx, payload.resources);
    for (const resource of payload.resources) {
      opts.onProgress?.(resource.id);
      await run.run(resource, false);
      if (run.failure) break;
    }
    await run.flush();
    for (const resource of run.failure ? [] : run.lateTargets(payload.resources)) {
      await run.run(resource, true);
      if (run.failure) break;
    }
    if (run.failure && journal) {
      const touched = journal.touched();
      rollbackFailures = await journal.rollback();
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
      run.failure ??= {
        id: 'fsync',
        error: new StemsError('STEMS_APPLY_FAILED', `Could not fsync directories: ${String(error)}`, { cause: error }),
      };
      log.error({ err: error }, 'directory fsync failed');
    }
    ctx.fs.close();
  }
  const { failure } = run;

  const resources = payload.resources.map(
    (r) => reports.get(r.id) ?? resourceReport(r.id, 'skipped', { changes: ['not applied: an earlier resource failed'], durationMs: 0 }),
  );
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
