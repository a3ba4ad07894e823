import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { unifiedDiff } from './diff.js';

const dir = mkdtempSync(join(tmpdir(), 'stems-diff-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The real `diff -u` (GNU diffutils), without its two header lines. */
function gnuDiff(oldText: string, newText: string, context = 3): string {
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  writeFileSync(a, oldText);
  writeFileSync(b, newText);
  try {
    execFileSync('diff', [`-U${context}`, a, b], { encoding: 'utf8' });
    return '';
  } catch (err) {
    // diff exits 1 when the files differ; its stdout is the diff
    const out = (err as { status?: number; stdout?: string }).status === 1 ? (err as { stdout: string }).stdout : undefined;
    if (out === undefined) throw err;
    return out.split('\n').slice(2).join('\n');
  }
}
const ours = (a: string, b: string, context?: number) =>
  unifiedDiff(a, b, { path: '/etc/x', ...(context === undefined ? {} : { context }) })
    .split('\n')
    .slice(2)
    .join('\n');

/** mulberry32: a tiny seeded PRNG, so the random cases are the same on every run. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const lines = (n: number, prefix = 'line') => Array.from({ length: n }, (_, i) => `${prefix} ${i + 1}\n`).join('');

describe('unifiedDiff', () => {
  it('is empty for equal texts', () => {
    expect(unifiedDiff('', '', { path: 'x' })).toBe('');
    expect(unifiedDiff('a\nb\n', 'a\nb\n', { path: 'x' })).toBe('');
  });

  it('writes the header with the path and a hunk for an addition', () => {
    expect(unifiedDiff('a\nb\n', 'a\nb\nc\n', { path: '/etc/motd' })).toBe('--- /etc/motd\n+++ /etc/motd\n@@ -1,2 +1,3 @@\n a\n b\n+c\n');
  });

  it('handles a deletion, a file from nothing and a file to nothing', () => {
    expect(ours('a\nb\nc\n', 'a\nc\n')).toBe('@@ -1,3 +1,2 @@\n a\n-b\n c\n');
    expect(ours('', 'x\ny\n')).toBe('@@ -0,0 +1,2 @@\n+x\n+y\n');
    expect(ours('x\n', '')).toBe('@@ -1 +0,0 @@\n-x\n');
  });

  it('merges changes up to 2×context lines apart and splits them beyond', () => {
    const base = lines(30).split('\n').slice(0, -1);
    const edit = (gap: number) => {
      const copy = [...base];
      copy[5] = 'changed A';
      copy[5 + gap + 1] = 'changed B';
      return `${copy.join('\n')}\n`;
    };
    const hunks = (text: string) => (text.match(/^@@/gm) ?? []).length;
    expect(hunks(ours(lines(30), edit(6)))).toBe(1);
    expect(hunks(ours(lines(30), edit(7)))).toBe(2);
    expect(hunks(ours(lines(30), edit(2), 1))).toBe(1);
    expect(hunks(ours(lines(30), edit(3), 1))).toBe(2);
    for (const gap of [5, 6, 7, 8]) expect(ours(lines(30), edit(gap))).toBe(gnuDiff(lines(30), edit(gap)));
    expect(ours(lines(30), edit(3), 1)).toBe(gnuDiff(lines(30), edit(3), 1));
    expect(ours(lines(30), edit(3), 0)).toBe(gnuDiff(lines(30), edit(3), 0));
  });

  it('marks a missing newline at end of file like diff -u', () => {
    const cases: [string, string][] = [
      ['a\nb', 'a\nb\n'],
      ['a\nb\n', 'a\nb'],
      ['a\nb', 'a\nc'],
      ['a\nb', 'x\na\nb'],
      ['a', ''],
      ['', 'a'],
    ];
    for (const [a, b] of cases) {
      const out = ours(a, b);
      expect(out, JSON.stringify([a, b])).toBe(gnuDiff(a, b));
    }
    expect(ours('a\nb', 'a\nb\n')).toContain('\\ No newline at end of file');
  });

  it('is byte for byte diff -u on seeded random edits', () => {
    const random = prng(20261122);
    const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)] as T;
    let compared = 0;
    for (let round = 0; round < 40; round++) {
      const n = 1 + Math.floor(random() * 60);
      const old = Array.from({ length: n }, (_, i) => `old ${round}.${i}`);
      const next: string[] = [];
      for (const line of old) {
        const roll = random();
        if (roll < 0.1) continue; // delete
        if (roll < 0.2)
          next.push(`new ${round}.${next.length}.${random().toString(36).slice(2, 6)}`); // replace
        else next.push(line);
        if (random() < 0.08) next.push(`ins ${round}.${next.length}`); // insert
      }
      const tail = pick(['\n', '\n', '']);
      const a = `${old.join('\n')}${tail}`;
      const b = next.length === 0 ? '' : `${next.join('\n')}${pick(['\n', tail])}`;
      const context = pick([0, 1, 3, 3, 5]);
      expect(ours(a, b, context), `round ${round}`).toBe(gnuDiff(a, b, context));
      compared++;
    }
    expect(compared).toBe(40);
  });

  it('is diff -u on random text from a small alphabet when the edit is unambiguous (single change)', () => {
    const random = prng(7);
    for (let round = 0; round < 30; round++) {
      const old = Array.from({ length: 20 }, () => `v${Math.floor(random() * 4)}`);
      const next = [...old];
      next.splice(Math.floor(random() * 20), 1, `unique ${round}`);
      const a = `${old.join('\n')}\n`;
      const b = `${next.join('\n')}\n`;
      expect(ours(a, b), `round ${round}`).toBe(gnuDiff(a, b));
    }
  });

  it('is as short as diff -u on random texts with many repeated lines, and patch(1) applies it', () => {
    const random = prng(42);
    const changed = (text: string) => text.split('\n').filter((l) => /^[-+]/.test(l)).length;
    for (let round = 0; round < 25; round++) {
      const make = () => Array.from({ length: 1 + Math.floor(random() * 30) }, () => `v${Math.floor(random() * 4)}`);
      const a = `${make().join('\n')}\n`;
      const b = `${make().join('\n')}${random() < 0.3 ? '' : '\n'}`;
      const diff = ours(a, b);
      expect(changed(diff), `round ${round}`).toBe(changed(gnuDiff(a, b)));
      writeFileSync(join(dir, 'target'), a);
      writeFileSync(join(dir, 'fix.diff'), unifiedDiff(a, b, { path: 'target' }));
      execFileSync('patch', ['--quiet', '--force', join(dir, 'target'), join(dir, 'fix.diff')]);
      expect(readFileSync(join(dir, 'target'), 'utf8'), `round ${round}`).toBe(b);
    }
  });

  it('summarises very large rewrites instead of diffing them', () => {
    const out = unifiedDiff(lines(5000, 'a'), lines(5000, 'b'), { path: '/big' });
    expect(out).toBe('--- /big\n+++ /big\n@@ too many changes to show (5000 → 5000 lines) @@\n');
  });
});
