import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFailed, onTestFinished } from 'vitest';
import { FakeSystemd } from '../system/_fake-systemd.js';
import { TEMP_FILE } from '../system/safe-fs.js';
import { CRASH_FILES, crashPayload, expectedFile, type Variant } from './_test-crash-bundle.js';
import { bundleFixture, startChild, type WarmChild } from './_test-crash-child.js';
import { silentLog, TEST_FACTS, tempRoot } from './_test-payload.js';
import { applyBundle } from './index.js';

// A fixed seed, so a failing kill point can be replayed (STEMS_CRASH_SEED); STEMS_SOAK=1 runs 1000 kills.
const SEED = Number(process.env.STEMS_CRASH_SEED ?? 20261122);
/** Kills that must land inside a running apply with files still to change. */
const KILLS = Number(process.env.STEMS_CRASH_KILLS ?? (process.env.STEMS_SOAK === '1' ? 1000 : 200));
/** After this many kills, a run is let finish: the next start must converge. */
const CONVERGE_EVERY = 10;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const engine = (root: string) => ({ root, facts: TEST_FACTS, systemd: new FakeSystemd(), log: silentLog, factsHash: 'crash' });

/**
 * The tree lives on tmpfs when there is one: SIGKILL ends the process, not the
 * kernel, so the page cache survives and what a kill leaves behind is the same
 * as on a disk; only the fsync waits, which guard against power loss (not
 * tested here), go, and they were most of a round.
 */
async function crashRoot(): Promise<string> {
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const root = await mkdtemp(join(base, 'stems-crash-'));
  onTestFinished(() => rm(root, { recursive: true, force: true }));
  return root;
}

const EXPECTED = Array.from({ length: CRASH_FILES }, (_, i) => {
  const [a, b] = [expectedFile('old', i), expectedFile('new', i)];
  return { path: a.path, old: { hash: sha(a.text), mode: a.mode }, new: { hash: sha(b.text), mode: b.mode } };
});

/** Which variant each file wholly is (content and mode together); fails on a torn file. */
function variants(root: string): Variant[] {
  const out: Variant[] = [];
  for (const e of EXPECTED) {
    const host = `${root}${e.path}`;
    const hash = sha(fs.readFileSync(host));
    const mode = fs.statSync(host).mode & 0o7777;
    const is = (v: Variant) => hash === e[v].hash && mode === e[v].mode;
    const state = is('old') ? 'old' : is('new') ? 'new' : 'torn';
    expect(state, `${e.path} is neither wholly old nor wholly new`).not.toBe('torn');
    out.push(state as Variant);
  }
  return out;
}

/** Entries in the managed directories that are not managed files: only our temp files may be there. */
function strays(root: string): string[] {
  const out: string[] = [];
  for (let d = 0; d < 10; d++) {
    for (const name of fs.readdirSync(`${root}/etc/crash/d${d}`)) if (!/^f\d+\.conf$/.test(name)) out.push(name);
  }
  return out;
}

/** Keeps one fixture process started ahead, so its start-up overlaps the previous round. */
function warmPool(fixture: string, root: string): { take(): Promise<WarmChild> } {
  let spare = startChild(fixture, root);
  onTestFinished(async () => (await spare).stop());
  return {
    take() {
      const next = spare;
      spare = startChild(fixture, root);
      return next;
    },
  };
}

