import { type BundlePayload, type DriftAspect, type StemsErrorJSON, toStemsError } from '@stems/shared';
import { createContext, type EngineOptions } from './context.js';
import { applies, examine } from './examine.js';

export interface ResourceDrift {
  id: string;
  /** Aspects that differ from the bundle; [] when the resource matches. */
  aspects: DriftAspect[];
  diff?: string;
  /** The resource could not be read (a symlink in the way, a template error). */
  error?: StemsErrorJSON;
}

/**
 * Drift check of some or all resources, for the daemon's watcher: one entry
 * per checked resource, aspects [] when it matches. Exec resources have no
 * state and resources whose `when` is false are not managed: neither is listed.
 */
export async function checkResources(payload: BundlePayload, opts: EngineOptions & { ids?: readonly string[] }): Promise<ResourceDrift[]> {
  const ctx = createContext(payload, opts);
  try {
    const wanted = opts.ids && new Set(opts.ids);
    const out: ResourceDrift[] = [];
    for (const resource of payload.resources) {
      if (resource.type === 'exec' || (wanted && !wanted.has(resource.id))) continue;
      try {
        if (!applies(resource, ctx)) continue;
        const { step } = await examine(resource, ctx, { notified: false });
        const drift: ResourceDrift = { id: resource.id, aspects: step?.aspects ?? [] };
        if (step?.diff !== undefined) drift.diff = step.diff;
        out.push(drift);
      } catch (err) {
        out.push({ id: resource.id, aspects: [], error: toStemsError(err, 'STEMS_APPLY_FAILED').toJSON() });
      }
    }
    return out;
  } finally {
    ctx.fs.close();
  }
}
