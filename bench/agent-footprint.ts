/**
 * Benchmark (not a timed test): what an idle `stems-agent run` costs a node.
 * A real hub and a real enrolled agent daemon, its bundle applied and the
 * hub connected (health reports and pings flowing, file watcher on); then
 * nothing happens for --sec seconds while RSS is sampled from
 * /proc/<pid>/status and CPU time read from /proc/<pid>/stat.
 * Target: RSS < 60 MB, about 0 % CPU.
 *
 *   npx tsx bench/agent-footprint.ts [--sec 300] [--files 1000] [--sample-ms 1000] [--busy N] [--write]
 *
 * --busy N keeps N busy loops running from before the agent starts to the end:
 * a node doing its real work, where the agent's idle time is short and V8's
 * own memory reducer can stay away (its own section in RESULTS.md).
 *
 * Needs `pnpm build` first.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { assertBuilt } from '../test/helpers/processes.js';
import { cpuTicks, memoryKiBOf, type ProcessMemory } from './_measure.js';
import { median, replaceSection } from './_stats.js';
import { setupStems } from './_stems.js';

const { values: args } = parseArgs({
  options: {
    sec: { type: 'string', default: '300' },
    files: { type: 'string', default: '1000' },
    'sample-ms': { type: 'string', default: '1000' },
    busy: { type: 'string', default: '0' },
    write: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(args.sec);
const BUSY = Number(args.busy);
const TARGET_RSS_MB = 60;
/** Linux clock ticks per second (USER_HZ), the unit of /proc/<pid>/stat times. */
const TICKS_PER_SEC = 100;
/**
 * Settling time after the start-up apply before the idle window opens. V8's
 * memory reducer frees what the apply left behind about 8 s after it (a major
 * GC once allocation has stopped): until then the agent is not idle yet. The
 * peak including the apply is reported apart (VmHWM).
 */
const SETTLE_MS = 15_000;

async function main(): Promise<void> {
  assertBuilt();
  const work = await mkdtemp(join(tmpdir(), 'stems-footprint-'));
  const loops = Array.from({ length: BUSY }, () => spawn(process.execPath, ['-e', 'for (;;);'], { stdio: 'ignore' }));
  const stopLoops = () => {
    for (const loop of loops) loop.kill('SIGKILL');
  };
  const setup = await setupStems({ work, n: Number(args.files) }).catch((err: unknown) => {
    stopLoops();
    throw err;
  });
  const samples: ProcessMemory[] = [];
  let cpuPct = 0;
  try {
    await setup.agent.waitFor(/agent running/, 30_000);
    const pid = setup.agent.child.pid as number;
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const before = await cpuTicks(pid);
    const started = performance.now();
    while (performance.now() - started < SECONDS * 1000) {
      samples.push(await memoryKiBOf(pid));
      await new Promise((r) => setTimeout(r, Number(args['sample-ms'])));
    }
    const elapsedSec = (performance.now() - started) / 1000;
    cpuPct = (((await cpuTicks(pid)) - before) / TICKS_PER_SEC / elapsedSec) * 100;
  } finally {
    stopLoops();
    await setup.stop();
    await rm(work, { recursive: true, force: true });
  }
  const mb = (kib: number) => (kib / 1024).toFixed(1);
  const rss = samples.map((s) => s.rss);
  const maxKiB = Math.max(...rss);
  const peakKiB = samples.at(-1)?.peak ?? 0;
  const text = [
    `Machine: ${cpus().length} cores (${cpus()[0]?.model.trim()}), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} at the end.`,
    `Idle \`stems-agent run\` for ${SECONDS} s (after a ${SETTLE_MS / 1000} s settle): enrolled, a ${args.files}-file bundle applied, hub connected, default intervals; RSS sampled every ${args['sample-ms']} ms.` +
      (BUSY > 0 ? ` ${BUSY} busy loops ran all along (a node doing its work).` : ''),
    `Run: \`pnpm build && npx tsx bench/agent-footprint.ts --sec ${SECONDS}${BUSY > 0 ? ` --busy ${BUSY}` : ''} --write\`.`,
    '',
    '| RSS median | of which anonymous / file-backed (mostly the node binary) | RSS max | CPU (% of one core) | target | peak with the start-up apply (VmHWM) |',
    '|---|---|---|---|---|---|',
    `| ${mb(median(rss))} MB | ${mb(median(samples.map((s) => s.anon)))} / ${mb(median(samples.map((s) => s.file)))} MB | ${mb(maxKiB)} MB | ${cpuPct.toFixed(2)} % | RSS < ${TARGET_RSS_MB} MB: ${maxKiB / 1024 < TARGET_RSS_MB ? 'met' : 'missed'}, ~0 % CPU | ${mb(peakKiB)} MB |`,
  ].join('\n');
  console.log(text);
  if (args.write) {
    const heading = BUSY > 0 ? '## Agent footprint (idle daemon, busy node)' : '## Agent footprint (idle daemon)';
    await replaceSection('bench/RESULTS.md', heading, `${heading}\n\n${text}\n`);
  }
}

await main();
