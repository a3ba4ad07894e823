import { mkdir } from 'node:fs/promises';
import type { ApplyReport, BundlePayload, DriftAspect, Facts } from '@stems/shared';
import type { Logger } from 'pino';
import type { Systemd } from '../system/systemd.js';

export interface PlannedChangeView {
  id: string;
  action: string;
  changes: string[];
  diff?: string;
}

/**
 * What the daemon and CLI need from the resource engine, bound to one root
 * and logger. The engine (src/engine) is loaded lazily: `facts` and `enroll`
 * never pay for it.
 */
export interface Engine {
  plan(payload: BundlePayload, facts: Facts): Promise<PlannedChangeView[]>;
  apply(payload: BundlePayload, facts: Facts, factsHash: string): Promise<ApplyReport>;
  /** Drift check of the given resources (all when ids is undefined); `error` when one could not be read. */
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
  return {
    plan: (payload, facts) => engine.planBundle(payload, base(facts)),
    apply: (payload, facts, factsHash) => engine.applyBundle(payload, { ...base(facts), factsHash }),
    check: (payload, facts, ids) => engine.checkResources(payload, { ...base(facts), ...(ids ? { ids } : {}) }),
    systemd,
  };
}
