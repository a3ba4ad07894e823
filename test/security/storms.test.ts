import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { histogram, minGap, peakToMean, renderHistogram } from '../helpers/swarm/analysis.js';
import { idleCluster, type SwarmHub, startSwarmHub } from '../helpers/swarm/hub.js';
import { nodeIdentities } from '../helpers/swarm/nodes.js';
import { Swarm } from '../helpers/swarm/swarm.js';

/*
 * Issue 7, reconnect storms: a real `hub serve` process with AGENTS light
 * agents connected (real websockets on loopback, real challenge-response with
 * their own node keys, the agent's own HubConnection and backoff), killed and
 * restarted on the same port and data dir. Salt's own goal for its minions is
 * 60 s; ours is 30 s for 1000 agents, counted from the moment the new hub
 * listens (its start-up time, seconds on a loaded machine, is printed apart).
 * STEMS_SOAK=1 runs the same with 3000.
 */
const AGENTS = process.env.STEMS_SOAK === '1' ? 3000 : 1000;
const RECONNECT_LIMIT_MS = 30_000;
const BUCKET_MS = 500;
const PEAK_OVER_MEAN_LIMIT = 3;
/** The agent's backoff floor (AGENT_DEFAULTS.intervals.backoffMinMs, used by the light agents). */
const MIN_RETRY_GAP_MS = 1_000;
/**
 * Test-only: a connection open this long resets the backoff (default 30 s), so
 * the second storm starts from the same backoff state as the first without
 * the test waiting half a minute.
 */
const STABLE_MS = 3_000;

interface Storm {
  signal: NodeJS.Signals;
  killedAt: number;
  listeningAt: number;
  reconnectMs: number;
  buckets: number[];
  ratio: { peak: number; mean: number; ratio: number };
  minGapMs: number;
  steadyRss: number;
  peakRss: number;
}

describe('reconnect storm: the hub restarts under 1000 connected agents', { timeout: 120_000 }, () => {
  let work: string;
  let hub: SwarmHub;
  let swarm: Swarm;
  const storms: Storm[] = [];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'stems-storm-'));
    const nodes = nodeIdentities(AGENTS);
    hub = await startSwarmHub({ work, files: idleCluster(nodes), nodes });
    // The first connections are set-up (a fleet that is already up), spread over 3 s.
    swarm = await Swarm.start({ url: hub.url, hubKey: hub.hubKey, nodes, stableMs: STABLE_MS, rampMs: 3_000 });
    await swarm.waitReady(60_000);
  });

  afterAll(async () => {
    await swarm?.stop();
    await hub?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** Steady state, then kill (signal) and restart on the same port and data dir; measures the storm. */
  async function storm(signal: NodeJS.Signals): Promise<Storm> {
    await new Promise((r) => setTimeout(r, STABLE_MS + 1_000)); // settled, backoffs reset
    const steadyRss = (await hub.memory()).rss;
    const killedAt = Date.now();
    await hub.kill(signal);
    await hub.start();
    const listeningAt = Date.now();
    const welcomedAfter = () => swarm.agents.map((a) => a.welcomes.find((t) => t > killedAt));
    const deadline = listeningAt + RECONNECT_LIMIT_MS + 10_000;
    while (welcomedAfter().some((t) => t === undefined) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 1_000)); // let the hub finish the facts frames of the last ones
    const welcomes = welcomedAfter();
    const missing = welcomes.filter((t) => t === undefined).length;
    const times = welcomes.filter((t): t is number => t !== undefined);
    const buckets = histogram(times, BUCKET_MS, listeningAt);
    const result: Storm = {
      signal,
      killedAt,
      listeningAt,
      reconnectMs: missing ? Number.POSITIVE_INFINITY : Math.max(...times) - listeningAt,
      buckets,
      ratio: peakToMean(buckets),
      minGapMs: Math.min(...swarm.agents.map((a) => minGap(a.attempts, killedAt))),
      steadyRss,
      peakRss: (await hub.memory()).peak,
    };
    storms.push(result);
    const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MB`;
    console.info(
      [
        `storm after ${signal}: ${AGENTS - missing}/${AGENTS} re-authenticated ${result.reconnectMs} ms after the hub ` +
          `listened again (it was down ${listeningAt - killedAt} ms: kill, process start, store open)`,
        `  accepts per ${BUCKET_MS} ms from the restart: peak ${result.ratio.peak}, mean ${result.ratio.mean.toFixed(1)}, ` +
          `peak/mean ${result.ratio.ratio.toFixed(2)}`,
        renderHistogram(buckets, BUCKET_MS),
        `  shortest gap between two attempts of one agent: ${result.minGapMs} ms`,
        `  hub RSS steady ${mb(steadyRss)}, peak after restart ${mb(result.peakRss)} (${(result.peakRss / steadyRss).toFixed(2)}x)`,
      ].join('\n'),
    );
    return result;
  }

  for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
    it(`after ${signal}: all reconnect within 30 s, evenly, no agent faster than 1/s, memory under 2x`, async () => {
      const s = await storm(signal);
      expect(s.reconnectMs).toBeLessThanOrEqual(RECONNECT_LIMIT_MS);
      expect(s.ratio.ratio).toBeLessThanOrEqual(PEAK_OVER_MEAN_LIMIT);
      // Attempt times are Date.now() at each connect: a timer may fire up to 1 ms early against that clock.
      expect(s.minGapMs).toBeGreaterThanOrEqual(MIN_RETRY_GAP_MS - 1);
      expect(s.peakRss).toBeLessThanOrEqual(2 * s.steadyRss);
      expect(swarm.agents.every((a) => a.ready)).toBe(true);
    });
  }
});
