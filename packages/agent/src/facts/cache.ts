import { join } from 'node:path';
import { canonicalJson, Facts, sha256Hex } from '@stems/shared';
import type { Logger } from 'pino';
import { z } from 'zod';
import { readJsonState, writeJsonCache } from '../state/files.js';
import { readCustomFacts } from './custom.js';
import { gatherFacts } from './gather.js';

const CachedFacts = z.strictObject({
  gatheredAt: z.iso.datetime({ offset: true }),
  hash: z.string(),
  facts: Facts,
});
export type CachedFacts = z.infer<typeof CachedFacts>;

export function factsCachePath(stateDir: string): string {
  return join(stateDir, 'facts.json');
}

/** Stable hash of facts: equal facts give the same hash whatever the key order. */
export function factsHash(facts: Facts): string {
  return sha256Hex(canonicalJson(facts));
}

export async function readCachedFacts(stateDir: string): Promise<CachedFacts | undefined> {
  return readJsonState(factsCachePath(stateDir), CachedFacts);
}

export interface FactsOptions {
  stateDir: string;
  factsDir: string;
  /** A cache younger than this is used as is. 0 forces a fresh gathering. */
  maxAgeMs: number;
  log: Logger;
  now?: () => Date;
  /** Gathers anew and writes the cache when it is stale. @default refreshFacts, in this process */
  refresh?: () => Promise<CachedFacts>;
}

/** Gathers facts now and writes the cache. */
export async function refreshFacts(opts: Omit<FactsOptions, 'maxAgeMs' | 'refresh'>): Promise<CachedFacts> {
  const facts = await gatherFacts({ factsDir: opts.factsDir, log: opts.log });
  const cached: CachedFacts = { gatheredAt: (opts.now?.() ?? new Date()).toISOString(), hash: factsHash(facts), facts };
  await writeJsonCache(factsCachePath(opts.stateDir), cached);
  return cached;
}

/**
 * The node's facts: from the cache when it is fresh enough, else gathered (and
 * cached). A one-shot apply thus pays for a hardware scan only when the cache
 * is missing or old. A corrupt cache is not fatal: facts are gathered again.
 */
export async function currentFacts(opts: FactsOptions): Promise<CachedFacts & { fromCache: boolean }> {
  const now = opts.now?.() ?? new Date();
  let cached: CachedFacts | undefined;
  try {
    cached = opts.maxAgeMs > 0 ? await readCachedFacts(opts.stateDir) : undefined;
  } catch (err) {
    opts.log.warn({ err }, 'facts cache unreadable; gathering again');
  }
  if (cached && now.getTime() - Date.parse(cached.gatheredAt) < opts.maxAgeMs) {
    // Custom facts are a few local files: re-read them every time so an edit
    // in facts.d counts at once, without paying for a hardware scan.
    const facts = { ...cached.facts, custom: await readCustomFacts(opts.factsDir, opts.log) };
    return { gatheredAt: cached.gatheredAt, facts, hash: factsHash(facts), fromCache: true };
  }
  return { ...(await (opts.refresh?.() ?? refreshFacts(opts))), fromCache: false };
}
