// Test-only: runs the crash fixture as a child process the test can SIGKILL.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Variant } from './_test-crash-bundle.js';

const FIXTURE = fileURLToPath(new URL('./_test-crash-fixture.ts', import.meta.url));
const SHARED_SRC = fileURLToPath(new URL('../../../shared/src/index.ts', import.meta.url));

/**
 * Bundles the fixture and the engine sources into one ESM file that plain
 * `node` starts in a fraction of what tsx needs: the process start is most
 * of a round's cost, and a round per kill is what the test is made of.
 * @stems/shared comes from its sources, as in vitest.config.ts.
 */
export async function bundleFixture(dir: string): Promise<string> {
  const outfile = join(dir, 'crash-fixture.mjs');
  await build({
    entryPoints: [FIXTURE],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    outfile,
    alias: { '@stems/shared': SHARED_SRC },
    // pino and friends are CommonJS and call require(): give the ESM bundle one
    banner: { js: "import { createRequire as stemsRequire } from 'node:module'; const require = stemsRequire(import.meta.url);" },
    logLevel: 'error',
  });
  return outfile;
}

export type RunOutcome = { killed: true } | { killed: false; status: string; applyMs: number };

/** One fixture process, started and waiting (modules loaded, payloads built) for its variant. */
export interface WarmChild {
  /** Starts the apply; kills the child `killAfterMs` after it says it started (undefined: let it finish). */
  run(variant: Variant, killAfterMs: number | undefined): Promise<RunOutcome>;
  /** Ends a child that is still waiting (the spare when the test ends). */
  stop(): Promise<void>;
}

export function startChild(fixture: string, root: string): Promise<WarmChild> {
  return new Promise((resolveReady, rejectReady) => {
    const child: ChildProcess = spawn(process.execPath, [fixture, root], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    let onOutput = () => {
      if (out === 'ready\n') resolveReady({ run, stop });
    };
    let onClose: (code: number | null, signal: NodeJS.Signals | null) => void = (code, signal) =>
      rejectReady(new Error(`crash fixture exited ${code ?? signal} before it was ready: ${out}`));
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      onOutput();
    });
    child.on('error', rejectReady);
    child.on('close', (code, signal) => onClose(code, signal));

    function stop(): Promise<void> {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      return new Promise((resolve) => {
        onClose = () => resolve();
        child.kill('SIGKILL');
      });
    }

    function run(variant: Variant, killAfterMs: number | undefined): Promise<RunOutcome> {
      return new Promise((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined;
        onOutput = () => {
          if (killAfterMs !== undefined && timer === undefined && out.includes('start\n')) {
            timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
          }
        };
        onClose = (code, signal) => {
          clearTimeout(timer);
          const done = /done (\w+) (\d+)/.exec(out);
          // "done" printed: the apply had finished, whether or not the kill came before the exit
          if (done?.[1] && done[2] && (code === 0 || signal === 'SIGKILL'))
            resolve({ killed: false, status: done[1], applyMs: Number(done[2]) });
          else if (signal === 'SIGKILL') resolve({ killed: true });
          else reject(new Error(`crash fixture exited ${code ?? signal}: ${out}`));
        };
        child.stdin?.end(`${variant}\n`);
      });
    }
  });
}
