import { StemsError } from './errors.js';

/** Where stems keeps its own secrets and state: never a managed path. */
export const RESERVED_PATH_PREFIXES = ['/etc/stems', '/var/lib/stems-agent', '/var/lib/stems-hub', '/proc', '/sys', '/dev'] as const;

const MAX_PATH_BYTES = 4096;
const MAX_SEGMENT_BYTES = 255;
// Encoded separators and dots are a classic way past naive checks; a real
// config file has no reason to carry them.
const ENCODED = /%(2e|2f|5c|00)/i;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what we reject
const CONTROL = /[\u0000-\u001f\u007f]/;

function reject(code: 'STEMS_PATH_INVALID' | 'STEMS_PATH_TRAVERSAL', path: string, why: string): never {
  throw new StemsError(code, `Invalid path ${JSON.stringify(path)}: ${why}`, {
    hint: 'Use an absolute, normalized path such as /etc/app/app.conf.',
  });
}

function checkSegments(path: string, segments: string[]): void {
  for (const segment of segments) {
    if (segment === '..') reject('STEMS_PATH_TRAVERSAL', path, '".." is not allowed');
    if (segment === '.') reject('STEMS_PATH_INVALID', path, '"." segments are not allowed');
    if (segment === '') reject('STEMS_PATH_INVALID', path, 'empty segment ("//" or a trailing "/")');
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) {
      reject('STEMS_PATH_INVALID', path, `a segment is longer than ${MAX_SEGMENT_BYTES} bytes`);
    }
  }
}

function checkCharacters(path: string): void {
  if (CONTROL.test(path)) reject('STEMS_PATH_INVALID', path, 'control characters (NUL, newline, …)');
  if (path.includes('\\')) reject('STEMS_PATH_INVALID', path, 'backslashes are not allowed');
  if (ENCODED.test(path)) reject('STEMS_PATH_INVALID', path, 'percent-encoded dots or separators');
  // Lookalikes (U+2215 "∕", U+FF0F "／", U+2024 "․", fullwidth letters) make a
  // path read as another in review; NFKC folds each into the character it imitates.
  if (path.normalize('NFKC') !== path) reject('STEMS_PATH_INVALID', path, 'unicode lookalike characters (not in NFKC form)');
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) {
    reject('STEMS_PATH_INVALID', path, `longer than ${MAX_PATH_BYTES} bytes`);
  }
}

/**
 * Checks a path the agent will manage on a node. It must be absolute and
 * already normalized; it is never rewritten, so what the repo says is what
 * the node gets. Throws a StemsError with a STEMS_PATH_* code.
 */
export function assertManagedPath(path: string): string {
  checkCharacters(path);
  if (!path.startsWith('/')) reject('STEMS_PATH_INVALID', path, 'it must be absolute');
  if (path === '/') reject('STEMS_PATH_INVALID', path, 'the root directory itself cannot be managed');
  checkSegments(path, path.slice(1).split('/'));
  for (const prefix of RESERVED_PATH_PREFIXES) {
    if (path === prefix || path.startsWith(`${prefix}/`)) {
      throw new StemsError('STEMS_PATH_FORBIDDEN', `Path ${JSON.stringify(path)} is inside ${prefix}`, {
        hint: `stems never manages ${prefix}: it holds the agent's own keys and state or kernel interfaces.`,
      });
    }
  }
  return path;
}

/** Checks a path inside the repository (a template or source file), relative to its role. */
export function assertRepoRelativePath(path: string): string {
  checkCharacters(path);
  if (path.startsWith('/')) reject('STEMS_PATH_INVALID', path, 'it must be relative to the role folder');
  checkSegments(path, path.split('/'));
  return path;
}

/** Returns the problem with a managed path as a message, or undefined when it is fine. */
export function managedPathProblem(path: string): StemsError | undefined {
  try {
    assertManagedPath(path);
    return undefined;
  } catch (err) {
    if (err instanceof StemsError) return err;
    throw err;
  }
}
