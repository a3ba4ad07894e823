import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type TestTree, writeTree } from '../_test-tree.js';
import type { ErrorCode } from '../errors.js';
import { loadRepo, resourceOrigin, rolesOfNode } from './load.js';
import { formatProblem } from './yaml.js';

const trees: TestTree[] = [];
afterAll(async () => {
  await Promise.all(trees.map((t) => t.cleanup()));
});

async function load(files: Record<string, string>) {
  const tree = await writeTree(files);
  trees.push(tree);
  return loadRepo(tree.reader);
}

// The DESIGN §2 example, plus the `gpu` group it names (the design text forgets to declare it).
const CLUSTER = `apiVersion: stems/v1
cluster: colab
vars:                      # cluster-wide variables
  domain: colab.lan
nodes:
  cooperator: { groups: [gateway], vars: { ip: 192.168.254.10 } }
  projector:  { groups: [compute, gpu], vars: { ip: 192.168.254.20 } }
  director:   { groups: [compute], vars: { ip: 192.168.254.30 }, policy: { drift: report } }
groups:                    # 'all' is implicit and holds every node
  all:     { roles: [base] }
  compute: { roles: [docker], vars: { docker_data: /srv/docker } }
  gpu:     { vars: { cuda: true } }
  gateway:
policy:
  drift: enforce           # enforce | report
`;

const BASE_ROLE = `description: what every node gets
vars: { swappiness: 10 }           # role defaults
resources:
  - file: /etc/motd
    template: motd.hbs             # roles/base/files/motd.hbs
    mode: "0644"
    owner: root
    group: root
  - file: /etc/sysctl.d/90-stems.conf
    content: "vm.swappiness = {{vars.swappiness}}\\n"
    notify: [sysctl-reload]
  - file: /etc/app/logo.png
    source: logo.png
    sensitive: true
    vars: { size: 3 }
    policy: { drift: report }
  - directory: /etc/app
    mode: "0755"
  - symlink: /etc/app/current
    target: /etc/app/v1
  - absent: /etc/old.conf
  - unit: node-exporter.service
    template: node-exporter.service.hbs
    enabled: true
    state: started
  - exec: [sysctl, --system]
    id: sysctl-reload
    refreshonly: true
    timeout: 30s
    creates: /etc/app/done
    unless: [test, -e, /etc/app/skip]
    onlyif: ["true"]
    cwd: /etc/app
    env: { LANG: C }
  - package: htop
    state: present
    when: (eq facts.os.arch "x64")
`;

const DOCKER_ROLE = `vars: { docker_data: /var/lib/docker }
when: facts.virtual
resources:
  - package: docker.io
  - file: /etc/docker/daemon.json
    content: '{ "data-root": "{{vars.docker_data}}" }'
    notify: [unit:docker.service]
  - unit: docker.service
    state: started
`;

const GOOD: Record<string, string> = {
  'cluster.yaml': CLUSTER,
  'roles/base/role.yaml': BASE_ROLE,
  'roles/base/files/motd.hbs': 'Welcome to {{node.name}}.{{vars.domain}}\n',
  'roles/base/files/logo.png': 'PNG',
  'roles/base/files/node-exporter.service.hbs': '[Service]\nExecStart=/usr/bin/node-exporter\n',
  'roles/docker/role.yaml': DOCKER_ROLE,
};

