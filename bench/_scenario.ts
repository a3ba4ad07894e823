/**
 * The one scenario every apply benchmark runs, whatever the tool: N files in
 * one directory rendered from one template with per-file vars (name, value)
 * and two host facts (hostname, primary IP), mode 0644; phases first apply
 * (empty directory), no-op, repair (10 edited + 1 deleted file).
 */
import { readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';

export type Phase = 'first' | 'noop' | 'repair';
export const PHASES: readonly Phase[] = ['first', 'noop', 'repair'];

/** The template in stems's (Handlebars) syntax; the other tools get the same text in theirs. */
export const TEMPLATE =
  '# managed by stems\nhost = {{facts.hostname}}\nip = {{facts.primaryIp}}\nname = {{vars.name}}\nvalue = {{vars.value}}\n';

export const fileName = (i: number) => `file-${i}.conf`;
export const varsOf = (i: number) => ({ name: `item-${i}`, value: i * 7 });

/** What file i must hold on a host with this name and address. */
export function rendered(i: number, host: string, ip: string): string {
  const v = varsOf(i);
  return `# managed by stems\nhost = ${host}\nip = ${ip}\nname = ${v.name}\nvalue = ${v.value}\n`;
}

/** The files the repair phase edits by hand (10, spread over the set) and the one it deletes. */
export function damaged(n: number): { edited: number[]; deleted: number } {
  return { edited: Array.from({ length: 10 }, (_, i) => Math.floor((i * n) / 10) + 1), deleted: Math.floor(n / 2) };
}

export async function damage(dir: string, n: number): Promise<void> {
  const { edited, deleted } = damaged(n);
  for (const i of edited) await writeFile(join(dir, fileName(i)), 'edited by hand\n');
  await unlink(join(dir, fileName(deleted)));
}

/** Prepares each phase of N files in `dir`: `clear` (dir or a directory above it) removed before the first apply, damage before the repair. */
export function phaseReset(clear: string, dir: string, n: number): (phase: Phase) => Promise<void> {
  return async (phase) => {
    if (phase === 'first') await rm(clear, { recursive: true, force: true });
    if (phase === 'repair') await damage(dir, n);
  };
}

/** This machine's IPv4 addresses (not loopback): a tool's "primary IP" fact must be one of them. */
export function hostAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) out.add(a.address);
  return out;
}

/**
 * Checks that a tool really produced the scenario: exactly N files, mode 0644,
 * and the right text in the first, last, damaged and a few other files.
 * The host line may be the short name or an FQDN that starts with it (CFEngine's sys.fqhost).
 * @returns a list of problems, empty when the directory is right
 */
export async function verify(dir: string, n: number): Promise<string[]> {
  const problems: string[] = [];
  const names = (await readdir(dir)).sort();
  if (names.length !== n) problems.push(`${names.length} entries in ${dir}, expected ${n} (e.g. ${names.slice(0, 3).join(', ')})`);
  const { edited, deleted } = damaged(n);
  const sample = new Set([0, n - 1, deleted, ...edited, Math.floor(n / 3), Math.floor((2 * n) / 3)]);
  const addresses = hostAddresses();
  const host = hostname();
  for (const i of sample) {
    const path = join(dir, fileName(i));
    const text = await readFile(path, 'utf8').catch(() => undefined);
    if (text === undefined) {
      problems.push(`${path} is missing`);
      continue;
    }
    const seenHost = /^host = (.*)$/m.exec(text)?.[1] ?? '';
    const seenIp = /^ip = (.*)$/m.exec(text)?.[1] ?? '';
    const hostOk = seenHost === host || seenHost.startsWith(`${host}.`);
    if (!hostOk || !addresses.has(seenIp) || text !== rendered(i, seenHost, seenIp))
      problems.push(`${path} holds ${JSON.stringify(text)}, expected ${JSON.stringify(rendered(i, host, [...addresses][0] ?? '?'))}`);
    const mode = (await stat(path)).mode & 0o777;
    if (mode !== 0o644) problems.push(`${path} has mode ${mode.toString(8)}, expected 644`);
  }
  return problems;
}
