/**
 * Whole-process measurements for benchmarks: wall time, peak RSS (largest
 * single process from /usr/bin/time, and the whole process tree by polling
 * /proc), CPU ticks of a running process.
 */
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { PHASES, type Phase } from './_scenario.js';
import { median, spread } from './_stats.js';

export interface Sample {
  ms: number;
  /** Peak RSS of the largest single process (GNU time's %M). */
  rssKiB: number;
  /** Peak of the summed RSS of the whole process tree, polled every TREE_POLL_MS (misses peaks shorter than that). */
  treeKiB: number;
}

const TREE_POLL_MS = 50;
const PAGE_KIB = 4;

/** Summed RSS of the processes below `parentPid` (not itself: that is the /usr/bin/time wrapper), from /proc/<pid>/stat. */
export async function treeRssKiB(parentPid: number): Promise<number> {
  const procs = new Map<number, { ppid: number; rssPages: number }>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const text = await readFile(`/proc/${entry}/stat`, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ESRCH') return undefined; // exited while we looked
      throw err;
    });
    if (text === undefined) continue;
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    procs.set(Number(entry), { ppid: Number(fields[1]), rssPages: Number(fields[21]) });
  }
  let total = 0;
  const todo = [parentPid];
  while (todo.length > 0) {
    const pid = todo.pop() as number;
    if (pid !== parentPid) total += procs.get(pid)?.rssPages ?? 0;
    for (const [child, p] of procs) if (p.ppid === pid) todo.push(child);
  }
  return total * PAGE_KIB;
}

/**
 * The environment a measured process starts with, before its own variables:
 * what a systemd service or a login shell has, not the benchmark's. A variable
 * of the caller can change a tool's start-up (this sandbox sets
 * NODE_EXTRA_CA_CERTS for every process, and Node then parses ~140 CA
 * certificates before it runs a line: ~45 ms), and no node's unit has it.
 */
const SERVICE_ENV_KEYS = new Set(['PATH', 'HOME', 'LANG', 'LC_ALL', 'TMPDIR']);

/**
 * `own` on top of the service variables of the caller. Every other variable of
 * the caller is there as `undefined`, which spawn() leaves out: the result is
 * the same whether it is a whole environment or laid over process.env (as
 * test/helpers/processes.ts's startDaemon does).
 */
export function serviceEnv(own: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) env[key] = SERVICE_ENV_KEYS.has(key) ? value : undefined;
  return { ...env, ...own };
}

/** Runs a whole process under /usr/bin/time for wall time and peak RSS, in serviceEnv(); rejects if it fails. */
export function timed(cmd: string, argv: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('/usr/bin/time', ['-f', '%M', cmd, ...argv], {
      env: serviceEnv(opts.env),
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let treeKiB = 0;
    let pollError: unknown;
    const poll = setInterval(() => {
      if (child.pid === undefined) return;
      treeRssKiB(child.pid).then(
        (kib) => {
          treeKiB = Math.max(treeKiB, kib);
        },
        (error: unknown) => {
          pollError = error;
        },
      );
    }, TREE_POLL_MS);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - started;
      clearInterval(poll);
      if (pollError !== undefined) {
        reject(pollError);
        return;
      }
      if (code !== 0) {
        reject(new Error(`${cmd} ${argv.join(' ')} exited ${code}:\n${out.slice(-2000)}\n${err.slice(-2000)}`));
        return;
      }
      const rssKiB = Number(err.trim().split('\n').pop());
      resolve({ ms, rssKiB, treeKiB: Math.max(treeKiB, rssKiB) });
    });
  });
}

export type PhaseSamples = Record<Phase, Sample[]>;

/** One measured tool: how to run it, how to prepare each phase, and what to check after it. */
export interface Subject {
  run: () => Promise<Sample>;
  /** Prepares a phase: an empty directory before the first apply, damage before the repair. */
  reset: (phase: Phase) => Promise<void>;
  /** Checks the result of a phase; throws to stop the benchmark. */
  after?: (phase: Phase) => Promise<void>;
  /** Rounds for a slow tool, fewer than the others: it is measured in the first `runs` rounds only. */
  runs?: number;
}

/**
 * First apply, no-op and repair of every subject, round by round: round r of
 * each subject before round r + 1 of any. A machine that gets slower or faster
 * during the run (a shared VM does, by a third within minutes) then shifts all
 * subjects alike, and the ratios between them hold.
 */
export async function measureRounds(subjects: readonly Subject[], runs: number): Promise<PhaseSamples[]> {
  const out = subjects.map((): PhaseSamples => ({ first: [], noop: [], repair: [] }));
  for (let r = 0; r < runs; r++) {
    for (const [i, subject] of subjects.entries()) {
      if (r >= (subject.runs ?? runs)) continue;
      for (const phase of PHASES) {
        await subject.reset(phase);
        out[i]?.[phase].push(await subject.run());
        await subject.after?.(phase);
      }
    }
  }
  return out;
}

export const medianMs = (samples: Sample[]) => median(samples.map((s) => s.ms));
export const fmtMs = (samples: Sample[]) => `${Math.round(medianMs(samples))} ms ${spread(samples.map((s) => s.ms))}`;
export const fmtSec = (samples: Sample[]) => {
  const ms = samples.map((s) => s.ms);
  return `${(median(ms) / 1000).toFixed(2)} s [${(Math.min(...ms) / 1000).toFixed(2)}–${(Math.max(...ms) / 1000).toFixed(2)}]`;
};
/** Peak over the samples: "largest process / whole tree" in MB. */
export const fmtRss = (samples: Sample[]) => {
  const one = Math.max(...samples.map((s) => s.rssKiB)) / 1024;
  const tree = Math.max(...samples.map((s) => s.treeKiB)) / 1024;
  return Math.round(tree) > Math.round(one) ? `${one.toFixed(0)} MB (tree ${tree.toFixed(0)})` : `${one.toFixed(0)} MB`;
};

/** CPU time (user + system) of a process so far, in clock ticks (100 per second on Linux). */
export async function cpuTicks(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** A process's memory from /proc/<pid>/status, in KiB: resident (anonymous and file-backed parts) and its peak (VmHWM). */
export interface ProcessMemory {
  rss: number;
  anon: number;
  file: number;
  peak: number;
}

export async function memoryKiBOf(pid: number): Promise<ProcessMemory> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1]);
  return { rss: kib('VmRSS'), anon: kib('RssAnon'), file: kib('RssFile'), peak: kib('VmHWM') };
}
