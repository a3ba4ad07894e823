import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe } from 'vitest';

/**
 * What a test needs from the machine. On a contributor's laptop a test whose
 * needs are missing is skipped with the reason in its title; in CI (CI=true)
 * it is never skipped: it runs and fails, and .ci/check-results.mjs refuses
 * any skipped test.
 */
export type Capability = 'root' | 'netns' | 'nspawn' | 'debootstrap';

function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const checks: Record<Capability, () => string | undefined> = {
  root: () => (process.getuid?.() === 0 ? undefined : 'needs root'),
  netns: () => (process.getuid?.() === 0 && has('ip') ? undefined : 'needs root and iproute2 (ip netns)'),
  nspawn: () => (has('systemd-nspawn') ? undefined : 'needs systemd-nspawn (apt-get install systemd-container)'),
  debootstrap: () => (has('debootstrap') || existsSync('/usr/sbin/debootstrap') ? undefined : 'needs debootstrap'),
};

export function missing(needs: Capability[]): string[] {
  return needs.map((n) => checks[n]()).filter((m): m is string => m !== undefined);
}

/** `describe` that skips off-CI when the machine lacks what the tests need, saying why. */
export function describeNeeding(needs: Capability[], title: string, body: () => void): void {
  const gaps = missing(needs);
  const skip = gaps.length > 0 && !process.env.CI;
  describe.skipIf(skip)(skip ? `${title} [skipped: ${gaps.join('; ')}]` : title, body);
}
