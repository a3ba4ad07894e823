import { spawn } from 'node:child_process';
import { errnoCode } from '@stems/shared';

/** PATH for commands the agent runs: never inherited, so a node's login shell cannot change what runs. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** How much output (stdout and stderr together, the tail) a run keeps. @default 4096 bytes */
const DEFAULT_OUTPUT_BYTES = 4096;

export interface RunOptions {
  /** Kill the process group after this long. */
  timeoutMs: number;
  cwd?: string | undefined;
  /** Variables over the minimal environment (PATH, LANG). */
  env?: Record<string, string> | undefined;
  /** Tail of the combined output to keep. @default 4096 bytes */
  outputBytes?: number;
}

export interface RunResult {
  /** Exit code; null when killed by a signal. 127 when the command does not exist. */
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** The last `outputBytes` of stdout and stderr, interleaved as they came. */
  output: string;
  durationMs: number;
}

/**
 * Runs an argv (no shell) in its own process group, so a timeout kills the
 * command and everything it started. Never rejects: failure is in the result.
 */
export function runArgv(argv: readonly string[], options: RunOptions): Promise<RunResult> {
  const [command, ...args] = argv;
  if (command === undefined) throw new RangeError('runArgv needs a command');
  const keep = options.outputBytes ?? DEFAULT_OUTPUT_BYTES;
  const started = performance.now();
  return new Promise((resolve) => {
    let output = Buffer.alloc(0);
    let timedOut = false;
    const append = (chunk: Buffer) => {
      output = Buffer.concat([output, chunk]);
      if (output.length > keep * 2) output = output.subarray(output.length - keep);
    };
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { PATH: DEFAULT_PATH, LANG: 'C.UTF-8', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child.stdout.on('data', append);
    child.stderr.on('data', append);
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, options.timeoutMs);
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer);
      const tail = output.length > keep ? output.subarray(output.length - keep) : output;
      resolve({ code, signal, timedOut, output: tail.toString('utf8'), durationMs: performance.now() - started });
    };
    child.on('error', (err: NodeJS.ErrnoException) => {
      append(Buffer.from(`${command}: ${err.code === 'ENOENT' ? 'command not found' : err.message}\n`));
      finish(err.code === 'ENOENT' ? 127 : 126, null);
    });
    child.on('close', finish);
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch (err) {
    // ESRCH: the group already exited between the timer and the kill.
    if (errnoCode(err) !== 'ESRCH') throw err;
  }
}

/** "exit 3", "killed by SIGTERM", "timed out after 5000 ms": for messages. */
export function describeExit(result: RunResult, timeoutMs: number): string {
  if (result.timedOut) return `timed out after ${timeoutMs} ms`;
  if (result.code === null) return `killed by ${result.signal ?? 'a signal'}`;
  return `exit ${result.code}`;
}
