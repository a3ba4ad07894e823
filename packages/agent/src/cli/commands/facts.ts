import { type Facts, isStemsError } from '@stems/shared';
import { AGENT_DEFAULTS } from '../../config/schema.js';
import { currentFacts } from '../../facts/cache.js';
import { type CliContext, loadConfig } from '../context.js';

export interface FactsResult {
  facts: Facts;
  hash: string;
  gatheredAt: string;
  fromCache: boolean;
}

/** Prints the node's facts; works before enrollment too (defaults for the folders). */
export async function factsCommand(ctx: CliContext, opts: { refresh: boolean }): Promise<FactsResult> {
  let stateDir = ctx.overrides.stateDir ?? AGENT_DEFAULTS.paths.state;
  let factsDir: string = AGENT_DEFAULTS.paths.factsDir;
  let maxAgeMs: number = AGENT_DEFAULTS.intervals.factsRefreshMs;
  try {
    const config = await loadConfig(ctx);
    ({ state: stateDir, factsDir } = config.paths);
    maxAgeMs = config.intervals.factsRefreshMs;
  } catch (err) {
    if (!isStemsError(err, 'STEMS_AGENT_NOT_ENROLLED')) throw err;
  }
  const result = await currentFacts({ stateDir, factsDir, maxAgeMs: opts.refresh ? 0 : maxAgeMs, log: ctx.log });
  return { facts: result.facts, hash: result.hash, gatheredAt: result.gatheredAt, fromCache: result.fromCache };
}