describe('loadRepo accepts', () => {
  it('the full design example with every resource type', async () => {
    const { repo, problems } = await load(GOOD);
    expect(problems).toEqual([]);
    expect(repo?.cluster.cluster).toBe('colab');
    expect([...(repo?.roles.keys() ?? [])]).toEqual(['base', 'docker']);
    const base = repo?.roles.get('base');
    expect(base?.spec.resources).toHaveLength(9);
    expect([...(base?.assets.keys() ?? [])].sort()).toEqual(['logo.png', 'motd.hbs', 'node-exporter.service.hbs']);
    expect(Buffer.from(base?.assets.get('motd.hbs') ?? []).toString()).toContain('{{node.name}}');
    if (!repo || !base) throw new Error('unreachable');
    expect(rolesOfNode(repo.cluster, 'projector')).toEqual(['base', 'docker']);
    expect(rolesOfNode(repo.cluster, 'cooperator')).toEqual(['base']);
    expect(resourceOrigin(base, 7)).toEqual({ type: 'exec', origin: 'roles/base/role.yaml:26:5' });
  });

  it('keeps object-prototype names out of role resolution', async () => {
    const { repo, problems } = await load({ ...GOOD, 'cluster.yaml': CLUSTER.replace('director:', 'constructor:') });
    expect(problems).toEqual([]);
    if (!repo) throw new Error('unreachable');
    expect(rolesOfNode(repo.cluster, 'constructor')).toEqual(['base', 'docker']);
    expect(rolesOfNode(repo.cluster, 'toString')).toEqual(['base']);
  });
});

interface BadCase {
  name: string;
  files: Record<string, string>;
  code: ErrorCode;
  /** `file:line:col: message` as the user sees it; matched as a prefix. */
  expected: string;
}

const role = (body: string) => ({ ...GOOD, 'roles/base/role.yaml': `resources:\n${body}` });
const cluster = (text: string) => ({ ...GOOD, 'cluster.yaml': text });

