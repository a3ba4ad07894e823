import { join } from 'node:path';
import { ApplyReport, DriftReport } from '@stems/shared';
import { z } from 'zod';
import { readJsonState, writeJsonState } from './files.js';

/** How many unsent messages are kept while the hub is away. @default 100 */
export const OUTBOX_LIMIT = 100;

export const OutboxItem = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('report'), payload: ApplyReport }),
  z.strictObject({ type: z.literal('drift'), payload: DriftReport }),
]);
export type OutboxItem = z.infer<typeof OutboxItem>;

const OutboxFile = z.strictObject({ items: z.array(OutboxItem), dropped: z.number().int().nonnegative() });

/**
 * Reports and drift the hub has not seen yet, persisted so they survive a
 * restart. Bounded: when full the oldest entry is dropped (and counted), since
 * the newest state is what the hub needs most.
 */
export class Outbox {
  readonly path: string;
  readonly limit: number;
  #items: OutboxItem[] = [];
  #dropped = 0;

  constructor(stateDir: string, limit = OUTBOX_LIMIT) {
    this.path = join(stateDir, 'outbox.json');
    this.limit = limit;
  }

  // Always re-read: `apply --once` may queue a report while the daemon runs,
  // and the file is small (at most `limit` entries).
  async #load(): Promise<OutboxItem[]> {
    const file = await readJsonState(this.path, OutboxFile);
    this.#items = file?.items ?? [];
    this.#dropped = file?.dropped ?? 0;
    return this.#items;
  }

  async push(item: OutboxItem): Promise<void> {
    const items = [...(await this.#load()), item];
    const over = Math.max(0, items.length - this.limit);
    this.#items = items.slice(over);
    this.#dropped += over;
    await writeJsonState(this.path, { items: this.#items, dropped: this.#dropped });
  }

  async list(): Promise<readonly OutboxItem[]> {
    return [...(await this.#load())];
  }

  /** How many entries were dropped because the outbox was full. */
  async dropped(): Promise<number> {
    await this.#load();
    return this.#dropped;
  }

  /** Removes the first `count` entries once they were sent. */
  async shift(count: number): Promise<void> {
    const items = await this.#load();
    if (count <= 0) return;
    this.#items = items.slice(count);
    await writeJsonState(this.path, { items: this.#items, dropped: this.#dropped });
  }
}
