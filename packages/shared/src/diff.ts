/** Edits between two line lists found by Myers' algorithm: '=' keep, '-' old only, '+' new only. */
type Edit = { op: '=' | '-' | '+'; line: string };

/** Past this many differing lines a diff is summarised instead of shown. @default 4000 */
const MAX_EDIT_DISTANCE = 4000;

function myers(a: string[], b: string[]): Edit[] | undefined {
  const n = a.length;
  const m = b.length;
  const max = Math.min(n + m, MAX_EDIT_DISTANCE);
  const offset = max + 1;
  let v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  for (let d = 0; d <= max; d++) {
    trace.push(v.slice());
    const next = v.slice();
    for (let k = -d; k <= d; k += 2) {
      const down = k === -d || (k !== d && (v[offset + k - 1] as number) < (v[offset + k + 1] as number));
      let x = down ? (v[offset + k + 1] as number) : (v[offset + k - 1] as number) + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      next[offset + k] = x;
      if (x >= n && y >= m) return backtrack(a, b, [...trace, next], offset);
    }
    v = next;
  }
  return undefined;
}

function backtrack(a: string[], b: string[], trace: Int32Array[], offset: number): Edit[] {
  const edits: Edit[] = [];
  let x = a.length;
  let y = b.length;
  for (let d = trace.length - 2; d >= 0; d--) {
    const v = trace[d] as Int32Array;
    const k = x - y;
    const down = k === -d || (k !== d && (v[offset + k - 1] as number) < (v[offset + k + 1] as number));
    const prevK = down ? k + 1 : k - 1;
    const prevX = v[offset + prevK] as number;
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) edits.push({ op: '=', line: a[--x] as string }) && y--;
    if (d > 0) {
      if (down) edits.push({ op: '+', line: b[--y] as string });
      else edits.push({ op: '-', line: a[--x] as string });
    }
  }
  while (x > 0 && y > 0) edits.push({ op: '=', line: a[--x] as string }) && y--;
  return edits.reverse();
}

function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  else lines[lines.length - 1] += '\n\\ No newline at end of file';
  return lines;
}

export interface UnifiedDiffOptions {
  /** Name shown in the ---/+++ header, usually the managed path. */
  path: string;
  /** Lines of context around each change. @default 3 */
  context?: number;
}

/**
 * A unified diff (as `diff -u`) from old to new text; "" when they are equal.
 * Very large rewrites are summarised in one line rather than diffed.
 */
export function unifiedDiff(oldText: string, newText: string, options: UnifiedDiffOptions): string {
  if (oldText === newText) return '';
  const context = options.context ?? 3;
  const a = splitLines(oldText);
  const b = splitLines(newText);
  const edits = myers(a, b);
  const header = `--- ${options.path}\n+++ ${options.path}\n`;
  if (!edits) return `${header}@@ too many changes to show (${a.length} → ${b.length} lines) @@\n`;
  const hunks: string[] = [];
  let i = 0;
  while (i < edits.length) {
    if ((edits[i] as Edit).op === '=') {
      i++;
      continue;
    }
    let start = Math.max(0, i - context);
    let end = i;
    // extend the hunk while changes are close enough to share context
    while (end < edits.length) {
      if ((edits[end] as Edit).op !== '=') {
        end++;
        continue;
      }
      let run = 0;
      while (end + run < edits.length && (edits[end + run] as Edit).op === '=') run++;
      if (end + run >= edits.length || run > 2 * context) break;
      end += run;
    }
    const stop = Math.min(edits.length, end + context);
    let oldStart = 1;
    let newStart = 1;
    for (let j = 0; j < start; j++) {
      if ((edits[j] as Edit).op !== '+') oldStart++;
      if ((edits[j] as Edit).op !== '-') newStart++;
    }
    const body = edits.slice(start, stop);
    const oldLen = body.filter((e) => e.op !== '+').length;
    const newLen = body.filter((e) => e.op !== '-').length;
    const lines = body.map((e) => `${e.op === '=' ? ' ' : e.op}${e.line}`);
    hunks.push(
      `@@ -${oldLen === 0 ? oldStart - 1 : oldStart},${oldLen} +${newLen === 0 ? newStart - 1 : newStart},${newLen} @@\n${lines.join('\n')}\n`,
    );
    i = stop;
    start = stop;
  }
  return header + hunks.join('');
}