function billionLaughs(): string {
  const lines = ['apiVersion: stems/v1', 'cluster: c', 'nodes: { a: {} }', 'a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
  for (let i = 1; i < 10; i++)
    lines.push(
      `a${i}: &a${i} [${Array(9)
        .fill(`*a${i - 1}`)
        .join(', ')}]`,
    );
  return `${lines.join('\n')}\n`;
}

const BAD: BadCase[] = [
  {
    name: 'unknown group',
    files: cluster(CLUSTER.replace('[compute, gpu]', '[compute, gpus]')),
    code: 'STEMS_REPO_SCHEMA',
    expected: 'cluster.yaml:7:35: nodes.projector.groups[1]: unknown group "gpus"',
  },
  {
    name: 'unknown group in block style',
    files: cluster(
      'apiVersion: stems/v1\ncluster: c\nnodes:\n  projector:\n    groups:\n      - compute\n      - gpus\ngroups:\n  compute: {}\n',
    ),
    code: 'STEMS_REPO_SCHEMA',
    expected: 'cluster.yaml:7:9: nodes.projector.groups[1]: unknown group "gpus"',
  },
  {
    name: 'duplicate node (YAML duplicate key)',
    files: cluster(CLUSTER.replace('  director: ', '  projector: ')),
    code: 'STEMS_REPO_YAML',
    expected: 'cluster.yaml:8:3: duplicate key "projector"',
  },
  {
    name: 'relative path',
    files: role('  - file: etc/motd\n    content: x\n'),
    code: 'STEMS_PATH_INVALID',
    expected: 'roles/base/role.yaml:2:11: resources[0].file: Invalid path "etc/motd": it must be absolute',
  },
  {
    name: '".." in a path',
    files: role('  - directory: /etc\n  - absent: /etc/app/../shadow\n'),
    code: 'STEMS_PATH_TRAVERSAL',
    expected: 'roles/base/role.yaml:3:13: resources[1].absent: Invalid path "/etc/app/../shadow": ".." is not allowed',
  },
  {
    name: '".." in a template path',
    files: role('  - file: /etc/x\n    template: ../../docker/role.yaml\n'),
    code: 'STEMS_PATH_TRAVERSAL',
    expected: 'roles/base/role.yaml:3:15: resources[0].template: Invalid path "../../docker/role.yaml"',
  },
  {
    name: 'unknown resource type',
    files: role('  - file: /etc/x\n    content: x\n  - service: nginx\n'),
    code: 'STEMS_REPO_SCHEMA',
    expected: 'roles/base/role.yaml:4:5: resources[1]: unknown resource type (keys: service)',
  },
  {
    name: 'two type keys',
    files: role('  - file: /etc/x\n    directory: /etc/y\n'),
    code: 'STEMS_REPO_SCHEMA',
    expected: 'roles/base/role.yaml:2:5: resources[0]: a resource has exactly one type key, found file and directory',
  },
  {
    name: 'missing role',
    files: cluster(CLUSTER.replace('roles: [docker]', 'roles: [docker, web]')),
    code: 'STEMS_REPO_MISSING_FILE',
    expected: 'cluster.yaml:11:30: groups.compute.roles[1]: role "web" not found (no roles/web/role.yaml)',
  },
  {
    name: 'mode as an unquoted number',
    files: role('  - file: /etc/x\n    content: x\n    mode: 0644\n'),
    code: 'STEMS_REPO_SCHEMA',
    expected: 'roles/base/role.yaml:4:11: resources[0].mode: mode must be an octal string such as "0644" (quote it in YAML',
  },
  {
    name: 'mode "999"',
    files: role('  - directory: /etc/x\n    mode: "999"\n'),
    code: 'STEMS_REPO_SCHEMA',
    expected: 'roles/base/role.yaml:3:11: resources[0].mode: mode must be an octal string',
  },
  {
    name: 'missing template file',
    files: role('  - file: /etc/x\n    template: nope.hbs\n'),
    code: 'STEMS_REPO_MISSING_FILE',
    expected: 'roles/base/role.yaml:3:15: resources[0].template: template file "roles/base/files/nope.hbs" does not exist',
  },
  {
    name: 'unknown key in a resource (typo)',
    files: role('  - file: /etc/x\n    content: x\n    onwer: root\n'),
    code: 'STEMS_REPO_SCHEMA',
    expected: 'roles/base/role.yaml:4:5: resources[0].onwer: unknown key "onwer"',
  },
  {
    name: 'unknown key in cluster.yaml (typo)',
    files: cluster(CLUSTER.replace('policy:\n  drift', 'polcy:\n  drift')),
    code: 'STEMS_REPO_SCHEMA',
    expected: 'cluster.yaml:14:1: polcy: unknown key "polcy"',
  },
  {
    name: 'file with both content and template',
    files: role('  - directory: /etc\n  - file: /etc/x\n    content: x\n    template: motd.hbs\n'),
    code: 'STEMS_REPO_SCHEMA',
    expected: 'roles/base/role.yaml:3:5: resources[1]: a file needs exactly one of content, template or source',
  },
  {
    name: 'bad unit name',
    files: role('  - unit: node exporter\n'),
    code: 'STEMS_REPO_SCHEMA',
    expected: 'roles/base/role.yaml:2:11: resources[0].unit: must be a systemd unit name',
  },
  {
    name: 'wrong apiVersion',
    files: cluster(CLUSTER.replace('stems/v1', 'stems/v2')),
    code: 'STEMS_REPO_SCHEMA',
    expected: 'cluster.yaml:1:13: apiVersion: Invalid input: expected "stems/v1"',
  },
  {
    name: 'broken YAML syntax',
    files: role('  - file: /etc/x\n    content: "unterminated\n'),
    code: 'STEMS_REPO_YAML',
    expected: 'roles/base/role.yaml:4:1: Missing closing "quote',
  },
  {
    name: 'YAML alias bomb',
    files: cluster(billionLaughs()),
    code: 'STEMS_REPO_YAML',
    expected: 'cluster.yaml:5:10: Excessive alias count',
  },
  {
    name: 'variable named __proto__',
    files: cluster(CLUSTER.replace('  domain: colab.lan', '  domain: colab.lan\n  __proto__: { polluted: true }')),
    code: 'STEMS_REPO_SCHEMA',
    expected: 'cluster.yaml:5:3: vars.__proto__: reserved name "__proto__"',
  },
  {
    name: 'variable named constructor',
    files: role('  - file: /etc/x\n    content: x\n    vars: { constructor: 1 }\n'),
    code: 'STEMS_REPO_SCHEMA',
    expected: 'roles/base/role.yaml:4:13: resources[0].vars.constructor: invalid name "constructor": reserved name',
  },
  {
    name: 'cluster variable named constructor',
    files: cluster(CLUSTER.replace('  domain: colab.lan', '  domain: colab.lan\n  constructor: x')),
    code: 'STEMS_REPO_SCHEMA',
    expected: 'cluster.yaml:5:3: vars.constructor: invalid name "constructor": reserved name',
  },
  {
    name: 'node named __proto__',
    files: cluster('apiVersion: stems/v1\ncluster: c\nnodes:\n  a: {}\n  __proto__: { groups: [x] }\n'),
    code: 'STEMS_REPO_SCHEMA',
    expected: 'cluster.yaml:5:3: nodes.__proto__: reserved name "__proto__"',
  },
  {
    name: 'more than 100 aliases',
    files: cluster(`apiVersion: stems/v1\ncluster: c\nnodes: { a: {} }\nvars:\n  x: &x 1\n  list: [${Array(101).fill('*x').join(', ')}]\n`),
    code: 'STEMS_REPO_YAML',
    expected: `cluster.yaml:6:${10 + 100 * 4}: too many aliases (more than 100`,
  },
  {
    name: 'path into the agent state',
    files: role('  - file: /var/lib/stems-agent/key.json\n    content: x\n'),
    code: 'STEMS_PATH_FORBIDDEN',
    expected: 'roles/base/role.yaml:2:11: resources[0].file: Path "/var/lib/stems-agent/key.json" is inside /var/lib/stems-agent',
  },
  {
    name: 'no cluster.yaml',
    files: { 'roles/base/role.yaml': BASE_ROLE },
    code: 'STEMS_REPO_MISSING_FILE',
    expected: 'cluster.yaml:1:1: the repository has no cluster.yaml',
  },
];

describe('loadRepo rejects with file:line:col and a code', () => {
  it.each(BAD)('$name', async ({ files, code, expected }) => {
    const { repo, problems } = await load(files);
    expect(repo).toBeUndefined();
    expect(problems.length).toBeGreaterThan(0);
    const first = problems[0]!;
    expect(first.code).toBe(code);
    expect(formatProblem(first)).toContain(expected);
    expect(formatProblem(first).startsWith(expected), formatProblem(first)).toBe(true);
  });

  it('stops a YAML bomb fast and without expanding it', async () => {
    const started = performance.now();
    const { problems } = await load(cluster(billionLaughs()));
    expect(problems[0]?.code).toBe('STEMS_REPO_YAML');
    expect(performance.now() - started).toBeLessThan(2000);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses a template that is a symlink (STEMS_REPO_UNSAFE_ENTRY at the resource)', async () => {
    const tree = await writeTree(role('  - file: /etc/x\n    template: link.hbs\n'));
    trees.push(tree);
    await symlink('/etc/passwd', join(tree.dir, 'roles/base/files/link.hbs'));
    const { problems } = await loadRepo(tree.reader);
    expect(problems.map(formatProblem)).toEqual([
      'roles/base/role.yaml:3:15: resources[0].template: roles/base/files/link.hbs is not a regular file',
    ]);
    expect(problems[0]?.code).toBe('STEMS_REPO_UNSAFE_ENTRY');
  });

  it('refuses a file over 1 MiB', async () => {
    const { problems } = await load(cluster(`${CLUSTER}# ${'x'.repeat(1024 * 1024)}\n`));
    expect(problems.map((p) => [p.code, formatProblem(p)])).toEqual([
      ['STEMS_REPO_YAML', 'cluster.yaml:1:1: file is larger than 1048576 bytes'],
    ]);
  });

  it('reports every problem of a role, not just the first', async () => {
    const { problems } = await load(role('  - file: etc/a\n    content: x\n  - unit: bad\n  - file: /etc/b\n    template: gone.hbs\n'));
    expect(problems.map((p) => [p.code, p.line])).toEqual([
      ['STEMS_PATH_INVALID', 2],
      ['STEMS_REPO_SCHEMA', 4],
    ]);
  });
});
