import { cp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { commitFiles, git } from '../../test/helpers/git-http.js';

/**
 * The demo's desired-state repository: examples/colab, adapted to three agents
 * that share this machine under their own `--root`, committed with the git CLI.
 */

/** Why the demo's copy of examples/colab differs from it; printed by the demo. */
export const REPO_NOTES = [
  'node-metrics role left out: this machine has no systemd (and agents under --root never run systemctl); see test/e2e/cluster-nspawn.test.ts for real units',
  "exec handlers (sysctl, systemctl) skip themselves: the agents give commands STEMS_ROOT=<their --root>, and the handlers' `onlyif` guards run only where it is /",
];

const METRICS_GROUP = /^(\s*all:\s*\{\s*roles:\s*\[base), node-metrics\]/m;
const ROOT_GUARD = /^(\s*)(onlyif: \[sh, -c, 'test "\$\{STEMS_ROOT:-\/\}" = \/.*)$/gm;
const EXEC = /^\s*- exec:/gm;

/** Text replace that must match: a silent no-op would demo something else than it says. */
function mustReplace(text: string, pattern: RegExp, replacement: string, what: string): string {
  const out = text.replace(pattern, replacement);
  if (out === text) throw new Error(`examples/colab changed: cannot ${what}; update scripts/demo/repo.ts`);
  return out;
}

async function assertExecsGuarded(roleFile: string): Promise<void> {
  const text = await readFile(roleFile, 'utf8');
  const execs = text.match(EXEC)?.length ?? 0;
  if (execs === 0) return;
  const guarded = text.match(ROOT_GUARD)?.length ?? 0;
  // An exec the demo cannot guard would run on this machine, not under a root.
  if (guarded !== execs)
    throw new Error(`${roleFile}: ${execs - guarded} exec resource(s) without a STEMS_ROOT guard; the demo will not run them`);
}

/** Copies examples/colab into dir, adapts it (REPO_NOTES) and commits it; returns the commit. */
export async function makeDemoRepo(source: string, dir: string): Promise<string> {
  await cp(source, dir, { recursive: true });
  const clusterFile = join(dir, 'cluster.yaml');
  const cluster = await readFile(clusterFile, 'utf8');
  await writeFile(clusterFile, mustReplace(cluster, METRICS_GROUP, '$1]', 'leave out the node-metrics role'));
  for (const role of await readdir(join(dir, 'roles'))) await assertExecsGuarded(join(dir, 'roles', role, 'role.yaml'));
  await git(dir, 'init', '--quiet', '-b', 'main');
  await git(dir, 'config', 'user.name', 'Stems Demo');
  await git(dir, 'config', 'user.email', 'demo@stems.invalid');
  await git(dir, 'config', 'commit.gpgsign', 'false');
  return commitFiles(dir, {}, 'colab: base, gateway, docker and gpu roles');
}

/** A one-line change to cluster.yaml: every node's /etc/motd names the new contact. */
export async function commitContactChange(dir: string, contact: string): Promise<string> {
  const text = await readFile(join(dir, 'cluster.yaml'), 'utf8');
  const changed = mustReplace(text, /^(\s*admin_contact:).*$/m, `$1 ${contact}`, 'change vars.admin_contact');
  return commitFiles(dir, { 'cluster.yaml': changed }, `colab: questions go to ${contact}`);
}

/** A revision that fails validation (a template uses an undefined variable). */
export async function commitBrokenTemplate(dir: string): Promise<string> {
  const motd = await readFile(join(dir, 'roles/base/files/motd.hbs'), 'utf8');
  return commitFiles(dir, { 'roles/base/files/motd.hbs': `${motd}  {{vars.no_such_var}}\n` }, 'base: a typo in the motd template');
}
