import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { FakeSystemd } from '../system/_fake-systemd.js';
import { TEMP_FILE } from '../system/safe-fs.js';
import { CRASH_FILES, crashPayload, expectedFile, type Variant } from './_test-crash-bundle.js';
import { silentLog, TEST_FACTS, tempRoot } from './_test-payload.js';
import { applyBundle } from './index.js';

// A fixed seed, so a failing kill point can be replayed; STEMS_SOAK=1 runs 200 kills.
const SEED = Number(process.env.STEMS_CRASH_SEED ?? 20261122);
const KILLS = process.env.STEMS_SOAK === '1' ? 200 : 20;
const FIXTURE = fileURLToPath(new URL('./_test-crash-fixture.ts', import.meta.url));

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

/** Runs the fixture; kills it `delayMs` after it starts applying (undefined: let it finish). */
function runFixture(root: string, variant: Variant, delayMs: number | undefined): Promise<{ killed: boolean; applyMs?: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, root, variant], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let killed = false;
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (delayMs !== undefined && out.startsWith('start\n') && !killed) {
        killed = true;
        setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const done = /done (\w+) (\d+)/.exec(out);
      if (signal === 'SIGKILL') resolve({ killed: true });
      else if (code === 0 && done) resolve({ killed: false, applyMs: Number(done[2]) });
      else reject(new Error(`fixture exited ${code ?? signal}: ${out}`));
    });
  });
}

/** Which variant each file wholly is (content and mode together); fails on a torn file. */
function variants(root: string): Variant[] {
  const out: Variant[] = [];
  for (let i = 0; i < CRASH_FILES; i++) {
    const a = expectedFile('old', i);
    const b = expectedFile('new', i);
    const host = `${root}${a.path}`;
    const hash = sha(fs.readFileSync(host));
    const mode = fs.statSync(host).mode & 0o7777;
    const state = hash === sha(a.text) && mode === a.mode ? 'old' : hash === sha(b.text) && mode === b.mode ? 'new' : 'torn';
    expect(state, `${a.path} is neither wholly old nor wholly new`).not.toBe('torn');
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

describe('crash safety', () => {
  it(
    `leaves every file wholly old or wholly new after ${KILLS} SIGKILLs at random points, and the next apply converges`,
    async () => {
      const root = await tempRoot(onTestFinished);
      const random = mulberry32(SEED);
      expect((await applyBundle(crashPayload('old'), engine(root))).status).toBe('changed');
      // one undisturbed run measures how long an apply takes here, to spread the kills over it
      const timed = await runFixture(root, 'new', undefined);
      const windowMs = Math.max(20, timed.applyMs ?? 0);
      let before = variants(root);
      let midApply = 0;
      for (let k = 0; k < KILLS; k++) {
        // each run starts from whatever mix the last kill left and heads for the other variant
        const to: Variant = k % 2 === 0 ? 'old' : 'new';
        // the first 70% of a full apply: later rounds often have fewer files left to change
        const { killed } = await runFixture(root, to, Math.floor(random() * windowMs * 0.7));
        const after = variants(root);
        const switched = after.filter((v, i) => v !== before[i]).length;
        const pending = before.filter((v) => v !== to).length;
        if (killed && switched < pending) midApply++;
        for (const name of strays(root)) expect(name).toMatch(TEMP_FILE);
        before = after;
        if (k % 5 === 4 || k === KILLS - 1) {
          const next = await applyBundle(crashPayload(to), engine(root));
          expect(['changed', 'converged']).toContain(next.status);
          expect(variants(root).every((v) => v === to)).toBe(true);
          expect(strays(root)).toEqual([]);
          expect((await applyBundle(crashPayload(to), engine(root))).status).toBe('converged');
          before = variants(root);
        }
      }
      // many kills must land before the apply finished, or the test proves little
      expect(midApply).toBeGreaterThanOrEqual(KILLS / 3);
    },
    60_000 + KILLS * 15_000,
  );
});
