import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

/**
 * The demo's child processes: long-running ones (`hub serve`, `stems-agent
 * run`) write to log files and live in their own process group, so `--keep`
 * can leave them running after the demo exits and a cleanup can stop each
 * group whole; one-shot CLI calls are tracked so an interrupted demo stops
 * them too. Any long-running process that exits on its own fails the demo at
 * once (`died`), instead of the demo waiting for a convergence that cannot come.
 */

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Daemon {
  name: string;
  pid: number;
  logPath: string;
}

interface Running extends Daemon {
  child: ChildProcess;
  exited: Promise<void>;
}

/** How long a stopped process gets between SIGTERM and SIGKILL. @default 5000 ms */
const STOP_GRACE_MS = 5_000;
/** A one-shot CLI call that takes longer than this fails the step. @default 30000 ms */
const CLI_TIMEOUT_MS = 30_000;

const isGone = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (err) {
    // the group is already gone: nothing left to stop
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

export class Supervisor {
  readonly #daemons: Running[] = [];
  readonly #calls = new Set<ChildProcess>();
  readonly #env: NodeJS.ProcessEnv;
  #stopping = false;
  #rejectDied: (err: Error) => void = () => {};
  /** Rejects when a long-running process exits before the demo stops it. */
  readonly died: Promise<never>;

  /** @param env the environment every child gets (the demo clears the user's STEMS_* settings in it) */
  constructor(env: NodeJS.ProcessEnv) {
    this.#env = env;
    this.died = new Promise<never>((_, reject) => {
      this.#rejectDied = reject;
    });
    // Nobody may be waiting on it when a process dies between steps.
    this.died.catch(() => undefined);
  }

  /** True once stopAll() or release() ran: no new work should start. */
  get stopping(): boolean {
    return this.#stopping;
  }

  get daemons(): readonly Daemon[] {
    return this.#daemons;
  }

  /** Starts a long-running process with stdout and stderr appended to logPath. */
  start(opts: { name: string; bin: string; args: string[]; env: NodeJS.ProcessEnv; logPath: string }): Daemon {
    const fd = openSync(opts.logPath, 'a');
    const child = spawn(opts.bin, opts.args, { env: { ...this.#env, ...opts.env }, stdio: ['ignore', fd, fd], detached: true });
    closeSync(fd);
    if (child.pid === undefined) throw new Error(`could not start ${opts.name} (${opts.bin})`);
    // --keep: the demo must be able to exit while these run on.
    child.unref();
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.once('exit', (code, signal) => {
      if (!this.#stopping) this.#rejectDied(new Error(`${opts.name} exited unexpectedly (${signal ?? `exit code ${code}`})`));
    });
    const running: Running = { name: opts.name, pid: child.pid, logPath: opts.logPath, child, exited };
    this.#daemons.push(running);
    return running;
  }

  /** Runs a CLI to completion; never rejects on a non-zero exit (the result says). */
  run(bin: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
    return new Promise((resolve, reject) => {
      if (this.#stopping) {
        reject(new Error('the demo is stopping'));
        return;
      }
      const child = spawn(bin, args, { env: { ...this.#env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      this.#calls.add(child);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${args[0] ?? bin} timed out after ${CLI_TIMEOUT_MS} ms`));
      }, CLI_TIMEOUT_MS);
      child.on('error', (err) => {
        clearTimeout(timer);
        this.#calls.delete(child);
        reject(err);
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        this.#calls.delete(child);
        resolve({ code, stdout, stderr });
      });
    });
  }

  /**
   * Runs a CLI that prints one line per update (`hub status --watch --json`)
   * until `done(line)` says so, then stops it. Rejects if it exits first or
   * takes longer than timeoutMs.
   */
  stream(opts: { bin: string; args: string[]; env: NodeJS.ProcessEnv; timeoutMs: number; done: (line: string) => boolean }): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#stopping) {
        reject(new Error('the demo is stopping'));
        return;
      }
      const child = spawn(opts.bin, opts.args, { env: { ...this.#env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
      this.#calls.add(child);
      let buffered = '';
      let stderr = '';
      let finished = false;
      const finish = (err?: Error) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        child.kill('SIGTERM');
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => finish(new Error(`timed out after ${opts.timeoutMs} ms`)), opts.timeoutMs);
      child.stdout.on('data', (d: Buffer) => {
        buffered += d.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        if (lines.some((line) => opts.done(line))) finish();
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      child.on('error', (err) => finish(err));
      child.on('close', (code) => {
        this.#calls.delete(child);
        finish(new Error(`${opts.args.join(' ')} exited ${code} before it saw what it waited for${stderr ? `: ${stderr.trim()}` : ''}`));
      });
    });
  }

  /** Waits for a pattern in a daemon's log file (polling: the file is the only channel). */
  async waitForLog(daemon: Daemon, pattern: RegExp, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !this.#stopping) {
      if (pattern.test(await readFile(daemon.logPath, 'utf8'))) return;
      await Promise.race([new Promise((r) => setTimeout(r, 100)), this.died]);
    }
    throw new Error(`${daemon.name} did not log ${pattern} within ${timeoutMs} ms`);
  }

  /** The last lines of a daemon's log, for a failure report. */
  async tail(daemon: Daemon, lines: number): Promise<string> {
    try {
      return (await readFile(daemon.logPath, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
    } catch (err) {
      return `(no log: ${(err as Error).message})`;
    }
  }

  /** Stops every CLI call and every process group, SIGTERM first, SIGKILL after a grace period. */
  async stopAll(): Promise<void> {
    this.#stopping = true;
    for (const call of this.#calls) call.kill('SIGKILL');
    await Promise.all(
      this.#daemons.map(async (d) => {
        if (isGone(d.child)) {
          // the leader is gone; anything it left in its group goes too
          killGroup(d.pid, 'SIGKILL');
          return;
        }
        killGroup(d.pid, 'SIGTERM');
        const timer = setTimeout(() => killGroup(d.pid, 'SIGKILL'), STOP_GRACE_MS);
        await d.exited;
        clearTimeout(timer);
      }),
    );
  }

  /** From now on the processes are the user's: their exit no longer fails the demo. */
  release(): void {
    this.#stopping = true;
  }
}
