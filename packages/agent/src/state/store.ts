import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApplyReport, ClusterName, errnoCode, StemsError, writeFileAtomic } from '@stems/shared';
import { z } from 'zod';
import { readJsonState, writeJsonState } from './files.js';

const Meta = z.strictObject({
  format: z.literal('stems.agent-state/v1'),
  /** Highest bundle serial ever accepted; only ever rises. */
  serial: z.number().int().nonnegative(),
  /** Cluster learned from the hub's welcome (pinned once known). */
  cluster: ClusterName.optional(),
});
type Meta = z.infer<typeof Meta>;

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * The agent's durable memory under its state dir. Every write is atomic and
 * fsynced, so a crash at any point leaves the old value or the new one.
 */
export class AgentState {
  readonly dir: string;
  #meta: Meta | undefined;

  constructor(dir: string) {
    this.dir = dir;
  }

  get metaPath(): string {
    return join(this.dir, 'state.json');
  }
  get bundlePath(): string {
    return join(this.dir, 'bundle.json');
  }
  get schemaStampPath(): string {
    return join(this.dir, 'bundle.checked');
  }
  /** Digests of what the last good bundle renders to (engine/rendered.ts): a cache. */
  get renderedPath(): string {
    return join(this.dir, 'rendered.json');
  }
  get reportPath(): string {
    return join(this.dir, 'last-report.json');
  }

  async #readMeta(): Promise<Meta> {
    this.#meta ??= (await readJsonState(this.metaPath, Meta)) ?? { format: 'stems.agent-state/v1', serial: 0 };
    return this.#meta;
  }

  async #writeMeta(meta: Meta): Promise<void> {
    await writeJsonState(this.metaPath, meta);
    this.#meta = meta;
  }

  /** The highest accepted serial, 0 when none. */
  async lastSerial(): Promise<number> {
    return (await this.#readMeta()).serial;
  }

  async cluster(): Promise<string | undefined> {
    return (await this.#readMeta()).cluster;
  }

  /**
   * Records a serial as accepted BEFORE its bundle is applied (DESIGN §5), so a
   * restart mid-apply can never be talked into an older bundle.
   */
  async acceptSerial(serial: number): Promise<void> {
    const meta = await this.#readMeta();
    if (serial <= meta.serial) {
      throw new StemsError('STEMS_BUNDLE_REPLAY', `Serial ${serial} is not above the last accepted serial ${meta.serial}`);
    }
    await this.#writeMeta({ ...meta, serial });
  }

  async setCluster(cluster: string): Promise<void> {
    const meta = await this.#readMeta();
    if (meta.cluster === cluster) return;
    await this.#writeMeta({ ...meta, cluster });
  }

  /** The last good bundle envelope, exactly as received (re-verify before use). */
  async readBundle(): Promise<string | undefined> {
    return readOptional(this.bundlePath);
  }

  async writeBundle(envelopeText: string): Promise<void> {
    await writeFileAtomic(this.bundlePath, envelopeText, { mode: 0o600, mkdirs: true });
  }

  /** Which agent build checked which payload against the schema (see daemon/bundle.ts). */
  async readSchemaStamp(): Promise<string | undefined> {
    return readOptional(this.schemaStampPath);
  }

  /** A cache, not fsynced: a stamp lost or damaged in a crash only means one full schema pass. */
  async writeSchemaStamp(stamp: string): Promise<void> {
    await writeFileAtomic(this.schemaStampPath, stamp, { mode: 0o600, mkdirs: true, durable: false });
  }

  async readLastReport(): Promise<ApplyReport | undefined> {
    return readJsonState(this.reportPath, ApplyReport);
  }

  async writeLastReport(report: ApplyReport): Promise<void> {
    await writeJsonState(this.reportPath, report);
  }
}
