import { sha256Hex } from '@stems/shared';
import { z } from 'zod';
import { readJsonState, writeJsonCache } from '../state/files.js';

const RenderedFile = z.strictObject({
  format: z.literal('stems.rendered/v1'),
  key: z.string().max(512),
  files: z.record(z.string().max(4096), z.string().regex(/^[0-9a-f]{64}$/)),
});

/**
 * The sha256 of what each file resource renders to, for one bundle, one set
 * of facts and one agent build (`key`). A one-shot apply or plan of a bundle
 * that did not change then compares each file's bytes with its digest instead
 * of rendering the template again: every byte on disk is still read and
 * checked, only the template engine is skipped (a third of a no-op's work
 * beyond Node's start, bench/RESULTS.md). A new bundle, new facts or a new
 * agent build make another key, and a record with another key is empty.
 */
export class RenderedDigests {
  readonly #files: Map<string, string>;
  #changed = false;

  private constructor(
    readonly key: string,
    files: Record<string, string> = {},
  ) {
    this.#files = new Map(Object.entries(files));
  }

  /** An empty record that lives in memory only: the daemon keeps one per bundle and facts for its drift checks. */
  static inMemory(): RenderedDigests {
    return new RenderedDigests('');
  }

  /** The record at `path` if it was made for `key`, else an empty one. A corrupt record is only a cache: empty. */
  static async load(path: string, key: string): Promise<RenderedDigests> {
    const stored = await readJsonState(path, RenderedFile).catch(() => undefined);
    return new RenderedDigests(key, stored?.key === key ? stored.files : {});
  }

  /** Whether `bytes` are what resource `id` renders to; undefined when not known (render it). */
  matches(id: string, bytes: Buffer): boolean | undefined {
    const known = this.#files.get(id);
    return known === undefined ? undefined : sha256Hex(bytes) === known;
  }

  /** Remembers what resource `id` rendered to. */
  note(id: string, rendered: Buffer): void {
    const digest = sha256Hex(rendered);
    if (this.#files.get(id) === digest) return;
    this.#files.set(id, digest);
    this.#changed = true;
  }

  /** Writes the record (atomically, 0600) when this run learnt something. */
  async save(path: string): Promise<void> {
    if (!this.#changed) return;
    await writeJsonCache(path, { format: 'stems.rendered/v1', key: this.key, files: Object.fromEntries(this.#files) });
    this.#changed = false;
  }
}
