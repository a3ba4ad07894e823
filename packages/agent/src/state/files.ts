import { readFile } from 'node:fs/promises';
import { errnoCode, StemsError, writeFileAtomic } from '@stems/shared';
import type { z } from 'zod';

/** Reads and validates one JSON state file; undefined when it does not exist. */
export async function readJsonState<S extends z.ZodType>(path: string, schema: S): Promise<z.infer<S> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw corrupt(path, err);
  }
  const result = schema.safeParse(raw);
  if (!result.success) throw corrupt(path, result.error);
  return result.data;
}

function corrupt(path: string, cause: unknown): StemsError {
  // Writes are atomic, so a bad file means someone edited it or the disk lies.
  return new StemsError('STEMS_AGENT_STATE', `Agent state file ${path} is corrupt`, {
    cause,
    hint: 'Inspect or remove the file; the agent re-fetches its bundle from the hub. Never lower the serial by hand.',
  });
}

function writeJson(path: string, value: unknown, durable: boolean): Promise<void> {
  return writeFileAtomic(path, `${JSON.stringify(value)}\n`, { mode: 0o600, mkdirs: true, durable });
}

/** Every state write is atomic and fsynced (temp file, fsync, rename, fsync dir), mode 0600. */
export function writeJsonState(path: string, value: unknown): Promise<void> {
  return writeJson(path, value, true);
}

/**
 * A cache (facts, render digests) is replaced atomically too, but not
 * fsynced: after a crash it may be old or unreadable, and its reader then
 * gathers or renders again. Saves two fsync waits per write.
 */
export function writeJsonCache(path: string, value: unknown): Promise<void> {
  return writeJson(path, value, false);
}
