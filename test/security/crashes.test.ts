import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFailed, onTestFinished } from 'vitest';
import { assertBuilt, eventually } from '../helpers/processes.js';
import { CRASH_NODES, type CrashHub, crashHub, crashRepo, nodeName } from './_crash-hub.js';
import { checkStore, EMPTY_STATE, type StoreState } from './_crash-store.js';
import { seededRandom } from './_tree.js';

// A fixed seed, so a failing kill point can be replayed (STEMS_CRASH_SEED); STEMS_SOAK=1 runs 500 kills.
const SEED = Number(process.env.STEMS_CRASH_SEED ?? 0xc4a5);
/** Kills that must land while an approval request is inside the hub (sent, not answered). */
const HUB_KILLS = Number(process.env.STEMS_CRASH_KILLS ?? (process.env.STEMS_SOAK === '1' ? 500 : 100));

type Landing = 'beforeCommit' | 'afterCommit' | 'afterReply';

/**
 * Sends an approval as `hub approve` does through a running server (the hub
 * process is the one that commits) and SIGKILLs the hub `killAfterMs` later,
 * or as soon as it answers. Resolves once the process is gone.
 */
async function approveAndKill(hub: CrashHub, rev: string, killAfterMs: number): Promise<{ replied: boolean }> {
  const { child } = hub.daemon();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  let replied = false;
  try {
    const res = await hub.approve(rev);
    replied = true;
    expect(res.status, await res.text()).toBe(201);
  } catch (err) {
    // the connection died with the hub: the kill landed while the request was inside it
    if (!(err instanceof TypeError)) throw err;
  }
  clearTimeout(timer);
  child.kill('SIGKILL');
  await exited;
  expect(child.signalCode).toBe('SIGKILL');
  return { replied };
}

describe('crash safety of the hub', () => {
  it(
    `keeps every approval of ${CRASH_NODES} nodes whole through ${HUB_KILLS} SIGKILLs of the hub mid-approval`,
    { timeout: 120_000 + HUB_KILLS * 10_000 },
    async () => {
      assertBuilt();
      const repo = await crashRepo();
      onTestFinished(() => repo.cleanup());
      const work = await mkdtemp(join(tmpdir(), 'stems-crash-hub-'));
      onTestFinished(() => rm(work, { recursive: true, force: true }));
      const hub = await crashHub(work, repo.dir);
      await hub.start();
      onTestFinished(() => hub.daemon().stop('SIGKILL'));
      const random = seededRandom(SEED);
      const [revA, revB] = repo.revisions;

      // undisturbed approvals of both revisions (once the first sync knows them); the second, on a
      // freshly started hub as in every round (cold code, cold git reads), times the window
      let state: StoreState = EMPTY_STATE;
      await eventually(async () => ((await hub.approve(revA)).status === 201 ? true : undefined), 'the hub to sync the repo');
      ({ state } = await checkStore(hub.dataDir, state, revA));
      await hub.daemon().stop('SIGKILL');
      await hub.start();
      let t0 = performance.now();
      expect((await hub.approve(revB)).status).toBe(201);
      const approvalMs = performance.now() - t0;
      ({ state } = await checkStore(hub.dataDir, state, revB));

      const landed: Record<Landing, number> = { beforeCommit: 0, afterCommit: 0, afterReply: 0 };
      let scale = 1.1;
      let round = 0;
      let killAfterMs = 0;
      const restartMs: number[] = [];
      onTestFailed(() => {
        process.stderr.write(`hub crash test failed: seed ${SEED}, round ${round}, kill after ${killAfterMs} ms\n`);
      });
      const started = performance.now();
      while (landed.beforeCommit + landed.afterCommit < HUB_KILLS) {
        expect(round, 'too few kills land inside an approval').toBeLessThan(HUB_KILLS * 3);
        round++;
        // each round approves the revision the nodes are not on, so every approval is a real change
        const target = state.latest.get(nodeName(0))?.commit === revA ? revB : revA;
        // spread over the whole approval (compile, sign 50, commit, reply); `scale` follows the load
        killAfterMs = Math.floor(random() * scale * approvalMs);
        const { replied } = await approveAndKill(hub, target, killAfterMs);
        t0 = performance.now();
        await hub.start();
        restartMs.push(performance.now() - t0);
        const after = await checkStore(hub.dataDir, state, target);
        state = after.state;
        if (replied) {
          expect(after.committed, 'an approval that was answered is on disk').toBe(true);
          landed.afterReply++;
          scale *= 0.9;
        } else {
          landed[after.committed ? 'afterCommit' : 'beforeCommit']++;
          // drift later until about one kill in ten comes after the answer: the kills cover the whole approval
          scale *= 1.01;
        }
      }
      const totalMs = performance.now() - started;
      const meanRestartMs = Math.round(restartMs.reduce((a, b) => a + b, 0) / restartMs.length);
      process.stderr.write(
        `hub crash: seed ${SEED}, ${round} kills, landed ${JSON.stringify(landed)}, approval ${Math.round(approvalMs)} ms, ` +
          `restart ${meanRestartMs} ms, ${Math.round(totalMs / round)} ms/round, ${Math.round(totalMs / 1000)} s, ${state.approvals} approvals committed\n`,
      );
      // both sides of the commit were hit: kills that lost the approval and kills that kept it
      expect(landed.beforeCommit).toBeGreaterThan(0);
      expect(landed.afterCommit + landed.afterReply).toBeGreaterThan(0);
    },
  );
});
