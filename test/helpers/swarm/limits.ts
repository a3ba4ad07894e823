import { readFileSync } from 'node:fs';

/** Descriptors kept free for the process's own files, pipes and the test runner. */
export const FD_HEADROOM = 200;

/** The soft limit on open files of this process (`ulimit -n`), from /proc/self/limits. */
export function openFileLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const soft = line?.split(/\s{2,}/)[1];
  if (soft === undefined) throw new Error('no "Max open files" line in /proc/self/limits');
  return soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft);
}

/**
 * Fails with a clear message when a process that will hold `sockets` sockets
 * (the swarm here; the hub it spawns inherits the same limit and holds as
 * many) cannot: on a CI machine with the usual 1024 the storm test needs more.
 */
export function assertFdLimit(sockets: number, who = 'the swarm'): void {
  const limit = openFileLimit();
  const need = sockets + FD_HEADROOM;
  if (limit < need) {
    throw new Error(
      `${who} needs ${need} open files (${sockets} sockets + ${FD_HEADROOM}) but \`ulimit -n\` is ${limit}: ` +
        `raise it before running (e.g. \`ulimit -n ${Math.max(need, 8192)}\` in .ci/run, or LimitNOFILE in the unit)`,
    );
  }
}
