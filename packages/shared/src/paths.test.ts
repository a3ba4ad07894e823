import { describe, expect, it } from 'vitest';
import { isStemsError } from './errors.js';
import { ManagedPath } from './fields.js';
import { assertManagedPath, assertRepoRelativePath, managedPathProblem, RESERVED_PATH_PREFIXES } from './paths.js';

type PathCode = 'STEMS_PATH_INVALID' | 'STEMS_PATH_TRAVERSAL' | 'STEMS_PATH_FORBIDDEN';

const BAD: [path: string, code: PathCode][] = [
  // traversal
  ['/..', 'STEMS_PATH_TRAVERSAL'],
  ['/../etc/passwd', 'STEMS_PATH_TRAVERSAL'],
  ['/etc/..', 'STEMS_PATH_TRAVERSAL'],
  ['/etc/../etc/shadow', 'STEMS_PATH_TRAVERSAL'],
  ['/etc/app/../../root/.ssh/authorized_keys', 'STEMS_PATH_TRAVERSAL'],
  ['/srv/a/b/c/../../../../x', 'STEMS_PATH_TRAVERSAL'],
  // encoded dots and separators
  ['/etc/%2e%2e/shadow', 'STEMS_PATH_INVALID'],
  ['/etc/%2E%2E/shadow', 'STEMS_PATH_INVALID'],
  ['/etc/%2e./shadow', 'STEMS_PATH_INVALID'],
  ['/etc/.%2e/shadow', 'STEMS_PATH_INVALID'],
  ['/etc%2fshadow', 'STEMS_PATH_INVALID'],
  ['/etc%2Fshadow', 'STEMS_PATH_INVALID'],
  ['/etc/%5cshadow', 'STEMS_PATH_INVALID'],
  ['/etc/x%00.conf', 'STEMS_PATH_INVALID'],
  // backslashes
  ['\\etc\\passwd', 'STEMS_PATH_INVALID'],
  ['/etc\\passwd', 'STEMS_PATH_INVALID'],
  ['/etc/..\\shadow', 'STEMS_PATH_INVALID'],
  ['C:\\Windows', 'STEMS_PATH_INVALID'],
  // control characters
  ['/etc/x\u0000', 'STEMS_PATH_INVALID'],
  ['/etc/\u0000/x', 'STEMS_PATH_INVALID'],
  ['/etc/x\n', 'STEMS_PATH_INVALID'],
  ['/etc/x\ny', 'STEMS_PATH_INVALID'],
  ['/etc/x\r', 'STEMS_PATH_INVALID'],
  ['/etc/\tx', 'STEMS_PATH_INVALID'],
  ['/etc/x\u001b[31m', 'STEMS_PATH_INVALID'],
  ['/etc/x\u007f', 'STEMS_PATH_INVALID'],
  // not normalized
  ['//etc/passwd', 'STEMS_PATH_INVALID'],
  ['/etc//passwd', 'STEMS_PATH_INVALID'],
  ['/etc/app/', 'STEMS_PATH_INVALID'],
  ['/etc/', 'STEMS_PATH_INVALID'],
  ['//', 'STEMS_PATH_INVALID'],
  ['/./etc', 'STEMS_PATH_INVALID'],
  ['/etc/./passwd', 'STEMS_PATH_INVALID'],
  ['/etc/.', 'STEMS_PATH_INVALID'],
  ['/etc/app//', 'STEMS_PATH_INVALID'],
  // relative or empty
  ['', 'STEMS_PATH_INVALID'],
  ['etc/passwd', 'STEMS_PATH_INVALID'],
  ['./etc/passwd', 'STEMS_PATH_INVALID'],
  ['../etc/passwd', 'STEMS_PATH_INVALID'],
  ['..', 'STEMS_PATH_INVALID'],
  ['.', 'STEMS_PATH_INVALID'],
  ['~/x', 'STEMS_PATH_INVALID'],
  ['~root/.ssh', 'STEMS_PATH_INVALID'],
  [' /etc/x', 'STEMS_PATH_INVALID'],
  ['x', 'STEMS_PATH_INVALID'],
  // the root itself
  ['/', 'STEMS_PATH_INVALID'],
  // too long
  [`/${'a'.repeat(256)}`, 'STEMS_PATH_INVALID'],
  [`/${'abcdefgh/'.repeat(460)}x`, 'STEMS_PATH_INVALID'],
  // stems' own places and kernel interfaces
  ['/etc/stems', 'STEMS_PATH_FORBIDDEN'],
  ['/etc/stems/agent.yaml', 'STEMS_PATH_FORBIDDEN'],
  ['/etc/stems/keys/node.key', 'STEMS_PATH_FORBIDDEN'],
  ['/var/lib/stems-agent', 'STEMS_PATH_FORBIDDEN'],
  ['/var/lib/stems-agent/node.key', 'STEMS_PATH_FORBIDDEN'],
  ['/var/lib/stems-agent/serial', 'STEMS_PATH_FORBIDDEN'],
  ['/var/lib/stems-hub', 'STEMS_PATH_FORBIDDEN'],
  ['/var/lib/stems-hub/hub.db', 'STEMS_PATH_FORBIDDEN'],
  ['/proc', 'STEMS_PATH_FORBIDDEN'],
  ['/proc/sys/kernel/core_pattern', 'STEMS_PATH_FORBIDDEN'],
  ['/proc/self/mem', 'STEMS_PATH_FORBIDDEN'],
  ['/sys', 'STEMS_PATH_FORBIDDEN'],
  ['/sys/kernel/mm/transparent_hugepage/enabled', 'STEMS_PATH_FORBIDDEN'],
  ['/dev', 'STEMS_PATH_FORBIDDEN'],
  ['/dev/sda', 'STEMS_PATH_FORBIDDEN'],
  ['/dev/null', 'STEMS_PATH_FORBIDDEN'],
];

