import type { Resource, ResourceReport } from '@stems/shared';
import { StemsError } from '@stems/shared';
import type { Logger } from 'pino';
import type { Ctx, Handle, Step } from '../resources/types.js';
import { MAX_STAGED_FILES, type WriteBatch } from '../system/write-batch.js';
import { applies, examine, Notifications } from './examine.js';
import { addChanges, resourceReport, wireError } from './report.js';

export interface Failure {
  id: string;
  error: unknown;
}

interface Pending {
  resource: Resource;
  handle: Handle;
  step: Step;
  started: number;
}

/**
 * One apply's walk over the resources, in declared order. File resources
 * stage their writes in a WriteBatch; the batch is committed (parallel
 * fsync, then renames in order) before any other kind of resource runs, when
 * it is full, and at the end, so everything before a resource is in place
 * when that resource runs.
 */
export class ApplyRun {
  readonly reports = new Map<string, ResourceReport>();
  failure: Failure | undefined;
  private readonly notes = new Notifications();
  private readonly pending: Pending[] = [];

  constructor(
    private readonly ctx: Ctx & { writes: WriteBatch },
    private readonly log: Logger,
  ) {}

  /** Applies one resource; `late` is a notified refresh after the main pass. Failures land in `failure`. */
  async run(resource: Resource, late: boolean): Promise<void> {
    if (resource.type !== 'file') {
      await this.flush();
      if (this.failure) return;
    }
    const started = performance.now();
    try {
      // commands and services may read what came before: make it durable first
      if (resource.type === 'exec' || resource.type === 'unit' || resource.type === 'package') this.ctx.fs.flush();
      if (!late && !applies(resource, this.ctx)) {
        this.reports.set(resource.id, resourceReport(resource.id, 'skipped', { changes: ['when is false'], durationMs: 0 }));
        return;
      }
      const handle = await examine(resource, this.ctx, { notified: late || this.notes.pendingFor(resource.id) });
      const { step } = handle;
      this.notes.visit(resource.id, step?.refreshes === true);
      if (!step) {
        if (!this.reports.has(resource.id))
          this.reports.set(resource.id, resourceReport(resource.id, 'unchanged', { durationMs: performance.now() - started }));
        return;
      }
      if (step.error) throw step.error;
      const extra = await handle.apply();
      if (resource.type === 'file') {
        this.pending.push({ resource, handle, step, started });
        if (this.ctx.writes.size >= MAX_STAGED_FILES) await this.flush();
        return;
      }
      await this.verify(resource, handle);
      this.changed(resource, step, extra, started);
    } catch (error) {
      await this.flush(); // what came before lands first, as in declared order
      this.fail(resource.id, error, started);
    }
  }

  /** Commits staged file writes and reports (and verifies) the resources they belong to. */
  async flush(): Promise<void> {
    if (this.pending.length === 0 && this.ctx.writes.size === 0) return;
    const items = this.pending.splice(0);
    const committed = await this.ctx.writes.commit();
    let installed = true;
    for (const item of items) {
      const { id } = item.resource;
      if (id === committed.failedId) {
        this.fail(id, committed.error ?? new StemsError('STEMS_APPLY_FAILED', `Could not write ${id}`), item.started);
        installed = false;
      }
      if (!installed) continue; // never installed: reported as not applied
      this.changed(item.resource, item.step, [], item.started);
      try {
        await this.verify(item.resource, item.handle);
      } catch (error) {
        this.fail(id, error, item.started);
      }
    }
  }

  lateTargets(resources: readonly Resource[]): Resource[] {
    return this.notes.lateTargets(resources);
  }

  /** A fresh read must show no difference left (unit-state aside: a oneshot unit may be inactive again already). */
  private async verify(resource: Resource, handle: Handle): Promise<void> {
    if (resource.type === 'exec') return;
    const again = handle.recheck ? handle.recheck() : (await examine(resource, this.ctx, { notified: false })).step;
    const left = (again?.aspects ?? []).filter((a) => a !== 'unit-state');
    if (left.length > 0) {
      throw new StemsError('STEMS_APPLY_FAILED', `${resource.id} still differs after apply (${left.join(', ')})`, {
        hint: 'Something else on the node changes this path or unit at the same time.',
        details: { id: resource.id, aspects: left },
      });
    }
  }

  private changed(resource: Resource, step: Step, extra: string[], started: number): void {
    const existing = this.reports.get(resource.id);
    const changes = [...step.changes, ...extra];
    if (existing && existing.outcome === 'changed') addChanges(existing, changes);
    else this.reports.set(resource.id, resourceReport(resource.id, 'changed', { changes, step, durationMs: performance.now() - started }));
    this.log.info({ id: resource.id, changes: step.changes }, 'resource changed');
    this.notes.notify(resource.notify);
  }

  private fail(id: string, error: unknown, started: number): void {
    this.failure ??= { id, error };
    this.reports.set(id, { ...resourceReport(id, 'failed', { durationMs: performance.now() - started }), error: wireError(error) });
    this.log.error({ id, err: error }, 'resource failed');
  }
}
