/**
 * Benchmark (not a timed test): the daemon's full drift re-check, the task
 * `stems-agent run` puts on its chain every `intervals.driftMs`
 * (DriftLoop.check() over the real engine, packages/agent/src/daemon), for
 * N managed files of the bench scenario under a temp root. In process,
 * through the package sources; timed over many runs after a warm-up.
 * Target: ≤ 100 ms for 1000 files.
 *
 *   npx tsx bench/drift-recheck.ts [--files 1000] [--runs 50] [--warmup 5] [--write]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { silent } from '../packages/agent/src/daemon/_test-fixtures.js';
import { DriftLoop } from '../packages/agent/src/daemon/drift-loop.js';
import { loadEngine } from '../packages/agent/src/daemon/engine-port.js';
import { payloadBuilder, resource, TEST_FACTS } from '../packages/agent/src/engine/_test-payload.js';
import { FakeSystemd } from '../packages/agent/src/system/_fake-systemd.js';
import { damage, fileName, TEMPLATE, varsOf } from './_scenario.js';
import { replaceSection, stats } from './_stats.js';
import { BENCH_DIR } from './_stems.js';

const { values: args } = parseArgs({
  options: {
    files: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '50' },
    warmup: { type: 'string', default: '5' },
    write: { type: 'boolean', default: false },
  },
});
const FILES = Number(args.files);
const TARGET_MS = 100;

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'stems-recheck-'));
  try {
    const b = payloadBuilder();
    const body = b.body(TEMPLATE, { render: true, name: 'item.hbs' });
    const resources = Array.from({ length: FILES }, (_, i) => {
      const path = `${BENCH_DIR}/${fileName(i)}`;
      return resource('file', { id: `file:${path}`, path, body, sensitive: false, mode: '0644', vars: varsOf(i), drift: 'report' });
    });
    const payload = b.payload(resources);
    // files only: no unit is touched, the fake stands in for a systemd this machine does not run as PID 1
    const engine = await loadEngine({ root, log: silent, systemd: new FakeSystemd() });
    const report = await engine.apply(payload, TEST_FACTS, 'bench');
    if (report.status !== 'changed') throw new Error(`set-up apply: ${report.status}`);
    const delivered: string[] = [];
    const loop = new DriftLoop({
      root,
      engine,
      fullCheckMs: 300_000,
      debounceMs: 150,
      enqueue: () => undefined, // the bench calls check() itself, as the daemon's chain would
      current: () => ({ payload, facts: TEST_FACTS }),
      enforce: () => Promise.reject(new Error('resources are drift: report, nothing is enforced')),
      deliver: async (drift) => {
        delivered.push(...drift.items.map((i) => `${i.id} ${i.status}`));
      },
      now: () => new Date(),
      log: silent,
    });
    loop.bundleChanged(payload);
    for (let i = 0; i < Number(args.warmup); i++) await loop.check();
    if (delivered.length > 0) throw new Error(`a clean tree reported drift: ${delivered.slice(0, 3).join(', ')}`);
    const times: number[] = [];
    for (let i = 0; i < Number(args.runs); i++) {
      const t0 = performance.now();
      await loop.check();
      times.push(performance.now() - t0);
    }
    // the same check must see drift: 10 edited + 1 deleted file (reported, not timed)
    await damage(join(root, BENCH_DIR), FILES);
    await loop.check();
    if (delivered.length !== 11) throw new Error(`expected 11 drifted files, the check reported ${delivered.length}`);
    loop.stop();
    const s = stats(times);
    const text = [
      `Machine: ${cpus().length} cores (${cpus()[0]?.model.trim()}), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} at the end.`,
      `DriftLoop.check() (all resources, no drift) over ${FILES} templated files, in process after ${args.warmup} warm-up checks; ${args.runs} runs. A check after 10 edits + 1 deletion reports all 11.`,
      `Run: \`npx tsx bench/drift-recheck.ts --write\`.`,
      '',
      '| full re-check | median | min | max | target |',
      '|---|---|---|---|---|',
      `| ${FILES} files | ${s.median.toFixed(1)} ms | ${s.min.toFixed(1)} ms | ${s.max.toFixed(1)} ms | ≤ ${TARGET_MS} ms: ${s.median <= TARGET_MS ? 'met' : 'missed'} |`,
    ].join('\n');
    console.log(text);
    if (args.write) {
      const heading = '## Daemon drift re-check';
      await replaceSection('bench/RESULTS.md', heading, `${heading}\n\n${text}\n`);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
