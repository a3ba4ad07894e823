/** Edits between two line lists found by Myers' algorithm: '=' keep, '-' old only, '+' new only. */
type Edit = { op: '=' | '-' | '+'; line: string };

/** Past this many differing lines a diff is summarised instead of shown. @default 4000 */
const MAX_EDIT_DISTANCE = 4000;

function myers(a: string[], b: string[]): Edit[] | undefined {
  const n = a.length;
  const m = b.length;
  const max = Math.min(n + m, MAX_EDIT_DISTANCE);
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  for (let d = 0; d <= max; d++) {
    // keep only the diagonals round d can reach: memory grows as d², not d × max
    trace.push(v.slice(offset - d - 1, offset + d + 2));
    for (let k = -d; k <= d; k += 2) {
      const down = k === -d || (k !== d && (v[offset + k - 1] as number) < (v[offset + k + 1] as number));
      let x = down ? (v[offset + k + 1] as number) : (v[offset + k - 1] as number) + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      // in place: this round reads only diagonals of the other parity
      v[offset + k] = x;
      if (x >= n && y >= m) return backtrack(a, b, trace);
    }
  }
  return undefined;
}

function backtrack(a: string[], b: string[], trace: Int32Array[]): Edit[] {
  const edits: Edit[] = [];
  let x = a.length;
  let y = b.length;
  for (let d = trace.length - 1; d >= 0; d--) {
    const v = trace[d] as Int32Array;
    const at = (k: number) => v[k + d + 1] as number;
    const k = x - y;
    const down = k === -d || (k !== d && at(k - 1) < at(k + 1));
    const prevK = down ? k + 1 : k - 1;
    const prevX = at(prevK);
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

/**
 * Slides each run of changed lines as GNU diff's shift_boundaries does: back
 * to merge with earlier changes, forward as far as it goes, then back to line
 * up with a change in the other file. Among equally short diffs this picks
 * the one `diff -u` prints (`-old +new` rather than `+new =same -same`).
 */
function shiftBoundaries(lines: string[], changed: boolean[], otherChanged: boolean[]): void {
  const end = lines.length;
  let i = 0;
  let j = 0;
  for (;;) {
    while (i < end && !changed[i]) {
      while (otherChanged[j++]);
      i++;
    }
    if (i === end) return;
    let start = i;
    while (changed[++i]);
    while (otherChanged[j]) j++;
    let runLength: number;
    let corresponding: number;
    do {
      runLength = i - start;
      while (start > 0 && lines[start - 1] === lines[i - 1]) {
        changed[--start] = true;
        changed[--i] = false;
        while (changed[start - 1]) start--;
        while (otherChanged[--j]);
      }
      corresponding = otherChanged[j - 1] ? i : end;
      while (i !== end && lines[start] === lines[i]) {
        changed[start++] = false;
        changed[i++] = true;
        while (changed[i]) i++;
        while (otherChanged[++j]) corresponding = i;
      }
    } while (runLength !== i - start);
    while (corresponding < i) {
      changed[--start] = true;
      changed[--i] = false;
      while (otherChanged[--j]);
    }
  }
}

/** Rebuilds edits from per-line change marks, deletions before insertions in each block. */
function normalize(a: string[], b: string[], edits: Edit[]): Edit[] {
  const changedA = new Array<boolean>(a.length + 1).fill(false);
  const changedB = new Array<boolean>(b.length + 1).fill(false);
  let x = 0;
  let y = 0;
  for (const edit of edits) {
    if (edit.op === '-') changedA[x++] = true;
    else if (edit.op === '+') changedB[y++] = true;
    else {
      x++;
      y++;
    }
  }
  shiftBoundaries(a, changedA, changedB);
  shiftBoundaries(b, changedB, changedA);
  const out: Edit[] = [];
  x = 0;
  y = 0;
  while (x < a.length || y < b.length) {
    if (x < a.length && changedA[x]) out.push({ op: '-', line: a[x++] as string });
    else if (y < b.length && changedB[y]) out.push({ op: '+', line: b[y++] as string });
    else {
      out.push({ op: '=', line: a[x++] as string });
      y++;
    }
  }
  return out;
}

function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  else lines[lines.length - 1] += '\n\\ No newline at end of file';
  return lines;
}

/** A hunk range as `diff -u` writes it: `start,len`, just `start` for one line, `start-1,0` for none. */
function range(start: number, length: number): string {
  if (length === 1) return String(start);
  return `${length === 0 ? start - 1 : start},${length}`;
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
  const found = myers(a, b);
  const edits = found && normalize(a, b, found);
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
    hunks.push(`@@ -${range(oldStart, oldLen)} +${range(newStart, newLen)} @@\n${lines.join('\n')}\n`);
    i = stop;
    start = stop;
  }
  return header + hunks.join('');
}
