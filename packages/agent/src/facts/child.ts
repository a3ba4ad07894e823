import { spawn } from 'node:child_process';
import type { Logger } from 'pino';
import { type CachedFacts, readCachedFacts, refreshFacts } from './cache.js';

/** How to start this agent's CLI again: the node binary, then the entry script. */
export type SelfCommand = readonly [string, ...string[]];

export interface ChildFactsOptions {
  self: SelfCommand;
  /** The config and state folder the daemon runs with, passed on as --config and --state. */
  configPath: string;
  stateDir: string;
  /** Used only by the in-process fallback. */
  factsDir: string;
  log: Logger;
  /** The child is killed after this long. @default CHILD_TIMEOUT_MS */
  timeoutMs?: number;
}

/** A hardware scan takes seconds; one that hangs (a stuck probe tool) must not hold the daemon's work queue. */
export const CHILD_TIMEOUT_MS = 120_000;

function runChild(command: SelfCommand, args: string[], timeoutMs: number): Promise<void> {
  const [file, ...fixed] = command;
  return new Promise((resolve, reject) => {
    // The child's own warnings (a probe that failed) go to the daemon's stderr, so into its journal.
    const child = spawn(file, [...fixed, ...args], { stdio: ['ignore', 'ignore', 'inherit'], timeout: timeoutMs });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`\`stems-agent ${args.join(' ')}\` ended with ${signal ?? `exit code ${code}`}`));
    });
  });
}

/**
 * Gathers facts in a child `stems-agent facts --refresh`, which writes the
 * cache, and reads that cache back (schema-checked). systeminformation, a
 * third of the agent's code, then never loads into the daemon, which keeps
 * about 1.5 MB less resident for as long as it runs (bench/RESULTS.md, "Agent
 * footprint"). Should the child fail, the facts are gathered in this process.
 */
export async function refreshFactsInChild(opts: ChildFactsOptions): Promise<CachedFacts> {
  const args = ['facts', '--refresh', '--json', '--config', opts.configPath, '--state', opts.stateDir];
  try {
    await runChild(opts.self, args, opts.timeoutMs ?? CHILD_TIMEOUT_MS);
    const cached = await readCachedFacts(opts.stateDir);
    if (cached === undefined) throw new Error('the child wrote no facts cache');
    return cached;
  } catch (err) {
    opts.log.warn({ err }, 'facts child process failed; gathering facts in the daemon');
    return refreshFacts(opts);
  }
}
