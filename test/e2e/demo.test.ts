import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, type ExpectStatic, it } from 'vitest';
import { assertBuilt } from '../helpers/processes.js';

// `pnpm demo` as a user runs it: the real script, which starts a real hub and
// three real agents and drives them through the CLIs. What matters besides
// its output: exit code, and that nothing it started outlives it.

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const exec = promisify(execFile);

interface DemoRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/**
 * Runs `pnpm demo` in its own process group, like a shell runs a foreground
 * job; `interruptOn` sends SIGINT to that whole group (what Ctrl-C does) once
 * the output matches.
 */
function runDemo(opts: { args?: string[]; env?: NodeJS.ProcessEnv; interruptOn?: RegExp; timeoutMs: number }): Promise<DemoRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('pnpm', ['demo', ...(opts.args ?? [])], {
      cwd: repoRoot,
      env: { ...process.env, NO_COLOR: '1', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    let interrupted = false;
    const onData = (d: Buffer) => {
      output += d.toString();
      if (opts.interruptOn && !interrupted && opts.interruptOn.test(output) && child.pid) {
        interrupted = true;
        process.kill(-child.pid, 'SIGINT');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setTimeout(() => {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
      // the demo never got to clean up: do it here so a slow run leaks nothing
      void reap(output).finally(() =>
        reject(new Error(`pnpm demo did not finish within ${opts.timeoutMs} ms; output:\n${output.slice(-4000)}`)),
      );
    }, opts.timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
  });
}

/** Processes whose environment names the demo's workdir: its hub, agents and CLI calls. */
async function processesUsing(workdir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if ((await readFile(`/proc/${entry}/environ`)).includes(workdir)) pids.push(Number(entry));
    } catch (err) {
      // the process ended while we looked, or is not ours to read
      if (!['ENOENT', 'ESRCH', 'EACCES'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
    }
  }
  return pids;
}

const workdirOf = (output: string) => output.match(/workdir: (\S+)/)?.[1];

/** Kills what a demo killed with SIGKILL left behind (its hub and agents run in their own process groups). */
async function reap(output: string): Promise<void> {
  const workdir = workdirOf(output);
  if (!workdir) return;
  for (const pid of await processesUsing(workdir)) process.kill(pid, 'SIGKILL');
  await rm(workdir, { recursive: true, force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

/** The demo prints its workdir and every pid it starts; none may be left. */
async function expectCleanedUp(expect: ExpectStatic, run: DemoRun): Promise<void> {
  const workdir = workdirOf(run.output);
  expect(workdir, run.output).toMatch(/stems-demo-/);
  if (!workdir) return;
  expect(existsSync(workdir), `${workdir} left behind`).toBe(false);
  const pids = [...run.output.matchAll(/\bpid (\d+)/g)].map((m) => Number(m[1]));
  expect(pids.filter(alive), 'processes still running').toEqual([]);
  expect(await processesUsing(workdir)).toEqual([]);
}

// The runs go side by side: each demo has its own temp dir and port, most of a
// run is waiting, and the failures stop early; the file costs about one full run.
describe.concurrent('pnpm demo', () => {
  assertBuilt();

  it('walks through the whole lifecycle, exits 0 and leaves nothing behind', { timeout: 180_000 }, async ({ expect }) => {
    const run = await runDemo({ timeoutMs: 170_000 });
    expect(run.code, run.output).toBe(0);
    for (const line of [
      'node-metrics role left out: this machine has no systemd',
      '▸ 1/13 Make a desired-state repo from examples/colab (git)',
      '$ hub init --repo',
      '(director) $ stems-agent enroll',
      '$ hub revisions',
      '$ hub diff latest',
      '$ hub approve latest --note',
      'all 3 nodes converged at serial 1',
      '"default-shm-size"',
      'cooperator (drift: enforce) put /etc/motd back',
      'director (policy: { drift: report }) reported it',
      'all 3 nodes converged at serial 2',
      '$ hub rollback --to',
      'all 3 nodes converged at serial 3',
      '▸ 13/13 Where the cluster stands',
      '✓ demo finished in',
    ]) {
      expect(run.output).toContain(line);
    }
    // every step printed its timing
    expect(run.output.match(/^ {2}✓ \d+\.\ds$/gm)).toHaveLength(13);
    // the director reported drift and the last status shows everyone converged on the rollback
    expect(run.output).toMatch(/director\s+drifted\s+1\s/);
    expect(run.output.slice(run.output.lastIndexOf('$ hub status'))).toMatch(/(converged\s+3\s[\s\S]*){3}/);
    await expectCleanedUp(expect, run);
  });

  it(
    'fails at the approve step when the revision is invalid, shows why and the logs, and cleans up',
    { timeout: 150_000 },
    async ({ expect }) => {
      const run = await runDemo({ env: { STEMS_DEMO_BREAK: 'invalid-revision' }, timeoutMs: 140_000 });
      expect(run.code, run.output).toBe(1);
      expect(run.output).toMatch(/✗ step 7 \(Approve it: the hub signs one bundle per node\) failed/);
      expect(run.output).toContain('STEMS_REVISION_INVALID');
      expect(run.output).toContain('--- last lines of hub serve');
      expect(run.output).toContain('--- last lines of agent director');
      expect(run.output).not.toContain('✓ demo finished');
      await expectCleanedUp(expect, run);
    },
  );

  it('fails at once when the hub dies mid-way, and cleans up', { timeout: 90_000 }, async ({ expect }) => {
    const run = await runDemo({ env: { STEMS_DEMO_BREAK: 'kill-hub' }, timeoutMs: 80_000 });
    expect(run.code, run.output).toBe(1);
    expect(run.output).toMatch(/✗ step 3 .* failed: hub serve exited unexpectedly \(SIGKILL\)/);
    await expectCleanedUp(expect, run);
  });

  it('stops everything and removes its temp dir on Ctrl-C', { timeout: 90_000 }, async ({ expect }) => {
    // Step 3 starts once the hub runs; the agents' cleanup is covered by the failures above.
    const run = await runDemo({ interruptOn: /▸ 3\/13/, timeoutMs: 80_000 });
    expect(run.code === 130 || run.signal === 'SIGINT', `exit ${run.code} ${run.signal}\n${run.output}`).toBe(true);
    await expectCleanedUp(expect, run);
  });

  it('--keep leaves the hub and agents running, and its stop script stops them all', { timeout: 180_000 }, async ({ expect }) => {
    const run = await runDemo({ args: ['--keep'], timeoutMs: 170_000 });
    try {
      expect(run.code, run.output).toBe(0);
      expect(run.output).toContain('hub and agents left running (--keep)');
      const pids = [...run.output.matchAll(/\bpid (\d+)/g)].map((m) => Number(m[1]));
      expect(new Set(pids).size).toBe(4);
      expect(pids.every(alive), 'all four still running').toBe(true);
      const workdir = workdirOf(run.output) ?? '';
      // the commands it prints work against what it left running
      const { stdout } = await exec(join(repoRoot, 'packages/hub/bin/hub'), ['status', '--json'], {
        env: { ...process.env, STEMS_HUB_DATA: join(workdir, 'hub') },
      });
      expect((JSON.parse(stdout) as { nodes: { state: string }[] }).nodes.map((n) => n.state)).toEqual([
        'converged',
        'converged',
        'converged',
      ]);
      const stop = run.output.match(/sh (\S+\/stop\.sh)/)?.[1];
      expect(stop).toBe(join(workdir, 'stop.sh'));
      await exec('sh', [stop ?? '']);
      await expectCleanedUp(expect, run);
    } finally {
      await reap(run.output);
    }
  });
});
