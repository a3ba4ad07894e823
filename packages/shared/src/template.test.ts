import { describe, expect, it } from 'vitest';
import { makeBundlePayload } from './_test-bundle.js';
import { type ErrorCode, isStemsError, type StemsError } from './errors.js';
import type { Facts } from './facts.js';
import { renderBody, resourceApplies } from './render.js';
import { compileTemplate, evaluateCondition, renderTemplate, TEMPLATE_HELPERS, type TemplateContext } from './template.js';

const FACTS = {
  hostname: 'projector',
  os: { arch: 'x64', distro: 'debian' },
  memory: { totalBytes: 16 * 1024 ** 3 },
  gpus: [{ vendor: 'nvidia', model: 'A2000', vramMiB: 6144 }],
  disks: [],
};
const CTX: TemplateContext = {
  vars: { port: 8080, name: 'web', list: ['a', 'b', 'c'], empty: [], text: 'l1\nl2', nested: { deep: { x: 1 } }, zero: 0, blank: '' },
  node: { name: 'projector', groups: ['compute', 'gpu'] },
  facts: FACTS,
  cluster: 'colab',
};
const render = (source: string, ctx: TemplateContext = CTX) => renderTemplate(source, 't.hbs', ctx);

function failure(fn: () => unknown): StemsError {
  try {
    fn();
  } catch (err) {
    if (isStemsError(err)) return err;
    throw err;
  }
  throw new Error('expected a StemsError, nothing was thrown');
}
const codeOf = (source: string, ctx: TemplateContext = CTX): ErrorCode | 'ok' => {
  try {
    render(source, ctx);
    return 'ok';
  } catch (err) {
    if (isStemsError(err)) return err.code;
    throw err;
  }
};

describe('rendering', () => {
  it('renders vars, node, facts and cluster', () => {
    expect(render('{{vars.name}}:{{vars.port}} on {{node.name}} [{{node.groups}}] {{facts.os.arch}} {{cluster}}')).toBe(
      'web:8080 on projector [compute,gpu] x64 colab',
    );
    expect(render('{{#each facts.gpus}}{{vendor}} {{vramMiB}}{{/each}}')).toBe('nvidia 6144');
    expect(render('{{vars.nested.deep.x}}')).toBe('1');
  });

  it('does not HTML-escape', () => {
    expect(render('{{v}} {{{v}}}', { ...CTX, vars: {}, v: '<&>"\'' } as TemplateContext)).toBe('<&>"\' <&>"\'');
    expect(render('{{vars.s}}', { ...CTX, vars: { s: '<a href="x">&amp;</a>' } })).toBe('<a href="x">&amp;</a>');
  });

  it('keeps indentation and text around blocks as written', () => {
    expect(render('a:\n  {{#each vars.list}}- {{this}}\n  {{/each}}end')).toBe('a:\n  - a\n  - b\n  - c\n  end');
  });

  it('compiles once and renders many contexts', () => {
    const t = compileTemplate('{{node.name}}', 'n.hbs');
    expect(t.name).toBe('n.hbs');
    expect(t.render(CTX)).toBe('projector');
    expect(t.render({ ...CTX, node: { name: 'director', groups: [] } })).toBe('director');
  });
});

