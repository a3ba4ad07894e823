import type { ApplyReport, BundlePayload, DriftAspect, DriftItem } from '@stems/shared';

export interface CheckResult {
  id: string;
  aspects: DriftAspect[];
  diff?: string;
  /** The resource could not be read: neither drifted nor matching, so its drift state is left as it was. */
  error?: unknown;
}

const sameDrift = (a: DriftItem, b: CheckResult) => a.aspects.join() === b.aspects.join() && a.diff === b.diff;

/**
 * Tracks which resources are drifted between checks, so the hub hears about
 * each drift once when it appears ("drifted") and once when it ends
 * ("repaired" by enforcement, or "cleared" when it matches again by itself).
 * A drift that changes shape while open (another aspect, a new diff) is sent
 * again as "drifted" with its first detectedAt, so the hub shows what is true now.
 */
export class DriftTracker {
  readonly #open = new Map<string, DriftItem>();

  /**
   * Folds one check into the tracker. `results` covers only the resources
   * that were checked (a watcher burst checks a few): the others keep their state.
   * @returns the new, changed and cleared items, and the ids to enforce
   */
  observe(payload: BundlePayload, results: readonly CheckResult[], now: Date): { items: DriftItem[]; enforce: Set<string> } {
    const at = now.toISOString();
    const items: DriftItem[] = [];
    const drifted = new Set<string>();
    for (const result of results) {
      if (result.error !== undefined) continue;
      const open = this.#open.get(result.id);
      if (result.aspects.length === 0) {
        if (open) {
          items.push({ ...open, status: 'cleared', clearedAt: at });
          this.#open.delete(result.id);
        }
        continue;
      }
      drifted.add(result.id);
      if (open && sameDrift(open, result)) continue;
      const { diff, ...rest } = {
        id: result.id,
        status: 'drifted' as const,
        aspects: result.aspects,
        detectedAt: open?.detectedAt ?? at,
        diff: result.diff,
      };
      const item: DriftItem = diff === undefined ? rest : { ...rest, diff };
      this.#open.set(result.id, item);
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

  /** Ids drifted right now. */
  get openIds(): string[] {
    return [...this.#open.keys()];
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
