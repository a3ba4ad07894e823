import { afterEach, describe, expect, it } from 'vitest';
import { commitFiles, type GitRepo, makeGitRepo } from '../../../../test/helpers/git-http.js';
import { TWO_NODE_CLUSTER } from '../_test-fixtures.js';
import { testHub } from '../_test-hub.js';

const ROLE = `resources:
  - file: /etc/motd
    template: motd.hbs
  - file: /etc/app/db.conf
    content: "password = {{vars.dbpass}}\\n"
    sensitive: true
    vars: { dbpass: OLD-SECRET-1f2e }
  - file: /etc/app/static.conf
    content: "static\\n"
`;
const MOTD = '{{vars.greeting}} from {{node.name}}\nline two\nline three\n';

const repos: GitRepo[] = [];
afterEach(async () => {
  for (const r of repos.splice(0)) await r.cleanup();
});

describe('GET /revisions/:rev/diff against what each node has approved', () => {
  it('shows a changed template as a unified diff and a changed sensitive file only as changed', async () => {
    const repo = await makeGitRepo(
      { 'cluster.yaml': TWO_NODE_CLUSTER, 'roles/base/role.yaml': ROLE, 'roles/base/files/motd.hbs': MOTD },
      'A',
    );
    repos.push(repo);
    const hub = await testHub({ repoUrl: repo.dir });
    const headers = { authorization: `Bearer ${hub.token('operator')}` };
    const post = (url: string, payload?: object) => hub.app.inject({ method: 'POST', url, headers, ...(payload ? { payload } : {}) });
    const diffOf = async (rev: string, node?: string) => {
      const res = await hub.app.inject({ method: 'GET', url: `/api/v1/revisions/${rev}/diff${node ? `?node=${node}` : ''}`, headers });
      expect(res.statusCode, res.body).toBe(200);
      return { body: res.body, diffs: res.json() };
    };

    await post('/api/v1/sync');
    expect((await post('/api/v1/approvals', { rev: repo.head })).statusCode).toBe(201);
    // Approved A against itself: nothing to change.
    expect((await diffOf(repo.head)).diffs).toEqual([
      { node: 'n1', added: [], removed: [], changed: [], unchanged: 3, waitingForFacts: [] },
      { node: 'n2', added: [], removed: [], changed: [], unchanged: 3, waitingForFacts: [] },
    ]);

    const b = await commitFiles(
      repo.dir,
      {
        'roles/base/files/motd.hbs': MOTD.replace('line two', 'line 2'),
        'roles/base/role.yaml': ROLE.replace('OLD-SECRET-1f2e', 'NEW-SECRET-9c8d'),
      },
      'B',
    );
    await post('/api/v1/sync');
    const { body, diffs } = await diffOf(b);
    const n1 = diffs.find((d: { node: string }) => d.node === 'n1');
    expect(n1).toMatchObject({ added: [], removed: [], unchanged: 1, waitingForFacts: [] });
    expect(n1.changed).toEqual([
      {
        id: 'file:/etc/motd',
        type: 'file',
        summary: ['content'],
        diff: expect.stringContaining('@@ -1,3 +1,3 @@\n hello from n1\n-line two\n+line 2\n line three\n'),
      },
      // sensitive: reported as changed, with no diff
      { id: 'file:/etc/app/db.conf', type: 'file', summary: ['content'] },
    ]);
    expect(n1.changed[0].diff).toMatch(/^--- .*\/etc\/motd\n\+\+\+ .*\/etc\/motd\n/);
    // No side of the sensitive file shows, anywhere in the answer.
    for (const secret of ['OLD-SECRET-1f2e', 'NEW-SECRET-9c8d', 'password =']) expect(body).not.toContain(secret);

    // Approve B for n1 only: n1 now has nothing to change, n2 still diffs against A.
    expect((await post('/api/v1/approvals', { rev: b, nodes: ['n1'] })).statusCode).toBe(201);
    expect((await diffOf(b, 'n1')).diffs).toEqual([{ node: 'n1', added: [], removed: [], changed: [], unchanged: 3, waitingForFacts: [] }]);
    const n2 = (await diffOf(b, 'n2')).diffs[0];
    expect(n2.changed.map((c: { id: string }) => c.id)).toEqual(['file:/etc/motd', 'file:/etc/app/db.conf']);
    expect(n2.changed[0].diff).toContain('+line 2\n');
    // And the other way: rolling n1 back to A would undo B's edit.
    const back = (await diffOf(repo.head, 'n1')).diffs[0];
    expect(back.changed[0].diff).toContain('-line 2\n+line two\n');
    expect(back.changed[1]).toEqual({ id: 'file:/etc/app/db.conf', type: 'file', summary: ['content'] });
  });
});
