/**
 * `pnpm bench`: every benchmark in a quick form, one after another (never in
 * parallel: they would time each other). Each runs as its own process; a
 * failure is reported and the others still run. The full forms are the
 * `pnpm bench:<name>` scripts (bench/README.md).
 *
 *   npx tsx bench/run.ts [--only anchors,drift-latency] [--write]
 *
 * --write lets each benchmark put its section into bench/RESULTS.md.
 * Needs `pnpm build` first (the apply, drift and footprint benchmarks run the built bins).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({ options: { only: { type: 'string' }, write: { type: 'boolean', default: false } } });

/** Quick forms: fewer runs and sizes than the defaults, the same code paths. */
const QUICK: ReadonlyArray<{ name: string; args: string[] }> = [
  { name: 'compile', args: ['--runs', '3'] },
  { name: 'agent-apply', args: ['--files', '1000', '--runs', '3'] },
  { name: 'drift-recheck', args: ['--runs', '30'] },
  // Ansible (about a minute per 100 files) is left to `pnpm bench:anchors`
  { name: 'anchors', args: ['--n', '100,1000', '--runs', '3', '--tools', 'stems,floor,cfengine,puppet'] },
  { name: 'drift-latency', args: ['--edits', '20'] },
  { name: 'agent-footprint', args: ['--sec', '30'] },
  { name: 'approval', args: ['--agents', '10,100', '--runs', '2'] },
  { name: 'hub-capacity', args: ['--agents', '1000', '--quick'] },
  { name: 'liveness-flush', args: ['--seconds', '40', '--runs', '2'] },
];

function run(script: string, argv: string[]): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn('node_modules/.bin/tsx', [script, ...argv], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', resolve);
  });
}

async function main(): Promise<void> {
  const only = args.only?.split(',');
  const failed: string[] = [];
  for (const bench of QUICK) {
    if (only && !only.includes(bench.name)) continue;
    const script = `bench/${bench.name}.ts`;
    if (!existsSync(script)) {
      process.stderr.write(`\n== ${bench.name}: ${script} does not exist, skipped\n`);
      continue;
    }
    const argv = [...bench.args, ...(args.write ? ['--write'] : [])];
    process.stderr.write(`\n== ${bench.name}: ${script} ${argv.join(' ')} (load average ${loadavg()[0]?.toFixed(1)})\n`);
    const started = performance.now();
    const code = await run(script, argv);
    process.stderr.write(`== ${bench.name}: exit ${code} after ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
    if (code !== 0) failed.push(bench.name);
  }
  if (failed.length > 0) {
    process.stderr.write(`\nfailed: ${failed.join(', ')}\n`);
    process.exitCode = 1;
  }
}

await main();
