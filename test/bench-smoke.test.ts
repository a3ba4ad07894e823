import { describe, expect, it } from 'vitest';
import { assertBuilt, repoRoot, runCli } from './helpers/processes.js';

// Every benchmark script, run in a tiny form so it cannot rot between the
// sessions that run it for real. Nothing here is timed: each case asserts that
// the script did its job (real hub, real agents, the files checked where the
// script checks them) and printed its table. Without --write, RESULTS.md is
// left alone.
const CASES: Array<{ script: string; args: string[]; shows: RegExp }> = [
  { script: 'agent-apply.ts', args: ['--files', '20', '--runs', '1'], shows: /^\| noop \| \d+ ms .*\| \d+\.\d+× \|/m },
  {
    script: 'anchors.ts',
    args: ['--n', '20', '--runs', '1', '--tools', 'stems,floor'],
    shows: /^\| 20 \| \*\*stems\*\* .*\| [\d.]+ \/ [\d.]+ \/ [\d.]+ \|$/m,
  },
  { script: 'compile.ts', args: ['--runs', '1'], shows: /^\| git http-backend \| \d+ ms/m },
  { script: 'drift-recheck.ts', args: ['--files', '50', '--runs', '3', '--warmup', '1'], shows: /^\| 50 files \| [\d.]+ ms/m },
  { script: 'approval.ts', args: ['--agents', '5', '--runs', '1', '--files', '5', '--workers', '1'], shows: /^\| 5 \| -?\d+ /m },
  { script: 'drift-latency.ts', args: ['--edits', '2', '--files', '10'], shows: /^\| stems \(file watcher\) \| \d+ ms/m },
  { script: 'agent-footprint.ts', args: ['--sec', '2', '--files', '20'], shows: /^\| [\d.]+ MB \| [\d.]+ \/ [\d.]+ MB \|/m },
  {
    script: 'hub-capacity.ts',
    args: ['--agents', '20', '--workers', '1', '--window-sec', '2'],
    shows: /^\| agents connected \| 20 \/ 20 /m,
  },
];

describe('benchmark scripts (tiny runs, not timed)', () => {
  assertBuilt();
  for (const { script, args, shows } of CASES) {
    it(`bench/${script} ${args.join(' ')} runs and prints its table`, { timeout: 240_000 }, async () => {
      const res = await runCli(process.execPath, ['--import', 'tsx', `bench/${script}`, ...args], {
        cwd: repoRoot,
        timeoutMs: 230_000,
        group: true,
      });
      expect(res.code, res.stderr.slice(-3000)).toBe(0);
      expect(res.stdout).toMatch(shows);
    });
  }
});