describe('strictness and errors', () => {
  it('a missing variable names the template, line and column', () => {
    const err = failure(() => renderTemplate('line one\nport = {{vars.nope}}\n', 'roles/web/files/app.conf.hbs', CTX));
    expect(err.code).toBe('STEMS_TEMPLATE_MISSING_VAR');
    expect(err.message).toBe('roles/web/files/app.conf.hbs:2:10: "nope" is not defined');
    expect(err.hint).toMatch(/Define it/);
    expect(err.details).toMatchObject({ template: 'roles/web/files/app.conf.hbs', variable: 'nope', line: 2 });
    expect(codeOf('{{nope}}')).toBe('STEMS_TEMPLATE_MISSING_VAR');
    expect(codeOf('{{facts.os.nope}}')).toBe('STEMS_TEMPLATE_MISSING_VAR');
    expect(codeOf('{{#if nope.deeper}}x{{/if}}')).toBe('STEMS_TEMPLATE_MISSING_VAR');
    expect(codeOf('{{facts.os.arch}}', { ...CTX, facts: null })).toBe('STEMS_TEMPLATE_MISSING_VAR');
  });

  it('guards make optional values fine', () => {
    expect(render('{{#if vars.nope}}x{{else}}y{{/if}}')).toBe('y');
    expect(render('{{default vars.nope 5}}')).toBe('5');
    expect(render('{{#if facts}}{{facts.hostname}}{{/if}}', { ...CTX, facts: null })).toBe('');
  });

  it('a syntax error is STEMS_TEMPLATE_SYNTAX with the line', () => {
    const err = failure(() => compileTemplate('first\nsecond {{vars.a}\n', 'app.hbs'));
    expect(err.code).toBe('STEMS_TEMPLATE_SYNTAX');
    expect(err.message).toMatch(/^app\.hbs:2: syntax error near /);
    expect(err.details).toMatchObject({ line: 2 });
    const unclosed = failure(() => compileTemplate('a\n{{#if x}}\nb\n{{/each}}', 'b.hbs'));
    expect(unclosed.code).toBe('STEMS_TEMPLATE_SYNTAX');
    expect(unclosed.message).toMatch(/^b\.hbs:2:/);
    expect(failure(() => compileTemplate('{{#if}}', 'c.hbs')).code).toBe('STEMS_TEMPLATE_SYNTAX');
  });

  it('partials and decorators fail at compile time, clearly', () => {
    for (const source of ['{{> x}}', 'a\n  {{#> layout}}y{{/layout}}', '{{*inline}}']) {
      const err = failure(() => compileTemplate(source, 'p.hbs'));
      expect(err.code, source).toBe('STEMS_TEMPLATE_SYNTAX');
      expect(err.message, source).toMatch(/^p\.hbs:\d+:\d+: (partials|decorators) .* not supported/);
    }
  });
});

