import { describe, expect, it } from 'vitest';
import { conditionUsesFacts, templateUsesFacts } from './facts-refs.js';

describe('templateUsesFacts', () => {
  it.each([
    ['{{facts.hostname}}', true],
    ['{{#if facts.gpus}}gpu{{/if}}', true],
    ['{{#each facts.network}}{{iface}}{{/each}}', true],
    ['{{~ facts.cpu.cores ~}}', true],
    ['{{max 1 (sub facts.cpu.cores 1)}}', true],
    ['{{#with facts}}{{hostname}}{{/with}}', true],
    ['{{@root.facts.hostname}}', true],
    ['{{default vars.x facts.fqdn}}', true],
    ['{{vars.facts}}', false],
    ['{{vars.myfacts}}', false],
    ['these facts are literal text: facts.hostname', false],
    ['{{node.name}} {{vars.domain}}', false],
  ])('%s → %s', (source, expected) => {
    expect(templateUsesFacts(source)).toBe(expected);
  });
});

describe('conditionUsesFacts', () => {
  it('sees facts as a path head in a condition', () => {
    expect(conditionUsesFacts('facts.gpus')).toBe(true);
    expect(conditionUsesFacts('(and facts.gpus (eq vars.x 1))')).toBe(true);
    expect(conditionUsesFacts('(eq vars.facts 1)')).toBe(false);
    expect(conditionUsesFacts('(contains node.groups "gpu")')).toBe(false);
  });
});
