import { describe, expect, it } from 'vitest';
import { ProblemSet } from './problems.js';

describe('ProblemSet', () => {
  it('merges one mistake seen on many nodes into one problem naming them', () => {
    const set = new ProblemSet();
    const pos = { file: 'roles/base/files/motd.hbs', line: 3, col: 9 };
    for (const node of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'a']) set.add('STEMS_TEMPLATE_MISSING_VAR', pos, '"x" is not defined', node);
    set.add('STEMS_TEMPLATE_MISSING_VAR', pos, '"x" is not defined', 'h');
    set.add('STEMS_REPO_SCHEMA', { file: 'cluster.yaml', line: 1, col: 1 }, 'bad');
    expect(set.size).toBe(2);
    expect(set.list()).toEqual([
      { code: 'STEMS_TEMPLATE_MISSING_VAR', ...pos, message: 'nodes a, b, c, d, e and 3 more: "x" is not defined' },
      { code: 'STEMS_REPO_SCHEMA', file: 'cluster.yaml', line: 1, col: 1, message: 'bad' },
    ]);
  });

  it('names a single node as "node"', () => {
    const set = new ProblemSet();
    set.add('STEMS_REPO_CONFLICT', { file: 'f', line: 2, col: 3 }, 'twice', 'alpha');
    expect(set.list()[0]?.message).toBe('node alpha: twice');
  });
});
