import Handlebars from 'handlebars';
import { findViolations } from './_template-ast.js';
import { StemsError } from './errors.js';

/**
 * The one template environment, used by the hub's preview and the agent's
 * apply so both render byte for byte the same. Config files are not HTML, so
 * nothing is escaped. Strict: a missing variable is an error, not "".
 */
const env = Handlebars.create();

export interface TemplateContext {
  vars: Record<string, unknown>;
  node: { name: string; groups: string[] };
  facts: Record<string, unknown> | null;
  cluster: string;
}

type Helper = (...args: unknown[]) => unknown;

function num(value: unknown, helper: string): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) {
    throw new StemsError('STEMS_TEMPLATE_RENDER', `Helper "${helper}" needs numbers, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** Truth as {{#if}} sees it, so `(and facts.gpus …)` agrees with `{{#if facts.gpus}}`: an empty list is false. */
function truthy(value: unknown): boolean {
  return Array.isArray(value) ? value.length > 0 : Boolean(value);
}

/** Handlebars passes an options object as the last argument; strip it. */
function args(list: unknown[]): unknown[] {
  return list.slice(0, -1);
}

const helpers: Record<string, Helper> = {
  eq: (...a) => args(a)[0] === args(a)[1],
  ne: (...a) => args(a)[0] !== args(a)[1],
  lt: (...a) => num(args(a)[0], 'lt') < num(args(a)[1], 'lt'),
  lte: (...a) => num(args(a)[0], 'lte') <= num(args(a)[1], 'lte'),
  gt: (...a) => num(args(a)[0], 'gt') > num(args(a)[1], 'gt'),
  gte: (...a) => num(args(a)[0], 'gte') >= num(args(a)[1], 'gte'),
  and: (...a) => args(a).every(truthy),
  or: (...a) => args(a).some(truthy),
  not: (...a) => !truthy(args(a)[0]),
  /** `{{default vars.port 8080}}`: the first value that is not undefined/null/"". */
  default: (...a) => args(a).find((v) => v !== undefined && v !== null && v !== ''),
  /** `{{join list ", "}}` */
  join: (...a) => {
    const [list, sep] = args(a);
    if (!Array.isArray(list)) throw new StemsError('STEMS_TEMPLATE_RENDER', 'Helper "join" needs a list');
    return list.join(typeof sep === 'string' ? sep : ',');
  },
  /** `{{indent text 4}}`: indents every line but the first by n spaces. */
  indent: (...a) => {
    const [text, n] = args(a);
    const pad = ' '.repeat(num(n ?? 2, 'indent'));
    return String(text ?? '')
      .split('\n')
      .join(`\n${pad}`);
  },
  /** `{{json value}}` or `{{json value 2}}` for pretty output. */
  json: (...a) => {
    const [value, space] = args(a);
    return JSON.stringify(value, null, space === undefined ? undefined : num(space, 'json'));
  },
  upper: (...a) => String(args(a)[0] ?? '').toUpperCase(),
  lower: (...a) => String(args(a)[0] ?? '').toLowerCase(),
  trim: (...a) => String(args(a)[0] ?? '').trim(),
  /** `{{replace text "from" "to"}}`: every occurrence, literal (not a regex). */
  replace: (...a) => {
    const [text, from, to] = args(a);
    return String(text ?? '')
      .split(String(from))
      .join(String(to ?? ''));
  },
  /** `{{#if (contains node.groups "gpu")}}` for lists and strings. */
  contains: (...a) => {
    const [haystack, needle] = args(a);
    if (Array.isArray(haystack) || typeof haystack === 'string') return haystack.includes(needle as never);
    return false;
  },
  /** `{{quote vars.name}}`: a double-quoted, escaped string. */
  quote: (...a) => JSON.stringify(String(args(a)[0] ?? '')),
  length: (...a) => {
    const [value] = args(a);
    return Array.isArray(value) || typeof value === 'string' ? value.length : 0;
  },
  add: (...a) => num(args(a)[0], 'add') + num(args(a)[1], 'add'),
  sub: (...a) => num(args(a)[0], 'sub') - num(args(a)[1], 'sub'),
  mul: (...a) => num(args(a)[0], 'mul') * num(args(a)[1], 'mul'),
  div: (...a) => {
    const d = num(args(a)[1], 'div');
    if (d === 0) throw new StemsError('STEMS_TEMPLATE_RENDER', 'Helper "div" divided by zero');
    return num(args(a)[0], 'div') / d;
  },
  floor: (...a) => Math.floor(num(args(a)[0], 'floor')),
  ceil: (...a) => Math.ceil(num(args(a)[0], 'ceil')),
  min: (...a) => Math.min(...args(a).map((v) => num(v, 'min'))),
  max: (...a) => Math.max(...args(a).map((v) => num(v, 'max'))),
  /** `{{mib facts.memory.totalBytes}}`: bytes to whole MiB (and `gib`). */
  mib: (...a) => Math.floor(num(args(a)[0], 'mib') / 1024 ** 2),
  gib: (...a) => Math.floor(num(args(a)[0], 'gib') / 1024 ** 3),
};

// Only our helpers: the built-in `log` writes to the console and
// `lookup` is the usual door to prototype tricks.
env.unregisterHelper('log');
env.unregisterHelper('lookup');
for (const [name, fn] of Object.entries(helpers)) env.registerHelper(name, fn);

/**
 * {{#each}} iterations one render may run, over all loops and nesting. Three
 * nested loops over a 1,000-item list would otherwise run a billion times and
 * hold the hub's (or agent's) event loop. @default 100000
 */
export const MAX_EACH_ITERATIONS = 100_000;
let eachIterations = 0;
const builtinEach = env.helpers.each as Helper;
env.registerHelper('each', function (this: unknown, ...a: unknown[]) {
  const options = a[a.length - 1] as Handlebars.HelperOptions;
  const fn = options.fn;
  const counted = function (this: unknown, ...fa: Parameters<typeof fn>) {
    if (++eachIterations > MAX_EACH_ITERATIONS) {
      throw new StemsError('STEMS_TEMPLATE_RENDER', `{{#each}} ran more than ${MAX_EACH_ITERATIONS} times in one render`, {
        hint: 'Loop over smaller lists or fewer nested levels.',
      });
    }
    return fn.apply(this, fa);
  };
  return builtinEach.apply(this, [...a.slice(0, -1), { ...options, fn: counted }]);
});

/** Names of the helpers templates may use, for docs and tests. */
export const TEMPLATE_HELPERS = Object.freeze(['if', 'unless', 'each', 'with', ...Object.keys(helpers)]);

const HELPER_NAMES: ReadonlySet<string> = new Set(TEMPLATE_HELPERS);

const COMPILE_OPTIONS = {
  noEscape: true,
  strict: true,
  knownHelpersOnly: false,
  // unregistered above: never compile direct calls to them
  knownHelpers: { log: false, lookup: false },
  preventIndent: true,
} as const;

type Compiled = (context: unknown, options?: Handlebars.RuntimeOptions) => string;

export interface CompiledTemplate {
  readonly name: string;
  render(context: TemplateContext): string;
}

const MISSING = /^"?(.+?)"? not defined in (.+?) - (\d+):(\d+)$/;

function lineOf(err: unknown): { line?: number; column?: number } {
  if (typeof err === 'object' && err !== null && 'lineNumber' in err) {
    const e = err as { lineNumber?: number; column?: number };
    return { line: e.lineNumber, column: e.column === undefined ? undefined : e.column + 1 };
  }
  return {};
}

function toTemplateError(err: unknown, name: string, phase: 'compile' | 'render'): StemsError {
  if (err instanceof StemsError) {
    return new StemsError(err.code, `${name}: ${err.message}`, { cause: err, details: { template: name } });
  }
  const message = err instanceof Error ? err.message : String(err);
  const missing = MISSING.exec(message.split('\n')[0] ?? '');
  if (phase === 'render' && missing) {
    const [, variable, , line, col] = missing;
    return new StemsError('STEMS_TEMPLATE_MISSING_VAR', `${name}:${line}:${Number(col) + 1}: "${variable}" is not defined`, {
      cause: err,
      hint: 'Define it in cluster.yaml, a group, the node, or the role defaults; or guard it with {{#if}} / {{default}}.',
      details: { template: name, variable, line: Number(line), col: Number(col) + 1 },
    });
  }
  // A missing parent in a helper argument ({{#if nope.deeper}}) is a missing variable too.
  const parent = /^Cannot read properties of (?:undefined|null) \(reading '(.+)'\)$/.exec(message);
  if (phase === 'render' && parent) {
    return new StemsError('STEMS_TEMPLATE_MISSING_VAR', `${name}: the object holding "${parent[1]}" is not defined`, {
      cause: err,
      hint: 'Check the path (vars.…, facts.…); guard optional parts with {{#if}} one level at a time.',
      details: { template: name, variable: parent[1] },
    });
  }
  const parse = /^Parse error on line (\d+):\n(.*)\n-*\^\n.*got '(.+)'/.exec(message);
  if (parse) {
    const [, line, near, got] = parse;
    return new StemsError('STEMS_TEMPLATE_SYNTAX', `${name}:${line}: syntax error near ${JSON.stringify(near)} (unexpected ${got})`, {
      cause: err,
      hint: 'Check the braces: every {{ needs }}, every {{#block}} its {{/block}}.',
      details: { template: name, line: Number(line) },
    });
  }
  const pos = lineOf(err);
  const where = pos.line === undefined ? name : `${name}:${pos.line}:${pos.column ?? 1}`;
  const first = message.split('\n')[0];
  const code = phase === 'compile' ? 'STEMS_TEMPLATE_SYNTAX' : 'STEMS_TEMPLATE_RENDER';
  return new StemsError(code, `${where}: ${first}`, { cause: err, details: { template: name, ...pos } });
}

/**
 * Copies plain data into objects with no prototype, so `constructor`,
 * `__proto__` and friends resolve to nothing (a missing-variable error)
 * instead of reaching Object.prototype.
 */
// Handlebars' strict lookup builds its message with `'not defined in ' + obj`;
// an object with no prototype cannot become a string, which would turn a
// missing variable into a TypeError. Detached objects share this prototype:
// no string keys (lookups still find nothing), only Symbol.toPrimitive.
// Shared rather than defined per object, which made every render slow.
const DETACHED = Object.freeze(Object.create(null, { [Symbol.toPrimitive]: { value: () => '[object]' } }) as object);

// Every template of a node renders with the same vars and facts objects (the
// hub previews 50 templates × 100 nodes per commit): detach each object once.
// Template data is read-only, so a copy can be shared between renders.
const detachedCopies = new WeakMap<object, unknown>();

function detach(value: unknown, depth = 0): unknown {
  if (depth > 64) throw new StemsError('STEMS_TEMPLATE_RENDER', 'Template data is nested more than 64 levels deep');
  if (value === null || typeof value !== 'object') return value;
  const known = detachedCopies.get(value);
  if (known !== undefined) return known;
  let out: unknown;
  if (Array.isArray(value)) {
    out = value.map((v) => detach(v, depth + 1));
  } else {
    const copy = Object.create(DETACHED) as Record<string, unknown>;
    for (const [k, v] of Object.entries(value)) copy[k] = detach(v, depth + 1);
    out = copy;
  }
  detachedCopies.set(value, out);
  return out;
}

/** Compiles a template; syntax errors are STEMS_TEMPLATE_SYNTAX with name:line:col. */
export function compileTemplate(source: string, name: string): CompiledTemplate {
  let compiled: Compiled;
  let ast: hbs.AST.Program;
  try {
    // parsing eagerly makes syntax errors surface here rather than at first render
    ast = env.parse(source);
  } catch (err) {
    throw toTemplateError(err, name, 'compile');
  }
  const violation = findViolations(ast, HELPER_NAMES)[0];
  if (violation) {
    throw new StemsError('STEMS_TEMPLATE_SYNTAX', `${name}:${violation.line}:${violation.col}: ${violation.message}`, {
      hint: 'Templates use variables, facts, {{#if}}/{{#each}}/{{#with}}/{{#unless}} and the documented helpers only.',
      details: { template: name, line: violation.line, col: violation.col },
    });
  }
  try {
    env.precompile(ast, COMPILE_OPTIONS);
    compiled = env.compile(ast, COMPILE_OPTIONS) as Compiled;
  } catch (err) {
    throw toTemplateError(err, name, 'compile');
  }
  return {
    name,
    render(context: TemplateContext): string {
      try {
        eachIterations = 0;
        return compiled(detach(context), {
          allowProtoPropertiesByDefault: false,
          allowProtoMethodsByDefault: false,
        });
      } catch (err) {
        throw toTemplateError(err, name, 'render');
      }
    },
  };
}

export function renderTemplate(source: string, name: string, context: TemplateContext): string {
  return compileTemplate(source, name).render(context);
}

// A condition is evaluated once per resource per node (the hub's preview, every
// agent run): compile it once. Keyed by name too, which errors carry.
const conditions = new Map<string, CompiledTemplate>();
const MAX_CACHED_CONDITIONS = 2000;

/**
 * Evaluates a `when:` condition (`facts.gpus`, `(eq facts.os.arch "x64")`)
 * with Handlebars truthiness: an empty list is false.
 */
export function evaluateCondition(condition: string, name: string, context: TemplateContext): boolean {
  if (/[{}]/.test(condition)) {
    throw new StemsError('STEMS_TEMPLATE_SYNTAX', `${name}: a condition is an expression such as facts.gpus, without braces`);
  }
  const key = `${name}\0${condition}`;
  let compiled = conditions.get(key);
  if (!compiled) {
    if (conditions.size >= MAX_CACHED_CONDITIONS) conditions.clear();
    compiled = compileTemplate(`{{#if ${condition}}}1{{/if}}`, name);
    conditions.set(key, compiled);
  }
  return compiled.render(context) === '1';
}
