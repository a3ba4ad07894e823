import type { ApplyReport, BundlePayload, DriftAspect, DriftItem } from '@stems/shared';

export interface CheckResult {
  id: string;
  aspects: DriftAspect[];
  diff?: string;
}

/**
 * Tracks which resources are drifted between checks, so the hub hears about
 * each drift once when it appears ("drifted") and once when it ends
 * ("repaired" by enforcement, or "cleared" when it matches again by itself).
 */
export class DriftTracker {
  readonly #open = new Map<string, DriftItem>();

  /** Folds one check into the tracker; returns the new and cleared items, and the ids to enforce. */
  observe(payload: BundlePayload, results: readonly CheckResult[], now: Date): { items: DriftItem[]; enforce: Set<string> } {
    const at = now.toISOString();
    const items: DriftItem[] = [];
    const drifted = new Map(results.filter((r) => r.aspects.length > 0).map((r) => [r.id, r]));
    for (const [id, open] of this.#open) {
      if (!drifted.has(id)) {
        items.push({ ...open, status: 'cleared', clearedAt: at });
        this.#open.delete(id);
      }
    }
    for (const [id, result] of drifted) {
      if (this.#open.has(id)) continue;
      const item: DriftItem = {
        id,
        status: 'drifted',
        aspects: result.aspects,
        detectedAt: at,
        ...(result.diff ? { diff: result.diff } : {}),
      };
      this.#open.set(id, item);
      items.push(item);
    }
    const enforce = new Set(payload.resources.filter((r) => drifted.has(r.id) && r.drift === 'enforce').map((r) => r.id));
    return { items, enforce };
  }

  /** Marks enforced resources whose apply did not fail as repaired. */
  repaired(report: ApplyReport, ids: ReadonlySet<string>, now: Date): DriftItem[] {
    const items: DriftItem[] = [];
    for (const r of report.resources) {
      const open = this.#open.get(r.id);
      if (!open || !ids.has(r.id) || r.outcome === 'failed' || r.outcome === 'rolled_back') continue;
      items.push({ ...open, status: 'repaired', clearedAt: now.toISOString() });
      this.#open.delete(r.id);
    }
    return items;
  }

  clear(): void {
    this.#open.clear();
  }
}

/**
 * The part of a bundle that repairs the given resources: those resources plus
 * whatever they notify (a repaired config file still restarts its unit).
 */
export function enforcementPayload(payload: BundlePayload, ids: ReadonlySet<string>): BundlePayload {
  const keep = new Set(ids);
  for (const r of payload.resources) {
    if (ids.has(r.id)) for (const target of r.notify ?? []) keep.add(target);
  }
  return { ...payload, resources: payload.resources.filter((r) => keep.has(r.id)) };
}
