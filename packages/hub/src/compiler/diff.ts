import { isUtf8 } from 'node:buffer';
import { type Facts, fileBytes, isStemsError, type Resource, renderBody, resourceApplies, UNIT_DIR, unifiedDiff } from '@stems/shared';
import { conditionUsesFacts, templateUsesFacts } from './facts-refs.js';
import type { NodeDesired } from './node-compile.js';

export interface ResourceChange {
  id: string;
  type: string;
  /** What differs, e.g. ["content", "mode 0600 → 0644"]. */
  summary: string[];
  /** Unified diff of the content; absent for sensitive or binary files and when the content is unchanged. */
  diff?: string;
}

export interface NodeDiff {
  node: string;
  added: ResourceChange[];
  removed: ResourceChange[];
  changed: ResourceChange[];
  unchanged: number;
  /** Ids whose `when` or template needs facts the node has not reported yet: not compared. */
  waitingForFacts: string[];
}

/** A resource as it would be on the node: its rendered content, or why there is none. */
interface Rendered {
  resource: Resource;
  content?: Buffer;
  error?: string;
}

// Fields shown through the rendered content or not meaningful to a reviewer.
const NOT_COMPARED = new Set(['id', 'type', 'origin', 'body', 'vars', 'when']);
const SHOWN_WHEN_ADDED = ['mode', 'owner', 'group', 'target', 'enabled', 'state', 'argv'];

function errorText(err: unknown): string {
  if (isStemsError(err)) return err.message;
  throw err;
}

function render(desired: NodeDesired, r: Resource, facts: Facts | null): Rendered | 'waiting' | 'skipped' {
  if (r.when !== undefined) {
    if (facts === null && conditionUsesFacts(r.when)) return 'waiting';
    try {
      if (!resourceApplies(desired, r, facts)) return 'skipped';
    } catch (err) {
      return { resource: r, error: `cannot evaluate when: ${errorText(err)}` };
    }
  }
  if ((r.type !== 'file' && r.type !== 'unit') || !r.body) return { resource: r };
  const body = r.body;
  if (body.render && facts === null && templateUsesFacts(fileBytes(desired, body.sha256).toString('utf8'))) return 'waiting';
  try {
    return { resource: r, content: renderBody(desired, { body, ...(r.vars ? { vars: r.vars } : {}) }, facts) };
  } catch (err) {
    return { resource: r, error: `cannot render: ${errorText(err)}` };
  }
}

function renderAll(desired: NodeDesired | null, facts: Facts | null, waiting: Set<string>): Map<string, Rendered> {
  const out = new Map<string, Rendered>();
  for (const r of desired?.resources ?? []) {
    const result = desired ? render(desired, r, facts) : 'skipped';
    if (result === 'waiting') waiting.add(r.id);
    else if (result !== 'skipped') out.set(r.id, result);
  }
  return out;
}

function show(value: unknown): string {
  if (value === undefined) return '(unset)';
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return `[${value.join(' ')}]`;
  return JSON.stringify(value);
}

function pathOf(r: Resource): string {
  if (r.type === 'unit') return `${UNIT_DIR}/${r.name}`;
  if ('path' in r) return r.path;
  return r.id;
}

function isSensitive(r: Resource): boolean {
  return r.type === 'file' && r.sensitive;
}

/** A text diff when both sides are showable text; undefined for sensitive or binary content. */
function textDiff(before: Rendered | undefined, after: Rendered): string | undefined {
  if (isSensitive(after.resource) || (before && isSensitive(before.resource))) return undefined;
  const old = before?.content ?? Buffer.alloc(0);
  const now = after.content ?? Buffer.alloc(0);
  if (!isUtf8(old) || !isUtf8(now)) return undefined;
  const diff = unifiedDiff(old.toString('utf8'), now.toString('utf8'), { path: pathOf(after.resource) });
  return diff === '' ? undefined : diff;
}

function describeAdded(r: Rendered): ResourceChange {
  const summary = [`new ${r.resource.type} ${pathOf(r.resource)}`];
  const fields = r.resource as Record<string, unknown>;
  for (const key of SHOWN_WHEN_ADDED) if (fields[key] !== undefined) summary.push(`${key} ${show(fields[key])}`);
  if (r.error) summary.push(r.error);
  const diff = r.content ? textDiff(undefined, r) : undefined;
  return { id: r.resource.id, type: r.resource.type, summary, ...(diff ? { diff } : {}) };
}

function compare(before: Rendered, after: Rendered): ResourceChange | undefined {
  const a = before.resource as Record<string, unknown>;
  const b = after.resource as Record<string, unknown>;
  const summary: string[] = [];
  if (a.type !== b.type) summary.push(`type ${show(a.type)} → ${show(b.type)}`);
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) {
    if (NOT_COMPARED.has(key) || JSON.stringify(a[key]) === JSON.stringify(b[key])) continue;
    summary.push(`${key} ${show(a[key])} → ${show(b[key])}`);
  }
  let diff: string | undefined;
  if (after.error) summary.push(after.error);
  else if (before.error || !(before.content ?? Buffer.alloc(0)).equals(after.content ?? Buffer.alloc(0))) {
    summary.push('content');
    diff = textDiff(before, after);
  }
  if (summary.length === 0) return undefined;
  return { id: after.resource.id, type: after.resource.type, summary, ...(diff ? { diff } : {}) };
}

/**
 * What approving `next` would change against what the node has approved now
 * (`current`, null when nothing yet). Both sides are rendered with the
 * node's facts, so a template edit that renders the same shows no change.
 */
export function diffNode(current: NodeDesired | null, next: NodeDesired | null, facts: Facts | null): NodeDiff {
  const waiting = new Set<string>();
  const before = renderAll(current, facts, waiting);
  const after = renderAll(next, facts, waiting);
  // unknown until the node reports facts: neither added, removed nor changed
  for (const id of waiting) {
    before.delete(id);
    after.delete(id);
  }
  const result: NodeDiff = {
    node: next?.node ?? current?.node ?? '',
    added: [],
    removed: [],
    changed: [],
    unchanged: 0,
    waitingForFacts: [...waiting],
  };
  for (const [id, now] of after) {
    const old = before.get(id);
    if (!old) {
      result.added.push(describeAdded(now));
      continue;
    }
    const change = compare(old, now);
    if (change) result.changed.push(change);
    else result.unchanged++;
  }
  for (const [id, old] of before) {
    if (!after.has(id))
      result.removed.push({ id, type: old.resource.type, summary: [`no longer in the desired state (${pathOf(old.resource)})`] });
  }
  return result;
}
