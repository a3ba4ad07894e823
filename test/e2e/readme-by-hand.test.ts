import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, freePort, type RunResult, runCli } from '../helpers/processes.js';

// The README's "by hand" block (a hub and one agent on this machine), run as
// written: the commands are read from README.md, so the test fails when the
// README drifts from what works. Only the places change: /tmp/ becomes a temp
// dir and port 7400 a free port, so the run touches nothing shared.

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const INTRO = 'By hand, a hub and one agent on this machine';

/** The sh block that follows the "By hand" paragraph of README.md. */
async function byHandBlock(): Promise<string> {
  const readme = await readFile(join(repoRoot, 'README.md'), 'utf8');
  const at = readme.indexOf(INTRO);
  if (at < 0) throw new Error(`README.md has no paragraph starting "${INTRO}"`);
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!block?.[1]) throw new Error('README.md: no ```sh block after the by-hand paragraph');
  return block[1];
}

/**
 * Runs the block with bash in the checkout (it starts with $PWD), in its own
 * process group: whatever it leaves behind (its `&` jobs) is killed with it.
 * `set -e` makes a failing command fail the run (a paste into a shell would
 * just go on); the EXIT trap stops the jobs if the block stops early.
 */
function runBlock(script: string, timeoutMs: number): Promise<RunResult> {
  const prelude = "set -e\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n";
  return runCli('bash', ['-c', prelude + script], { cwd: repoRoot, timeoutMs, group: true });
}

describe('README: a hub and an agent by hand', () => {
  let work: string;
  let block: string;
  let result: RunResult;

  beforeAll(async () => {
    assertBuilt();
    block = await byHandBlock();
    work = await mkdtemp(join(tmpdir(), 'stems-readme-'));
    const port = await freePort();
    const script = block.replaceAll('/tmp/', `${work}/`).replaceAll('7400', String(port));
    result = await runBlock(script, 120_000);
  }, 150_000);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('the block is what this test expects to adapt: paths under /tmp, the hub on 127.0.0.1:7400', () => {
    expect(block).toMatch(/^\$H init --repo \/tmp\/lab --listen 127\.0\.0\.1:7400$/m);
    expect(block).toMatch(/^\$A enroll --hub http:\/\/127\.0\.0\.1:7400 /m);
    // nothing outside /tmp is written (the agent's root included)
    expect(block).toContain('STEMS_AGENT_ROOT=/tmp/stems-root');
  });

  it('runs to the end with exit 0', () => {
    expect(result.code, `stdout: ${result.stdout}\nstderr: ${result.stderr}`).toBe(0);
  });

  it('ends on hub status with director converged at serial 1, and the motd rendered from this machine’s facts', async () => {
    expect(result.stdout).toMatch(/^NODE +STATE +SERIAL/m);
    expect(result.stdout, result.stdout).toMatch(/^director +converged +1 /m);
    const motd = `director: ${cpus().length} cores, ${Math.floor(totalmem() / 1024 ** 3)} GiB\n`;
    expect(await readFile(join(work, 'stems-root/etc/motd'), 'utf8')).toBe(motd);
    // `cat` of the motd is the block's last output
    expect(result.stdout.endsWith(motd)).toBe(true);
  });
});