describe('no way out of the data', () => {
  const attacks = [
    '{{constructor}}',
    '{{constructor.constructor}}',
    '{{__proto__}}',
    '{{vars.__proto__.polluted}}',
    '{{this.constructor.name}}',
    '{{vars.constructor.prototype}}',
    '{{#with __proto__}}{{polluted}}{{/with}}',
    '{{#with vars}}{{constructor.constructor}}{{/with}}',
    '{{lookup this "constructor"}}',
    '{{#with (lookup this "__proto__")}}{{/with}}',
    '{{constructor "return process"}}',
    '{{#constructor}}x{{/constructor}}',
    '{{toString}}',
    '{{hasOwnProperty "x"}}',
    '{{__defineGetter__ "polluted" vars.list}}',
    '{{log "x"}}',
    '{{helperMissing}}',
    '{{blockHelperMissing}}',
    '{{#with (json this)}}{{constructor.constructor}}{{/with}}',
    '{{#with (json this)}}{{__proto__.polluted}}{{/with}}',
    '{{#with (upper "x")}}{{this.constructor.constructor}}{{/with}}',
    '{{#each (json this)}}{{constructor}}{{/each}}',
    '{{#with facts}}{{#with __proto__}}{{constructor}}{{/with}}{{/with}}',
    '{{#each vars}}{{@key.constructor}}{{/each}}',
  ];
  it.each(attacks)('%s renders nothing dangerous', (source) => {
    let out = '';
    try {
      out = render(source);
    } catch (err) {
      expect(isStemsError(err), String(err)).toBe(true);
      expect((err as StemsError).code).toMatch(/^STEMS_TEMPLATE_/);
    }
    expect(out).not.toMatch(/function|native code|Object|\[object/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  it('data that carries an own __proto__ key does not change any prototype', () => {
    const vars = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>;
    expect(render('{{vars.a}}', { ...CTX, vars })).toBe('1');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('helpers', () => {
  const cases: Record<string, [source: string, expected: string][]> = {
    if: [['{{#if vars.list}}y{{/if}}{{#if vars.empty}}n{{/if}}{{#if vars.zero}}n{{else}}z{{/if}}', 'yz']],
    unless: [['{{#unless vars.empty}}e{{/unless}}', 'e']],
    each: [['{{#each vars.list}}{{@index}}{{this}}{{/each}}|{{#each vars.nested}}{{@key}}{{/each}}', '0a1b2c|deep']],
    with: [['{{#with vars.nested.deep}}{{x}}{{/with}}', '1']],
    eq: [['{{eq vars.port 8080}} {{eq vars.port "8080"}}', 'true false']],
    ne: [['{{ne node.name "x"}}', 'true']],
    lt: [['{{lt 1 2}} {{lt 2 1}}', 'true false']],
    lte: [['{{lte 2 2}}', 'true']],
    gt: [['{{gt vars.port 80}}', 'true']],
    gte: [['{{gte 1 2}}', 'false']],
    // and/or/not see truth as {{#if}} does: an empty list is false
    and: [['{{and true vars.list}} {{#if (and vars.list vars.empty)}}x{{else}}no{{/if}}', 'true no']],
    or: [['{{or vars.zero vars.name}} {{or vars.empty vars.blank}}', 'true false']],
    not: [['{{not vars.zero}} {{not vars.name}} {{not vars.empty}}', 'true false true']],
    default: [['{{default vars.blank vars.nope "fallback"}} {{default vars.zero 9}}', 'fallback 0']],
    join: [['{{join vars.list ", "}} {{join node.groups}}', 'a, b, c compute,gpu']],
    indent: [['x:\n  {{indent vars.text 2}}', 'x:\n  l1\n  l2']],
    json: [['{{json vars.list}} {{json vars.nested 1}}', '["a","b","c"] {\n "deep": {\n  "x": 1\n }\n}']],
    upper: [['{{upper vars.name}}', 'WEB']],
    lower: [['{{lower "MiXed"}}', 'mixed']],
    trim: [['[{{trim "  x  "}}]', '[x]']],
    replace: [['{{replace "a.b.c" "." "-"}}', 'a-b-c']],
    contains: [['{{contains node.groups "gpu"}} {{contains vars.name "e"}} {{contains vars.port 8}}', 'true true false']],
    quote: [['{{quote "say \\"hi\\""}}', '"say \\"hi\\""']],
    length: [['{{length vars.list}} {{length vars.name}} {{length vars.port}}', '3 3 0']],
    add: [['{{add vars.port 1}} {{add "2" 3}}', '8081 5']],
    sub: [['{{sub 10 4}}', '6']],
    mul: [['{{mul 3 4}}', '12']],
    div: [['{{div 10 4}}', '2.5']],
    floor: [['{{floor 2.7}}', '2']],
    ceil: [['{{ceil 2.1}}', '3']],
    min: [['{{min 3 1 2}}', '1']],
    max: [['{{max 3 1 2}}', '3']],
    mib: [['{{mib facts.memory.totalBytes}}', '16384']],
    gib: [['{{gib facts.memory.totalBytes}}', '16']],
  };

  it('every helper has a case here', () => {
    expect(Object.keys(cases).sort()).toEqual([...TEMPLATE_HELPERS].sort());
  });

  it.each(Object.entries(cases))('%s', (_name, list) => {
    for (const [source, expected] of list) expect(render(source), source).toBe(expected);
  });

  it('helpers refuse bad arguments with STEMS_TEMPLATE_RENDER', () => {
    for (const source of [
      '{{add "x" 1}}',
      '{{div 1 0}}',
      '{{join vars.name}}',
      '{{mib "lots"}}',
      '{{lt vars.list 1}}',
      '{{json vars "x"}}',
    ]) {
      const err = failure(() => render(source));
      expect(err.code, source).toBe('STEMS_TEMPLATE_RENDER');
      expect(err.message, source).toMatch(/^t\.hbs: /);
    }
  });
});

describe('conditions', () => {
  it('uses Handlebars truthiness: an empty list is false, a non-empty one true', () => {
    expect(evaluateCondition('facts.gpus', 'c', CTX)).toBe(true);
    expect(evaluateCondition('facts.disks', 'c', CTX)).toBe(false);
    expect(evaluateCondition('(eq facts.os.arch "x64")', 'c', CTX)).toBe(true);
    expect(evaluateCondition('(contains node.groups "gateway")', 'c', CTX)).toBe(false);
    expect(evaluateCondition('(and facts.gpus (gte (mib facts.memory.totalBytes) 8192))', 'c', CTX)).toBe(true);
  });

  it('a missing last name is false, a missing parent or unknown facts an error (as docs/templates.md says)', () => {
    expect(evaluateCondition('facts.custom_flag', 'c', CTX)).toBe(false);
    expect(failure(() => evaluateCondition('facts.rack.row', 'c', CTX)).code).toBe('STEMS_TEMPLATE_MISSING_VAR');
    expect(failure(() => evaluateCondition('facts.gpus', 'c', { ...CTX, facts: null })).code).toBe('STEMS_TEMPLATE_MISSING_VAR');
    expect(evaluateCondition('(contains node.groups "gpu")', 'c', { ...CTX, facts: null })).toBe(true);
  });

  it('rejects braces and broken expressions', () => {
    expect(failure(() => evaluateCondition('{{facts.gpus}}', 'c', CTX)).code).toBe('STEMS_TEMPLATE_SYNTAX');
    expect(failure(() => evaluateCondition('facts.gpus}}{{#each vars}}', 'c', CTX)).code).toBe('STEMS_TEMPLATE_SYNTAX');
    expect(failure(() => evaluateCondition('(eq facts.os.arch', 'c', CTX)).code).toBe('STEMS_TEMPLATE_SYNTAX');
    expect(failure(() => evaluateCondition('(lookup facts "os")', 'c', CTX)).code).toBe('STEMS_TEMPLATE_SYNTAX');
  });

  it('resourceApplies: no condition applies; a condition is evaluated against the facts', () => {
    const source = makeBundlePayload();
    const facts = FACTS as unknown as Facts; // partial facts: only the fields the conditions read
    expect(resourceApplies(source, { id: 'a' }, facts)).toBe(true);
    expect(resourceApplies(source, { id: 'a', when: 'facts.gpus' }, facts)).toBe(true);
    expect(resourceApplies(source, { id: 'a', when: 'facts.disks' }, facts)).toBe(false);
    expect(resourceApplies(source, { id: 'a', when: '(contains node.groups "gpu")' }, facts)).toBe(true);
    expect(failure(() => resourceApplies(source, { id: 'a', when: '{{x}}' }, facts)).message).toMatch(/^a \(when\)/);
  });

  it('renderBody renders templates and passes static files through', () => {
    const payload = makeBundlePayload();
    const [motd, sysctl] = payload.resources.filter((r) => r.type === 'file');
    if (motd?.type !== 'file' || sysctl?.type !== 'file') throw new Error('unreachable');
    expect(renderBody(payload, motd, null).toString()).toBe('Welcome to projector (colab), swappiness 10\n');
    expect(renderBody(payload, { ...motd, vars: { swappiness: 60 } }, null).toString()).toBe(
      'Welcome to projector (colab), swappiness 60\n',
    );
    expect(renderBody(payload, sysctl, null).toString()).toBe('vm.swappiness = 10\n');
  });
});
