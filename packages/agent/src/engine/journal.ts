import { StemsError } from '@stems/shared';

interface UndoEntry {
  id: string;
  undo: () => void | Promise<void>;
}

/** What a transaction may keep in memory as copies of replaced files. @default 256 MiB */
export const DEFAULT_ROLLBACK_BUDGET_BYTES = 256 * 1024 * 1024;

/**
 * The undo log of one apply. Each change registers, before it writes, how to
 * put back what it replaces (old bytes, mode, owner, link target, whether it
 * existed, unit states). Undo steps must be safe to run even when the change
 * they undo never happened (the write may be what failed).
 */
export class Journal {
  private readonly entries: UndoEntry[] = [];
  private keptBytes = 0;

  constructor(private readonly budgetBytes = DEFAULT_ROLLBACK_BUDGET_BYTES) {}

  /** Registers an undo step holding a copy of `bytes` bytes; refuses before the change when over budget. */
  record(id: string, undo: UndoEntry['undo'], bytes = 0): void {
    if (this.keptBytes + bytes > this.budgetBytes) {
      throw new StemsError(
        'STEMS_APPLY_FAILED',
        `Cannot keep a rollback copy for ${id}: the apply already holds ${this.keptBytes} bytes of copies`,
        {
          hint: 'Split the change over several commits, or set policy onFailure: stop for this cluster.',
          details: { id, budgetBytes: this.budgetBytes },
        },
      );
    }
    this.keptBytes += bytes;
    this.entries.push({ id, undo });
  }

  /** Ids with at least one undo step, i.e. the resources this apply touched. */
  touched(): Set<string> {
    return new Set(this.entries.map((e) => e.id));
  }

  /**
   * Runs every undo step, newest first. A failing step does not stop the
   * others (restoring most is better than restoring none); failures are returned.
   */
  async rollback(): Promise<Array<{ id: string; error: unknown }>> {
    const failures: Array<{ id: string; error: unknown }> = [];
    for (const entry of [...this.entries].reverse()) {
      try {
        await entry.undo();
      } catch (error) {
        failures.push({ id: entry.id, error });
      }
    }
    this.entries.length = 0;
    this.keptBytes = 0;
    return failures;
  }
}