const GOOD = [
  '/etc/motd',
  '/etc/sysctl.d/90-stems.conf',
  '/etc/app',
  '/etc/app/current',
  '/srv/docker',
  '/opt/app/bin/run.sh',
  '/etc/..hidden',
  '/etc/...',
  '/etc/.bashrc',
  '/etc/a..b',
  '/etc/stems-other/x',
  '/etc/stemsx',
  '/var/lib/stems-agentx/y',
  '/var/lib/stems-hub2',
  '/procfs/x',
  '/system/x',
  '/devices',
  '/home/user name/with space',
  '/etc/100%/x',
  '/etc/ünïcode/файл',
  '/usr/local/lib/python3.11/site-packages/x.pth',
  `/${'a'.repeat(255)}`,
];

describe('assertManagedPath', () => {
  it('has a table of at least 60 bad paths', () => {
    expect(BAD.length).toBeGreaterThanOrEqual(60);
  });

  it.each(BAD)('rejects %j with %s', (path, code) => {
    let caught: unknown;
    try {
      assertManagedPath(path);
    } catch (err) {
      caught = err;
    }
    expect(isStemsError(caught), `${JSON.stringify(path)} was accepted`).toBe(true);
    expect(isStemsError(caught) && caught.code).toBe(code);
    expect(isStemsError(caught) && caught.hint).toBeTruthy();
    expect(managedPathProblem(path)?.code).toBe(code);
    expect(ManagedPath.safeParse(path).success).toBe(false);
  });

  it.each(GOOD)('accepts %j unchanged', (path) => {
    expect(assertManagedPath(path)).toBe(path);
    expect(managedPathProblem(path)).toBeUndefined();
    expect(ManagedPath.parse(path)).toBe(path);
  });

  it('covers every reserved prefix', () => {
    for (const prefix of RESERVED_PATH_PREFIXES) expect(BAD.some(([p, c]) => p === prefix && c === 'STEMS_PATH_FORBIDDEN')).toBe(true);
  });

  it('keeps the STEMS code on schema issues so repo errors can report it', () => {
    const result = ManagedPath.safeParse('/etc/../x');
    expect(result.success).toBe(false);
    const issue = result.error?.issues[0];
    expect(issue?.code === 'custom' && issue.params?.stemsCode).toBe('STEMS_PATH_TRAVERSAL');
  });
});

describe('assertRepoRelativePath', () => {
  it.each([['motd.hbs'], ['nginx/site.conf.hbs'], ['.hidden']])('accepts %j', (path) => {
    expect(assertRepoRelativePath(path)).toBe(path);
  });

  it.each([
    ['/etc/motd', 'STEMS_PATH_INVALID'],
    ['../other/files/x', 'STEMS_PATH_TRAVERSAL'],
    ['a/../../x', 'STEMS_PATH_TRAVERSAL'],
    ['a//b', 'STEMS_PATH_INVALID'],
    ['a/', 'STEMS_PATH_INVALID'],
    ['./a', 'STEMS_PATH_INVALID'],
    ['a\\b', 'STEMS_PATH_INVALID'],
    ['%2e%2e/x', 'STEMS_PATH_INVALID'],
    ['a\u0000', 'STEMS_PATH_INVALID'],
    ['', 'STEMS_PATH_INVALID'],
  ])('rejects %j with %s', (path, code) => {
    expect(() => assertRepoRelativePath(path)).toThrow(expect.objectContaining({ code }));
  });
});
