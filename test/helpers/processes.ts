import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The checkout, with a trailing slash. */
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
/** The executables a user runs, from the checkout (after `pnpm build`). */
export const HUB_BIN = `${repoRoot}packages/hub/bin/hub`;
export const AGENT_BIN = `${repoRoot}packages/agent/bin/stems-agent`;

export function assertBuilt(): void {
  for (const pkg of ['shared', 'hub', 'agent']) {
    if (!existsSync(`${repoRoot}packages/${pkg}/dist/index.js`)) {
      throw new Error(`packages/${pkg} is not built: run \`pnpm build\` before the end-to-end tests`);
    }
  }
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a CLI to completion (bounded by timeoutMs) and returns its output. */
export function runCli(
  bin: string,
  args: string[],
  opts: {
    env?: NodeJS.ProcessEnv;
    timeoutMs?: number;
    cwd?: string;
    /** Run it in its own process group, and kill the whole group when it ends: nothing it started outlives it. */
    group?: boolean;
  } = {},
): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, {
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      detached: opts.group === true,
    });
    const kill = () => {
      try {
        if (opts.group && child.pid) process.kill(-child.pid, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        // already gone
      }
    };
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => {
      kill();
      reject(new Error(`${bin} ${args.join(' ')} timed out after ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (opts.group) kill();
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs a CLI that must succeed; returns stdout. */
export async function runOk(bin: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const result = await runCli(bin, args, { env });
  if (result.code !== 0) {
    throw new Error(`${bin} ${args.join(' ')} exited ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  }
  return result.stdout;
}

export interface Daemon {
  child: ChildProcess;
  output(): string;
  /** Resolves once the output matches, rejects after timeoutMs or if the process exits. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts a long-running process (hub serve, agent run); stop() it in a finally/afterAll. */
export function startDaemon(bin: string, args: string[], env?: NodeJS.ProcessEnv): Daemon {
  const child = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const l of listeners) l();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => out,
    waitFor(pattern, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = out.match(pattern);
          if (match) {
            cleanup();
            resolve(match);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${pattern} from ${bin}; output:\n${out.slice(-4000)}`));
        }, timeoutMs);
        const onExit = () => {
          cleanup();
          reject(new Error(`${bin} exited (${child.exitCode}) before ${pattern}; output:\n${out.slice(-4000)}`));
        };
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
          child.off('exit', onExit);
        };
        listeners.add(check);
        child.once('exit', onExit);
        check();
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A free loopback port (the tiny race with another process taking it is acceptable in tests). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls until check() returns a value (not undefined), or fails after timeoutMs. */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 15_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/** Waits until the hub's newest revision is `commit` (the hub fetched it), and returns that revision row. */
export function waitForRevision(
  hubCli: (...args: string[]) => Promise<string>,
  commit: string,
): Promise<{ commit: string; state: string }> {
  return eventually(
    async () => {
      const list = JSON.parse(await hubCli('revisions', '--json')) as { commit: string; state: string }[];
      return list[0]?.commit === commit ? list[0] : undefined;
    },
    `revision ${commit.slice(0, 10)}`,
  );
}
