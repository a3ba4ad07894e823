import { readdir, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ApplyReport, DriftReport, errnoCode, fsyncDir } from '@stems/shared';
import { z } from 'zod';
import { readJsonState, writeJsonState } from './files.js';

/** How many unsent messages are kept while the hub is away. @default 100 */
export const OUTBOX_LIMIT = 100;

export const OutboxItem = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('report'), payload: ApplyReport }),
  z.strictObject({ type: z.literal('drift'), payload: DriftReport }),
]);
export type OutboxItem = z.infer<typeof OutboxItem>;

/** The single-file outbox of earlier versions; moved into the directory on first use. */
const LegacyOutboxFile = z.strictObject({ items: z.array(OutboxItem), dropped: z.number().int().nonnegative() });
const DroppedFile = z.strictObject({ dropped: z.number().int().nonnegative() });

/** Item files sort in the order they were queued: zero-padded milliseconds, then a per-process counter. */
const ITEM_FILE = /^\d{15}-\d{6}-\d+\.json$/;
let queued = 0;

/**
 * Reports and drift the hub has not seen yet, persisted so they survive a
 * restart: one file per entry in `outbox/`, so queueing one (every
 * `apply --once`) writes one file instead of rewriting up to 100 reports of
 * thousands of resources. Bounded: when full the oldest entries are dropped
 * (and counted), since the newest state is what the hub needs most.
 */
export class Outbox {
  readonly dir: string;
  readonly limit: number;
  readonly #legacyPath: string;
  #listed: string[] = [];

  constructor(stateDir: string, limit = OUTBOX_LIMIT) {
    this.dir = join(stateDir, 'outbox');
    this.#legacyPath = join(stateDir, 'outbox.json');
    this.limit = limit;
  }

  async push(item: OutboxItem): Promise<void> {
    await this.#migrate();
    await this.#write(item);
    const names = await this.#names();
    const over = names.length - this.limit;
    if (over > 0) await this.#drop(names.slice(0, over));
  }

  /** The entries in queue order; re-read every time: `apply --once` may queue while the daemon runs. */
  async list(): Promise<readonly OutboxItem[]> {
    await this.#migrate();
    const items: OutboxItem[] = [];
    const listed: string[] = [];
    for (const name of await this.#names()) {
      // Gone since readdir: another process sent or dropped it.
      const item = await readJsonState(join(this.dir, name), OutboxItem);
      if (item === undefined) continue;
      items.push(item);
      listed.push(name);
    }
    this.#listed = listed;
    return items;
  }

  /** How many entries were dropped because the outbox was full. */
  async dropped(): Promise<number> {
    await this.#migrate();
    return this.#readDropped();
  }

  async #readDropped(): Promise<number> {
    return (await readJsonState(join(this.dir, 'dropped.json'), DroppedFile))?.dropped ?? 0;
  }

  /** Removes the first `count` entries of the last `list()` once they were sent. */
  async shift(count: number): Promise<void> {
    if (count <= 0) return;
    const sent = this.#listed.slice(0, count);
    this.#listed = this.#listed.slice(count);
    await this.#remove(sent);
  }

  async #write(item: OutboxItem): Promise<void> {
    queued = (queued + 1) % 1_000_000;
    const name = `${String(Date.now()).padStart(15, '0')}-${String(queued).padStart(6, '0')}-${process.pid}.json`;
    await writeJsonState(join(this.dir, name), item);
  }

  async #names(): Promise<string[]> {
    try {
      return (await readdir(this.dir)).filter((n) => ITEM_FILE.test(n)).sort();
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return [];
      throw err;
    }
  }

  async #drop(names: string[]): Promise<void> {
    const dropped = (await this.#readDropped()) + names.length;
    await writeJsonState(join(this.dir, 'dropped.json'), { dropped });
    await this.#remove(names);
  }

  async #remove(names: string[]): Promise<void> {
    if (names.length === 0) return;
    await Promise.all(names.map((name) => rm(join(this.dir, name), { force: true })));
    await fsyncDir(this.dir);
  }

  async #migrate(): Promise<void> {
    const legacy = await readJsonState(this.#legacyPath, LegacyOutboxFile);
    if (legacy === undefined) return;
    for (const item of legacy.items) await this.#write(item);
    if (legacy.dropped > 0) await writeJsonState(join(this.dir, 'dropped.json'), { dropped: (await this.#readDropped()) + legacy.dropped });
    await unlink(this.#legacyPath);
  }
}
