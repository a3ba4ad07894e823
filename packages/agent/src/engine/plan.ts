import { type BundlePayload, type ResourceType, type StemsErrorJSON, toStemsError } from '@stems/shared';
import type { Action, Step } from '../resources/types.js';
import { createContext, type EngineOptions } from './context.js';
import { applies, examine, Notifications } from './examine.js';

export interface PlannedChange {
  id: string;
  type: ResourceType;
  action: Action;
  changes: string[];
  /** Unified diff of text content; never for sensitive files. */
  diff?: string;
  /** Applying this resource would fail (symlink in the way, no systemd, template error). */
  error?: StemsErrorJSON;
}

/** Adds a step to a plan or report entry of the same id (a late notified refresh joins the resource's entry). */
export function mergeChanges(into: string[], more: readonly string[]): void {
  for (const change of more) if (!into.includes(change)) into.push(change);
}

function planned(id: string, type: ResourceType, step: Step): PlannedChange {
  const change: PlannedChange = { id, type, action: step.action, changes: [...step.changes] };
  if (step.diff !== undefined) change.diff = step.diff;
  if (step.error) change.error = step.error.toJSON();
  return change;
}

/**
 * Exact changes applying would make; [] when converged. Reads the real disk
 * (and systemd, dpkg, exec guards), writes nothing. A resource that cannot be
 * planned is listed with its error rather than thrown.
 */
export async function planBundle(payload: BundlePayload, opts: EngineOptions): Promise<PlannedChange[]> {
  const ctx = createContext(payload, opts);
  try {
    const notes = new Notifications();
    const plan = new Map<string, PlannedChange>();
    const add = (id: string, type: ResourceType, step: Step) => {
      const existing = plan.get(id);
      if (!existing) plan.set(id, planned(id, type, step));
      else {
        mergeChanges(existing.changes, step.changes);
        if (step.error && !existing.error) existing.error = step.error.toJSON();
      }
    };
    for (const resource of payload.resources) {
      try {
        if (!applies(resource, ctx)) continue;
        const { step } = await examine(resource, ctx, { notified: notes.pendingFor(resource.id) });
        notes.visit(resource.id, step?.refreshes === true);
        if (!step) continue;
        add(resource.id, resource.type, step);
        // apply would stop at an error, so what it notifies would not happen
        if (!step.error) notes.notify(resource.notify);
      } catch (err) {
        const error = toStemsError(err, 'STEMS_APPLY_FAILED');
        plan.set(resource.id, { id: resource.id, type: resource.type, action: 'update', changes: ['cannot plan'], error: error.toJSON() });
      }
    }
    for (const resource of notes.lateTargets(payload.resources)) {
      notes.visit(resource.id, true);
      try {
        const { step } = await examine(resource, ctx, { notified: true });
        if (step) add(resource.id, resource.type, step);
      } catch (err) {
        const error = toStemsError(err, 'STEMS_APPLY_FAILED');
        add(resource.id, resource.type, { action: 'update', changes: ['cannot plan'], aspects: [], error });
      }
    }
    return [...plan.values()];
  } finally {
    ctx.fs.close();
  }
}