describe('crash safety', () => {
  it(
    `leaves every file wholly old or wholly new after ${KILLS} SIGKILLs inside an apply, and the next start converges`,
    async () => {
      const root = await crashRoot();
      const fixture = await bundleFixture(await tempRoot(onTestFinished));
      const pool = warmPool(fixture, root);
      const random = mulberry32(SEED);
      expect((await applyBundle(crashPayload('old'), engine(root))).status).toBe('changed');
      // Undisturbed runs measure an apply here: a fixed part (load, examine, plan) and one per changed file.
      const full = await (await pool.take()).run('new', undefined);
      const noop = await (await pool.take()).run('new', undefined);
      if (full.killed || noop.killed) throw new Error('an undisturbed run was killed');
      expect([full.status, noop.status]).toEqual(['changed', 'converged']);
      const fixedMs = noop.applyMs;
      const perFileMs = Math.max(0, full.applyMs - noop.applyMs) / CRASH_FILES;
      const landed = { beforeWrites: 0, midWrites: 0, afterWrites: 0 };
      let finished = 0;
      let rounds = 0;
      let before = variants(root);
      const started = performance.now();
      let scale = 1;
      const phase = { take: 0, run: 0, delay: 0, check: 0, converge: 0 };
      let killAfterMs = 0;
      onTestFailed(() => {
        process.stderr.write(`agent crash test failed: STEMS_CRASH_SEED=${SEED}, round ${rounds}, kill after ${killAfterMs} ms\n`);
      });
      while (landed.beforeWrites + landed.midWrites + landed.afterWrites < KILLS) {
        expect(rounds, 'too few kills land inside an apply').toBeLessThan(KILLS * 3);
        // each run starts from whatever mix the last kill left and heads for the other variant
        const to: Variant = rounds % 2 === 0 ? 'new' : 'old';
        const pending = before.filter((v) => v !== to).length;
        // spread the kills over the writes this run should make, with a few in the reading before them;
        // `scale` follows the machine's load (see below)
        const fromMs = fixedMs * 0.75;
        killAfterMs = Math.floor(fromMs + random() * scale * (fixedMs - fromMs + perFileMs * pending));
        let t0 = performance.now();
        const warm = await pool.take();
        phase.take += performance.now() - t0;
        t0 = performance.now();
        const outcome = await warm.run(to, killAfterMs);
        phase.run += performance.now() - t0;
        phase.delay += killAfterMs;
        t0 = performance.now();
        rounds++;
        const after = variants(root);
        for (const name of strays(root)) expect(name).toMatch(TEMP_FILE);
        const switched = after.filter((v, i) => v !== before[i]).length;
        expect(
          after.every((v, i) => v === before[i] || v === to),
          'a file moved away from the target',
        ).toBe(true);
        if (!outcome.killed) {
          finished++;
          scale *= 0.9;
        } else if (pending > 0) {
          const at = switched === 0 ? 'beforeWrites' : switched < pending ? 'midWrites' : 'afterWrites';
          landed[at]++;
          // drift later until about one run in ten finishes first: the kills cover the whole apply
          scale *= 1.01;
        }
        before = after;
        phase.check += performance.now() - t0;
        t0 = performance.now();
        if (rounds % CONVERGE_EVERY === 0) {
          // the next start, left alone, ends with every file at its target and no temp file left
          const next = await (await pool.take()).run(to, undefined);
          expect(next.killed ? 'killed' : next.status, `round ${rounds}, kill after ${killAfterMs} ms`).toMatch(/^(changed|converged)$/);
          expect(variants(root).every((v) => v === to)).toBe(true);
          expect(strays(root)).toEqual([]);
          expect((await applyBundle(crashPayload(to), engine(root))).status).toBe('converged');
          before = variants(root);
          phase.converge += performance.now() - t0;
        }
      }
      const totalMs = performance.now() - started;
      process.stderr.write(
        `crash: seed ${SEED}, ${rounds} rounds, kills ${JSON.stringify(landed)}, ${finished} finished first, ` +
          `phases (ms) ${JSON.stringify(Object.fromEntries(Object.entries(phase).map(([k, v]) => [k, Math.round(v)])))}, apply ${full.applyMs} ms (fixed ${fixedMs} ms), ${Math.round(totalMs / rounds)} ms/round, ${Math.round(totalMs / 1000)} s\n`,
      );
      // a crash between two writes is the case that matters: most kills must land there
      expect(landed.midWrites).toBeGreaterThanOrEqual(KILLS / 2);
    },
    // a safety net for a loaded machine: a round takes well under a second on an idle 2-core one
    120_000 + KILLS * 6_000,
  );
});
