import type { Engine } from '../../daemon/engine-port.js';
import type { CliContext } from '../context.js';
import { loadOneShot } from './_bundle.js';

/** The stable `plan --json` shape (DESIGN §8): changes is [] when converged. */
export interface PlanResult {
  serial: number;
  changes: Array<{ id: string; action: string; changes: string[]; diff?: string }>;
}

/** What applying the last good bundle would change on the real disk; changes nothing. */
export async function planCommand(ctx: CliContext, engine?: Engine): Promise<PlanResult> {
  const { payload, facts, engine: eng, renderCache } = await loadOneShot(ctx, engine);
  const planned = await eng.plan(payload, facts.facts, renderCache);
  return {
    serial: payload.serial,
    changes: planned.map((c) => ({ id: c.id, action: c.action, changes: c.changes, ...(c.diff !== undefined ? { diff: c.diff } : {}) })),
  };
}
