/**
 * Benchmark (not a timed test): how long from a hand edit of a managed file
 * until the drift is visible through the hub's API, with a real hub and a
 * real `stems-agent run` daemon on its default intervals (the file watcher
 * finds the edit; the 5-minute full re-check plays no part). Each edit is
 * followed by the agent's repair (drift: enforce) and a pause before the next.
 * Target: p99 < 1 s (CFEngine sees it at its next run, 5 minutes by default;
 * Puppet at its next, 30 minutes).
 *
 *   npx tsx bench/drift-latency.ts [--edits 50] [--files 100] [--gap-ms 1000] [--poll-ms 20] [--write]
 *
 * Latency = from the edit's write returning to the first API answer that
 * lists the drift (GET /api/v1/nodes/:name/drift, polled every --poll-ms).
 * Needs `pnpm build` first.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { assertBuilt, eventually } from '../test/helpers/processes.js';
import { fileName } from './_scenario.js';
import { percentile, replaceSection } from './_stats.js';
import { BENCH_DIR, hubApi, setupStems } from './_stems.js';

const { values: args } = parseArgs({
  options: {
    edits: { type: 'string', default: '50' },
    files: { type: 'string', default: '100' },
    'gap-ms': { type: 'string', default: '1000' },
    'poll-ms': { type: 'string', default: '20' },
    write: { type: 'boolean', default: false },
  },
});
const EDITS = Number(args.edits);
const FILES = Number(args.files);
const POLL_MS = Number(args['poll-ms']);
const TARGET_P99_MS = 1000;

interface DriftEvent {
  id: string;
  status: 'drifted' | 'repaired' | 'cleared';
  detectedAt: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  assertBuilt();
  const work = await mkdtemp(join(tmpdir(), 'stems-drift-bench-'));
  const setup = await setupStems({ work, n: FILES });
  const latencies: number[] = [];
  try {
    const dir = join(setup.agentEnv.STEMS_AGENT_ROOT as string, BENCH_DIR);
    await setup.agent.waitFor(/agent running/, 30_000);
    for (let k = 0; k < EDITS; k++) {
      const i = (k * 37) % FILES;
      const path = join(dir, fileName(i));
      const id = `file:${BENCH_DIR}/${fileName(i)}`;
      const original = await readFile(path, 'utf8');
      const editedAt = Date.now();
      await writeFile(path, `edited by hand ${k}\n`);
      const t0 = performance.now();
      let seenMs: number | undefined;
      while (seenMs === undefined) {
        const events = await hubApi<DriftEvent[]>(setup, '/nodes/bench-node/drift?limit=20');
        // detectedAt is the agent's clock, the same machine: an event of this edit is not older than the write
        if (events.some((e) => e.id === id && e.status === 'drifted' && Date.parse(e.detectedAt) >= editedAt - 1)) {
          seenMs = performance.now() - t0;
        } else {
          if (performance.now() - t0 > 30_000)
            throw new Error(`edit ${k} of ${path}: no drift after 30 s\n${setup.agent.output().slice(-3000)}`);
          await sleep(POLL_MS);
        }
      }
      latencies.push(seenMs);
      // the agent enforces: wait for the repair so the next edit starts from a converged node
      await eventually(async () => ((await readFile(path, 'utf8')) === original ? true : undefined), `repair of ${path}`, 30_000, 50);
      await sleep(Number(args['gap-ms']));
    }
  } finally {
    await setup.stop();
    await rm(work, { recursive: true, force: true });
  }
  const p99 = percentile(latencies, 99);
  const text = [
    `Machine: ${cpus().length} cores (${cpus()[0]?.model.trim()}), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} at the end.`,
    `${EDITS} hand edits (one every ~${args['gap-ms']} ms after the previous repair) of files of a ${FILES}-file bundle; a real hub and \`stems-agent run\` on default intervals; the API polled every ${POLL_MS} ms.`,
    `Run: \`pnpm build && npx tsx bench/drift-latency.ts --edits ${EDITS} --write\`.`,
    '',
    '| edit → drift visible in the hub API | p50 | p99 | max | target |',
    '|---|---|---|---|---|',
    `| stems (file watcher) | ${Math.round(percentile(latencies, 50))} ms | ${Math.round(p99)} ms | ${Math.round(Math.max(...latencies))} ms | p99 < ${TARGET_P99_MS} ms: ${p99 < TARGET_P99_MS ? 'met' : 'missed'} |`,
    '| CFEngine (cf-execd every 5 min) | next run: up to 5 min | | | |',
    '| Puppet (agent every 30 min) | next run: up to 30 min | | | |',
  ].join('\n');
  console.log(text);
  if (args.write) {
    const heading = '## Drift latency';
    await replaceSection('bench/RESULTS.md', heading, `${heading}\n\n${text}\n`);
  }
}

await main();
