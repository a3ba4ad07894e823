import { rm, symlink } from 'node:fs/promises';
import { formatProblem } from '@stems/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { commitFiles } from '../../../../test/helpers/git-http.js';
import { openRepoSource } from '../git/repo-source.js';
import { ALL_FACTS, committed, EXAMPLE } from './_test-fixtures.js';
import { compileRevision } from './index.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Compiles the example with some files replaced (null removes one); returns "CODE file:line:col: message" lines. */
async function problemsWith(change: Record<string, string | null>) {
  const files: Record<string, string | Uint8Array> = { ...EXAMPLE };
  for (const [path, content] of Object.entries(change)) {
    if (content === null) delete files[path];
    else files[path] = content;
  }
  const { reader, commit } = await committed(files, (fn) => cleanups.push(fn));
  const rev = await compileRevision(reader, commit, ALL_FACTS);
  expect(rev.state).toBe('invalid');
  expect(rev.nodes.size).toBe(0);
  return rev.problems.map((p) => `${p.code} ${formatProblem(p)}`);
}

describe('compileRevision refuses an invalid commit with precise positions', () => {
  it('broken YAML', async () => {
    expect(await problemsWith({ 'roles/docker/role.yaml': 'resources:\n  - file: /etc/x\n   content: "a"\n' })).toEqual([
      'STEMS_REPO_YAML roles/docker/role.yaml:3:1: Sequence item without - indicator',
    ]);
  });

  it('schema error', async () => {
    const cluster = (EXAMPLE['cluster.yaml'] as string).replace('director:\n    groups', 'director:\n    colour: blue\n    groups');
    expect(await problemsWith({ 'cluster.yaml': cluster })).toEqual([
      'STEMS_REPO_SCHEMA cluster.yaml:12:5: nodes.director.colour: unknown key "colour"',
    ]);
  });

  it('missing template', async () => {
    expect(await problemsWith({ 'roles/base/files/motd.hbs': null })).toEqual([
      'STEMS_REPO_MISSING_FILE roles/base/role.yaml:4:15: resources[0].template: template file "roles/base/files/motd.hbs" does not exist',
    ]);
  });

  it('two roles managing one path on a node', async () => {
    const docker = 'resources:\n  - unit: docker.service\n  - file: /etc/motd\n    content: "x"\n';
    expect(await problemsWith({ 'roles/docker/role.yaml': docker })).toEqual([
      'STEMS_REPO_CONFLICT roles/docker/role.yaml:3:5: nodes projector, director: path /etc/motd is managed twice: by roles/base/role.yaml:3:5 (file:/etc/motd) and by roles/docker/role.yaml:3:5 (file:/etc/motd)',
    ]);
  });

  it('a unit content and a file on the unit path conflict too', async () => {
    const docker =
      'resources:\n  - unit: docker.service\n    content: "[Unit]\\n"\n  - file: /etc/systemd/system/docker.service\n    content: "x"\n';
    const problems = await problemsWith({ 'roles/docker/role.yaml': docker });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^STEMS_REPO_CONFLICT roles\/docker\/role.yaml:4:5: .*path \/etc\/systemd\/system\/docker.service/);
  });

  it('two roles managing one unit on a node', async () => {
    // base (every node) declares, under another id, the unit the docker role (compute nodes) manages.
    const base = `${EXAMPLE['roles/base/role.yaml'] as string}  - unit: docker.service\n    id: docker-off\n    state: stopped\n`;
    expect(await problemsWith({ 'roles/base/role.yaml': base })).toEqual([
      'STEMS_REPO_CONFLICT roles/docker/role.yaml:6:5: nodes projector, director: unit docker.service is managed twice: by roles/base/role.yaml:24:5 (docker-off) and by roles/docker/role.yaml:6:5 (unit:docker.service)',
    ]);
  });

  it('template syntax errors, in a template file and in inline content', async () => {
    expect(
      await problemsWith({
        'roles/base/files/motd.hbs': 'one\ntwo {{vars.domain}\nthree\n',
        'roles/docker/role.yaml': 'resources:\n  - file: /etc/x\n    content: "{{#if vars.a}}x{{/each}}"\n',
      }),
    ).toEqual([
      expect.stringMatching(/^STEMS_TEMPLATE_SYNTAX roles\/base\/files\/motd.hbs:2:18: parse error: Expecting /),
      "STEMS_TEMPLATE_SYNTAX roles/docker/role.yaml:2:5: content (line 1, col 4): if doesn't match each",
    ]);
  });

  it('an unclosed block', async () => {
    expect(await problemsWith({ 'roles/base/files/motd.hbs': 'one\n{{#if vars.domain}}\nthree\n' })).toEqual([
      'STEMS_TEMPLATE_SYNTAX roles/base/files/motd.hbs:4:1: parse error: the template ends inside a block (a {{/…}} is missing)',
    ]);
  });

  it('a missing variable, naming node, template and line', async () => {
    const gpu = '[Service]\nExecStart=/usr/bin/gpu-exporter --port {{vars.port}}\n';
    expect(
      await problemsWith({
        'roles/base/files/motd.hbs': 'one\ntwo\nthree {{vars.nope}}\n',
        'roles/gpu/files/gpu-exporter.service.hbs': gpu,
        'roles/docker/role.yaml': 'resources:\n  - file: /etc/x\n    content: "a\\n{{facts.custom.rack}}"\n',
      }),
    ).toEqual([
      'STEMS_TEMPLATE_MISSING_VAR roles/base/files/motd.hbs:3:9: nodes cooperator, projector, director: "nope" is not defined',
      'STEMS_TEMPLATE_MISSING_VAR roles/docker/role.yaml:2:5: nodes projector, director: content (line 2, col 3): "rack" is not defined',
      'STEMS_TEMPLATE_MISSING_VAR roles/gpu/files/gpu-exporter.service.hbs:2:42: node projector: "port" is not defined',
    ]);
  });

  it('duplicate ids and notify naming an id the node lacks', async () => {
    const docker =
      'resources:\n  - unit: docker.service\n    notify: [nope, sysctl-reload]\n  - exec: [/bin/true]\n    id: sysctl-reload\n';
    expect(await problemsWith({ 'roles/docker/role.yaml': docker })).toEqual([
      'STEMS_REPO_DUPLICATE_ID roles/docker/role.yaml:4:5: nodes projector, director: resource id "sysctl-reload" is used twice: by roles/base/role.yaml:16:5 and by roles/docker/role.yaml:4:5; give one of them another id:',
      'STEMS_REPO_UNKNOWN_NOTIFY roles/docker/role.yaml:3:14: nodes projector, director: notify: no resource on the node has id "nope"',
    ]);
  });

  it('a condition that does not compile', async () => {
    const problems = await problemsWith({ 'roles/docker/role.yaml': 'when: (eq vars.missing 1\nresources:\n  - unit: docker.service\n' });
    expect(problems).toEqual([expect.stringMatching(/^STEMS_TEMPLATE_SYNTAX roles\/docker\/role.yaml:1:7: when: parse error/)]);
  });

  it('the unsafe entry of a symlinked template', async () => {
    const { dir } = await committed(EXAMPLE, (fn) => cleanups.push(fn));
    await rm(`${dir}/roles/base/files/motd.hbs`);
    await symlink('/etc/passwd', `${dir}/roles/base/files/motd.hbs`);
    await commitFiles(dir, {}, 'symlink');
    // a local path is read in place: the cache dir is not used
    const source = openRepoSource({ url: dir, branch: 'main', cacheDir: `${dir}/.git/unused` });
    const head = await source.fetch();
    if (!head) throw new Error('no head');
    const rev = await compileRevision(source.reader(head.commit), head, ALL_FACTS);
    expect(rev.state).toBe('invalid');
    expect(rev.problems.map(formatProblem)).toEqual([
      'roles/base/role.yaml:4:15: resources[0].template: roles/base/files/motd.hbs is a symlink in the commit; a regular file was expected',
    ]);
    expect(rev.problems[0]?.code).toBe('STEMS_REPO_UNSAFE_ENTRY');
  });
});
