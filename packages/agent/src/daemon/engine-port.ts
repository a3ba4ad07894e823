import { mkdir } from 'node:fs/promises';
import type { ApplyReport, BundlePayload, DriftAspect, Facts } from '@stems/shared';
import type { Logger } from 'pino';
import type { RenderedDigests } from '../engine/rendered.js';
import type { Systemd } from '../system/systemd.js';

export interface PlannedChangeView {
  id: string;
  action: string;
  changes: string[];
  diff?: string;
}

/** Where a one-shot run keeps the digests of what the bundle renders to, and for which bundle, facts and build. */
export interface RenderCache {
  path: string;
  key: string;
}

/**
 * What the daemon and CLI need from the resource engine, bound to one root
 * and logger. The engine (src/engine) is loaded lazily: `facts` and `enroll`
 * never pay for it.
 */
export interface Engine {
  plan(payload: BundlePayload, facts: Facts, cache?: RenderCache): Promise<PlannedChangeView[]>;
  apply(payload: BundlePayload, facts: Facts, factsHash: string, cache?: RenderCache): Promise<ApplyReport>;
  /**
   * Drift check of the given resources (all when ids is undefined); `error` when one could not be read.
   * Templates render once per bundle and facts object, in a plan or apply without `cache` or in a
   * check: later ones compare digests.
   */
  check(
    payload: BundlePayload,
    facts: Facts,
    ids?: readonly string[],
  ): Promise<Array<{ id: string; aspects: DriftAspect[]; diff?: string; error?: unknown }>>;
  /** The systemd the engine drives; health reads the managed units' state through it. */
  systemd: Systemd;
}

/** `systemd` replaces the real one in tests (this machine has no systemd as PID 1). */
export async function loadEngine(opts: { root: string; log: Logger; systemd?: Systemd }): Promise<Engine> {
  const [engine, system] = await Promise.all([import('../engine/index.js'), import('../system/systemd.js')]);
  const { root, log } = opts;
  // A root prefix (tests, the demo, a chroot) may not exist yet; the real root always does.
  if (root !== '' && root !== '/') await mkdir(root, { recursive: true, mode: 0o755 });
  const systemd = opts.systemd ?? system.realSystemd({ root });
  const base = (facts: Facts) => ({ root, facts, systemd, log });
  // The daemon applies a bundle, then re-checks it with the same facts every few minutes and after
  // every file event: each template renders once (in the apply, or in the first check), later runs
  // compare the bytes with that render's digest. One record per bundle and facts object (a refresh
  // makes a new one); a bundle is its serial and issue time, so the part-bundle an `enforce` repair
  // applies shares the record of the whole.
  let record: { bundle: string; facts: Facts; rendered: RenderedDigests } | undefined;
  const digestsOf = (payload: BundlePayload, facts: Facts): RenderedDigests => {
    const bundle = `${payload.serial} ${payload.issuedAt}`;
    if (record?.bundle !== bundle || record.facts !== facts) record = { bundle, facts, rendered: engine.RenderedDigests.inMemory() };
    return record.rendered;
  };
  /** Runs with a one-shot's record on disk (`cache`), kept with what the run learnt, or else the daemon's; the cache never fails a run. */
  const withDigests = async <T>(
    payload: BundlePayload,
    facts: Facts,
    cache: RenderCache | undefined,
    run: (rendered: RenderedDigests) => Promise<T>,
  ): Promise<T> => {
    if (!cache) return run(digestsOf(payload, facts));
    const rendered = await engine.RenderedDigests.load(cache.path, cache.key);
    const out = await run(rendered);
    await rendered.save(cache.path).catch((err: unknown) => log.debug({ err, path: cache.path }, 'render digests not saved'));
    return out;
  };
  return {
    plan: (payload, facts, cache) =>
      withDigests(payload, facts, cache, (rendered) => engine.planBundle(payload, { ...base(facts), rendered })),
    apply: (payload, facts, factsHash, cache) =>
      withDigests(payload, facts, cache, (rendered) => engine.applyBundle(payload, { ...base(facts), factsHash, rendered })),
    check: (payload, facts, ids) =>
      engine.checkResources(payload, { ...base(facts), rendered: digestsOf(payload, facts), ...(ids ? { ids } : {}) }),
    systemd,
  };
}
