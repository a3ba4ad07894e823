import { type Document, isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument, visit } from 'yaml';
import type { ErrorCode } from '../errors.js';

/** A problem in a repository file, with its position (1-based). */
export interface RepoProblem {
  code: ErrorCode;
  file: string;
  line: number;
  col: number;
  message: string;
}

export function formatProblem(p: RepoProblem): string {
  return `${p.file}:${p.line}:${p.col}: ${p.message}`;
}

/** Aliases allowed per document: a YAML bomb is an error, not an out-of-memory. */
export const MAX_YAML_ALIASES = 100;
/** Largest YAML file read. @default 1 MiB */
export const MAX_YAML_BYTES = 1024 * 1024;

export type PathSegment = string | number;

export interface ParsedYaml {
  file: string;
  value: unknown;
  /** Position of the node at `path`; with `key`, of that key inside the map at `path`. */
  locate(path: readonly PathSegment[], key?: string): { line: number; col: number };
}

/** `nodes.projector.groups[1]` */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out || '(top level)';
}

function childOf(node: unknown, seg: PathSegment): { node: unknown; keyNode?: unknown } | undefined {
  if (isMap(node)) {
    const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
    return pair ? { node: pair.value, keyNode: pair.key } : undefined;
  }
  if (isSeq(node) && typeof seg === 'number') return { node: node.items[seg] };
  return undefined;
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as Node | undefined)?.range;
  return Array.isArray(range) ? range[0] : undefined;
}

/** The key text that starts at `offset` (yaml reports a duplicate key by its first character). */
function keyAt(text: string, offset: number): string {
  const match = /^("(?:[^"\\\n]|\\.)*"|'[^'\n]*'|[^:,{}[\]\n]+)/.exec(text.slice(offset, offset + 512));
  return (match?.[1] ?? '').trim();
}

/**
 * Parses YAML keeping positions. Syntax errors, duplicate keys and alias
 * bombs come back as problems with file:line:col and code STEMS_REPO_YAML.
 */
export function parseYaml(text: string, file: string): { parsed?: ParsedYaml; problems: RepoProblem[] } {
  if (Buffer.byteLength(text) > MAX_YAML_BYTES) {
    return { problems: [{ code: 'STEMS_REPO_YAML', file, line: 1, col: 1, message: `file is larger than ${MAX_YAML_BYTES} bytes` }] };
  }
  const lineCounter = new LineCounter();
  const doc: Document.Parsed = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, merge: false, schema: 'core' });
  const at = (offset: number) => {
    const pos = lineCounter.linePos(offset);
    return { line: pos.line, col: pos.col };
  };
  if (doc.errors.length > 0) {
    return {
      problems: doc.errors.map((e) => ({
        code: 'STEMS_REPO_YAML',
        file,
        ...at(e.pos[0]),
        message:
          e.code === 'DUPLICATE_KEY'
            ? `duplicate key ${JSON.stringify(keyAt(text, e.pos[0]))}`
            : (e.message.split('\n')[0] ?? 'YAML error'),
      })),
    };
  }
  // Count aliases before expanding anything: a billion-laughs file is refused
  // with the position of the alias that goes over the limit, in microseconds.
  let aliases = 0;
  let excess: number | undefined;
  let firstAlias: number | undefined;
  visit(doc, {
    Alias(_key, node) {
      aliases++;
      firstAlias ??= rangeStart(node);
      if (aliases <= MAX_YAML_ALIASES) return undefined;
      excess = rangeStart(node) ?? 0;
      return visit.BREAK;
    },
  });
  if (excess !== undefined) {
    const message = `too many aliases (more than ${MAX_YAML_ALIASES} "*" references); the file looks like a YAML bomb`;
    return { problems: [{ code: 'STEMS_REPO_YAML', file, ...at(excess), message }] };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // yaml counts expanded aliases: few "*" that expand exponentially end here
    const where = at(firstAlias ?? 0);
    return { problems: [{ code: 'STEMS_REPO_YAML', file, ...where, message: `${message} (at most ${MAX_YAML_ALIASES} aliases)` }] };
  }
  const locate = (path: readonly PathSegment[], key?: string) => {
    let node: unknown = doc.contents;
    let best = rangeStart(node) ?? 0;
    const segments = key === undefined ? path : [...path, key];
    for (const [i, seg] of segments.entries()) {
      const child = childOf(node, seg);
      if (!child) break;
      const isLastKey = key !== undefined && i === segments.length - 1;
      const start = rangeStart(isLastKey ? child.keyNode : child.node) ?? rangeStart(child.keyNode);
      if (start !== undefined) best = start;
      node = child.node;
    }
    return at(best);
  };
  return { parsed: { file, value, locate }, problems: [] };
}
