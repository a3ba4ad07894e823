import { unifiedDiff } from '@stems/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { ALL_FACTS, committed, EXAMPLE } from './_test-fixtures.js';
import { diffNode } from './diff.js';
import { compileRevision, type NodeDesired } from './index.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function compileNodes(files: Record<string, string | Uint8Array>): Promise<Map<string, NodeDesired>> {
  const { reader, commit } = await committed(files, (fn) => cleanups.push(fn));
  const rev = await compileRevision(reader, commit, ALL_FACTS);
  expect(rev.problems).toEqual([]);
  return rev.nodes;
}

const BASE_ROLE = EXAMPLE['roles/base/role.yaml'] as string;

const NEXT = {
  ...EXAMPLE,
  // content changes on every node
  'roles/base/files/motd.hbs': (EXAMPLE['roles/base/files/motd.hbs'] as string).replace('Welcome to', 'Hello from'),
  'roles/base/role.yaml': BASE_ROLE.replace('mode: "0755"', 'mode: "0700"')
    .replace('  - absent: /etc/old.conf\n', '')
    .replace('  - package: htop\n', '  - file: /etc/issue\n    content: "{{node.name}}\\n"\n    mode: "0600"\n  - package: htop\n'),
  // a sensitive file: changed, but never shown
  'roles/docker/files/daemon.json.hbs': '{ "data-root": "{{vars.docker_data}}", "debug": true }\n',
};

describe('diffNode', () => {
  it('shows added, removed and changed resources with unified diffs and counts the rest', async () => {
    const before = await compileNodes(EXAMPLE);
    const after = await compileNodes(NEXT);
    const d = diffNode(before.get('projector') ?? null, after.get('projector') ?? null, ALL_FACTS.get('projector') ?? null);

    expect(d.node).toBe('projector');
    expect(d.waitingForFacts).toEqual([]);
    expect(d.added).toEqual([
      {
        id: 'file:/etc/issue',
        type: 'file',
        summary: ['new file /etc/issue', 'mode 0600'],
        diff: unifiedDiff('', 'projector\n', { path: '/etc/issue' }),
      },
    ]);
    expect(d.removed).toEqual([
      { id: 'absent:/etc/old.conf', type: 'absent', summary: ['no longer in the desired state (/etc/old.conf)'] },
    ]);
    expect(d.changed).toEqual([
      {
        id: 'file:/etc/motd',
        type: 'file',
        summary: ['content'],
        diff: unifiedDiff(
          'Welcome to projector.colab.lan (colab)\nlevel=node\nhost=projector cores=4\n',
          'Hello from projector.colab.lan (colab)\nlevel=node\nhost=projector cores=4\n',
          { path: '/etc/motd' },
        ),
      },
      { id: 'directory:/etc/app', type: 'directory', summary: ['mode 0755 → 0700'] },
      { id: 'file:/etc/docker/daemon.json', type: 'file', summary: ['content'] },
    ]);
    // 13 resources before, one removed, three changed
    expect(d.unchanged).toBe(9);
  });

  it('a template edit that renders the same bytes is no change', async () => {
    const before = await compileNodes(EXAMPLE);
    const same = (EXAMPLE['roles/base/files/motd.hbs'] as string).replace('{{cluster}}', '{{ cluster }}');
    const after = await compileNodes({ ...EXAMPLE, 'roles/base/files/motd.hbs': same });
    const d = diffNode(before.get('cooperator') ?? null, after.get('cooperator') ?? null, ALL_FACTS.get('cooperator') ?? null);
    expect(d).toMatchObject({ added: [], removed: [], changed: [], unchanged: 9 });
  });

  it('everything is added for a node with nothing approved yet, and removed when it leaves', async () => {
    const after = await compileNodes(EXAMPLE);
    const director = after.get('director') ?? null;
    const facts = ALL_FACTS.get('director') ?? null;
    const first = diffNode(null, director, facts);
    expect(first.added.map((c) => c.id)).toEqual(director?.resources.map((r) => r.id));
    const sensitive = first.added.find((c) => c.id === 'file:/etc/docker/daemon.json');
    expect(sensitive).toEqual({ id: 'file:/etc/docker/daemon.json', type: 'file', summary: ['new file /etc/docker/daemon.json'] });
    expect(first.added.find((c) => c.id === 'file:/etc/app/logo.bin')?.diff).toBeUndefined();
    const gone = diffNode(director, null, facts);
    expect(gone.removed).toHaveLength(director?.resources.length ?? -1);
    expect(gone.node).toBe('director');
  });

  it('leaves what needs facts out of the comparison when the node has none', async () => {
    const before = await compileNodes(EXAMPLE);
    const after = await compileNodes(NEXT);
    const d = diffNode(before.get('projector') ?? null, after.get('projector') ?? null, null);
    expect(d.waitingForFacts).toEqual(['file:/etc/motd', 'unit:gpu-exporter.service', 'package:nvidia-smi']);
    expect(d.changed.map((c) => c.id)).toEqual(['directory:/etc/app', 'file:/etc/docker/daemon.json']);
  });
});
