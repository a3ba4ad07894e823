import { type BundlePayload, StemsError } from '@stems/shared';
import type { AgentConfig } from '../../config/schema.js';
import { loadLastGood } from '../../daemon/bundle.js';
import { type Engine, loadEngine, type RenderCache } from '../../daemon/engine-port.js';
import { type CachedFacts, currentFacts } from '../../facts/cache.js';
import { AgentState } from '../../state/store.js';
import { type CliContext, loadConfig } from '../context.js';

export interface OneShot {
  config: AgentConfig;
  state: AgentState;
  payload: BundlePayload;
  facts: CachedFacts;
  engine: Engine;
  /** Digests of what this bundle renders to with these facts, kept from the last run (engine/rendered.ts). */
  renderCache: RenderCache;
}

/**
 * What `plan` and `apply --once` share: the config, the last good bundle
 * (re-verified against the pinned key), cached facts (a hardware scan only
 * when the cache is missing or old) and the engine. No hub needed.
 */
export async function loadOneShot(ctx: CliContext, engine?: Engine): Promise<OneShot> {
  const config = await loadConfig(ctx);
  const state = new AgentState(config.paths.state);
  const cluster = config.cluster ?? (await state.cluster());
  const noBundle = new StemsError('STEMS_AGENT_NO_BUNDLE', `No accepted bundle in ${config.paths.state}`, {
    hint: 'Start the agent (`stems-agent run`) so it fetches its bundle, and approve a revision on the hub (`hub approve latest`).',
  });
  if (!cluster) throw noBundle;
  const last = await loadLastGood(state, { hubKey: config.hubKey, node: config.node, cluster, now: new Date(), log: ctx.log });
  if (!last) throw noBundle;
  const [facts, loaded] = await Promise.all([
    currentFacts({
      stateDir: config.paths.state,
      factsDir: config.paths.factsDir,
      maxAgeMs: config.intervals.factsRefreshMs,
      log: ctx.log,
    }),
    engine ?? loadEngine({ root: config.paths.root, log: ctx.log }),
  ]);
  const renderCache = { path: state.renderedPath, key: `${last.identity} ${facts.hash}` };
  return { config, state, payload: last.payload, facts, engine: loaded, renderCache };
}
