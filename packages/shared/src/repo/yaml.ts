import { type Document, isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
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
        message: e.message.split('\n')[0] ?? 'YAML error',
      })),
    };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { problems: [{ code: 'STEMS_REPO_YAML', file, line: 1, col: 1, message: `${message} (at most ${MAX_YAML_ALIASES} aliases)` }] };
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
