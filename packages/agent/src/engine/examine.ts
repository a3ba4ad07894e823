import { type Resource, resourceApplies } from '@stems/shared';
import { examineAbsent } from '../resources/absent.js';
import { examineDirectory } from '../resources/directory.js';
import { examineExec } from '../resources/exec.js';
import { examineFile } from '../resources/file.js';
import { examinePackage } from '../resources/package.js';
import { examineSymlink } from '../resources/symlink.js';
import type { Ctx, ExamineOptions, Handle } from '../resources/types.js';
import { examineUnit } from '../resources/unit.js';

/** Reads one resource's actual state and plans it: the single dispatch on resource type. */
export function examine(resource: Resource, ctx: Ctx, options: ExamineOptions): Promise<Handle> {
  switch (resource.type) {
    case 'file':
      return examineFile(resource, ctx);
    case 'directory':
      return examineDirectory(resource, ctx);
    case 'symlink':
      return examineSymlink(resource, ctx);
    case 'absent':
      return examineAbsent(resource, ctx);
    case 'unit':
      return examineUnit(resource, ctx, options);
    case 'exec':
      return examineExec(resource, ctx, options);
    case 'package':
      return examinePackage(resource, ctx);
  }
}

export function applies(resource: Resource, ctx: Ctx): boolean {
  return resourceApplies(ctx.source, resource, ctx.facts);
}

/**
 * Notifications of one run. A changed resource notifies ids; a target
 * refreshes (unit restart, exec run) after its notifier, at most once: at
 * its own turn when it comes later in the order, else in a pass after the
 * main loop, in declared order.
 */
export class Notifications {
  private readonly notified = new Set<string>();
  private readonly refreshed = new Set<string>();
  private readonly visited = new Set<string>();
  private readonly late = new Set<string>();

  /** Whether this resource should refresh when examined now. */
  pendingFor(id: string): boolean {
    return this.notified.has(id) && !this.refreshed.has(id);
  }

  visit(id: string, refreshedNow: boolean): void {
    this.visited.add(id);
    if (refreshedNow) this.refreshed.add(id);
  }

  notify(ids: readonly string[]): void {
    for (const id of ids) {
      this.notified.add(id);
      if (this.visited.has(id) && !this.refreshed.has(id)) this.late.add(id);
    }
  }

  /** Targets notified after their turn and not refreshed since, in declared order. */
  lateTargets(resources: readonly Resource[]): Resource[] {
    return resources.filter((r) => this.late.has(r.id) && this.pendingFor(r.id));
  }
}
