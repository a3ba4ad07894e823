/**
 * Hostile paths, each of which must be refused wherever a path enters stems.
 * Built from families (traversal, encodings, separators, control characters,
 * lookalikes, length, stems' own secrets, kernel interfaces) crossed with
 * targets, as in the SaltStack (CVE-2020-11652) and Argo CD (CVE-2022-24348)
 * traversals.
 */
const TARGETS = [
  '/etc/shadow',
  '/root/.ssh/authorized_keys',
  '/etc/sudoers.d/stems',
  '/usr/local/bin/backdoor',
  '/etc/cron.d/stems',
  '/etc/systemd/system/evil.service',
];

/** Turns a valid absolute path into an invalid one. */
const TRANSFORMS: [string, (p: string) => string][] = [
  ['dot-dot prefix', (p) => `/etc/app/../..${p}`],
  ['dot-dot segment', (p) => p.replace(/\/([^/]+)$/, '/../$1')],
  ['dot-dot suffix', (p) => `${p}/..`],
  ['relative dot-dot', (p) => `..${p}`],
  ['relative', (p) => p.slice(1)],
  ['dot segment', (p) => p.replace(/\/([^/]+)$/, '/./$1')],
  ['leading dot', (p) => `/.${p}`],
  ['double slash', (p) => p.replace(/\/([^/]+)$/, '//$1')],
  ['leading double slash', (p) => `/${p}`],
  ['trailing slash', (p) => `${p}/`],
  ['encoded dot-dot', (p) => `/etc/%2e%2e${p}`],
  ['encoded dot-dot upper', (p) => `/etc/%2E%2E${p}`],
  ['encoded slash', (p) => p.replaceAll('/', '%2f')],
  ['encoded slash in segment', (p) => `/etc/..%2f..${p}`],
  ['encoded backslash', (p) => `/etc/..%5c..${p}`],
  ['encoded NUL', (p) => `${p}%00.conf`],
  ['backslashes', (p) => p.replaceAll('/', '\\')],
  ['backslash dot-dot', (p) => `/etc\\..\\..${p}`],
  ['NUL', (p) => `${p}\u0000.conf`],
  ['newline', (p) => `${p}\n/etc/other`],
  ['carriage return', (p) => `${p}\r`],
  ['tab', (p) => `${p}\t`],
  ['escape', (p) => `${p}\u001b[2J`],
  ['DEL', (p) => `${p}\u007f`],
  ['division slash lookalike', (p) => p.replaceAll('/', '\u2215')],
  ['fullwidth solidus lookalike', (p) => `/etc${p.replaceAll('/', '\uff0f')}`],
  ['one-dot-leader dot-dot', (p) => `/etc/\u2024\u2024${p}`],
  ['fullwidth dot-dot', (p) => `/etc/\uff0e\uff0e${p}`],
  ['fullwidth letters', (p) => p.replace(/[a-z]/, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0))],
  ['no-break space', (p) => `${p}\u00a0`],
  ['long segment', (p) => `${p}/${'a'.repeat(256)}`],
  ['very long', (p) => `${p}${'/abcdefgh'.repeat(520)}`],
];

/** Places stems itself lives or the kernel exposes: refused even when well formed. */
const RESERVED = [
  '/etc/stems',
  '/etc/stems/agent.yaml',
  '/etc/stems/hub.yaml',
  '/etc/stems/keys/node.key',
  '/var/lib/stems-agent',
  '/var/lib/stems-agent/node.key',
  '/var/lib/stems-agent/state.json',
  '/var/lib/stems-agent/bundle.json',
  '/var/lib/stems-hub/hub.key',
  '/var/lib/stems-hub/hub.db',
  '/proc/self/mem',
  '/proc/sysrq-trigger',
  '/proc/sys/kernel/core_pattern',
  '/sys/kernel/mm/transparent_hugepage/enabled',
  '/sys/class/net/eth0/mtu',
  '/dev/sda',
  '/dev/mem',
];

const SINGLES = ['', '/', '.', '..', '/..', '/.', '//', '~', '~/.ssh/authorized_keys', '~root/.bashrc', 'etc', ' /etc/shadow'];

/** Every vector, unique, with the family it comes from. */
export function pathVectors(): { family: string; path: string }[] {
  const out = new Map<string, string>();
  for (const [family, transform] of TRANSFORMS) for (const target of TARGETS) out.set(transform(target), family);
  for (const path of RESERVED) out.set(path, 'stems and kernel places');
  for (const path of RESERVED.slice(0, 8)) out.set(`${path}/../stems/x`, 'stems and kernel places');
  for (const path of SINGLES) out.set(path, 'degenerate');
  return [...out].map(([path, family]) => ({ family, path }));
}

/** Repo-relative vectors (template:/source:), which must stay inside the role's files/ folder. */
export function repoRelativeVectors(): string[] {
  return [
    '../role.yaml',
    '../../../cluster.yaml',
    '../../other/files/secret.hbs',
    '/etc/shadow',
    '/etc/stems/agent.yaml',
    'a/../../x.hbs',
    './motd.hbs',
    'a//b.hbs',
    'motd.hbs/',
    '%2e%2e/role.yaml',
    '..%2frole.yaml',
    '..\\role.yaml',
    'motd.hbs\u0000.txt',
    'motd\n.hbs',
    '\u2024\u2024/role.yaml',
    '\uff0e\uff0e/role.yaml',
    `${'a'.repeat(256)}.hbs`,
  ];
}

/** A YAML double-quoted scalar for any string (JSON's escapes, plus the C1 range YAML will not take raw). */
export function yamlQuote(text: string): string {
  return JSON.stringify(text).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
