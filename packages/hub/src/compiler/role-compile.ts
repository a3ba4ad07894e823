import { isUtf8 } from 'node:buffer';
import {
  type Body,
  type BundleFile,
  compileTemplate,
  DEFAULT_EXEC_TIMEOUT_MS,
  durationMs,
  isStemsError,
  type LoadedRole,
  type RepoResource,
  type Resource,
  resourceOrigin,
  roleAssetPath,
  sha256Hex,
} from '@stems/shared';
import { at, type Position, type ProblemSet } from './problems.js';
import { templateErrorPosition, templateErrorText } from './template-position.js';

/** A body that is a template, with where its text came from (for preview messages). */
export interface TemplateBody {
  text: string;
  /** The template file ("roles/base/files/motd.hbs"); undefined for inline `content`. */
  asset: string | undefined;
}

/** One role resource compiled once, shared by every node that has the role. */
export interface RoleResource {
  role: LoadedRole;
  index: number;
  pos: Position;
  /** Compiled resource; `drift` is a placeholder until the node's policy is known. */
  resource: Resource;
  driftOverride: Resource['drift'] | undefined;
  /** sha256 → file, for the body (0 or 1 entries). */
  files: Map<string, BundleFile>;
  template: TemplateBody | undefined;
  /** Its template or condition did not compile: no preview render. */
  broken: boolean;
}

function bundleFile(bytes: Uint8Array): { sha256: string; file: BundleFile } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = isUtf8(buf);
  return {
    sha256: sha256Hex(buf),
    file: { size: buf.byteLength, encoding: utf8 ? 'utf8' : 'base64', data: buf.toString(utf8 ? 'utf8' : 'base64') },
  };
}

/**
 * Bundle ids may hold no white space (shared ResourceId), so an exec's
 * default id joins its argv with spaces and writes each white-space run as "_".
 */
export function execId(argv: readonly string[]): string {
  return `exec:${argv.join(' ').replace(/\s+/g, '_')}`;
}

export function defaultId(r: RepoResource): string {
  if ('exec' in r) return execId(r.exec);
  if ('file' in r) return `file:${r.file}`;
  if ('directory' in r) return `directory:${r.directory}`;
  if ('symlink' in r) return `symlink:${r.symlink}`;
  if ('absent' in r) return `absent:${r.absent}`;
  if ('unit' in r) return `unit:${r.unit}`;
  return `package:${r.package}`;
}

/** `(and A B)` when both the role and the resource have a condition. */
function combineWhen(roleWhen: string | undefined, own: string | undefined): string | undefined {
  if (roleWhen === undefined) return own;
  if (own === undefined) return roleWhen;
  return `(and ${roleWhen} ${own})`;
}

type Common = Pick<Resource, 'id' | 'notify' | 'drift' | 'when' | 'origin'>;

function toResource(r: RepoResource, common: Common, body: Body | undefined): Resource {
  const own = (o: { mode?: string; owner?: string; group?: string }) => ({
    ...(o.mode === undefined ? {} : { mode: o.mode }),
    ...(o.owner === undefined ? {} : { owner: o.owner }),
    ...(o.group === undefined ? {} : { group: o.group }),
  });
  if ('file' in r) {
    if (!body) throw new TypeError('file resource without body');
    return {
      type: 'file',
      path: r.file,
      body,
      ...(r.vars ? { vars: r.vars } : {}),
      sensitive: r.sensitive ?? false,
      ...own(r),
      ...common,
    };
  }
  if ('directory' in r) return { type: 'directory', path: r.directory, ...own(r), ...common };
  if ('symlink' in r) return { type: 'symlink', path: r.symlink, target: r.target, ...common };
  if ('absent' in r) return { type: 'absent', path: r.absent, ...common };
  if ('unit' in r) {
    return {
      type: 'unit',
      name: r.unit,
      ...(body ? { body } : {}),
      ...(r.vars ? { vars: r.vars } : {}),
      ...(r.enabled === undefined ? {} : { enabled: r.enabled }),
      ...(r.state === undefined ? {} : { state: r.state }),
      ...common,
    };
  }
  if ('exec' in r) {
    return {
      type: 'exec',
      argv: r.exec,
      ...(r.creates ? { creates: r.creates } : {}),
      ...(r.unless ? { unless: r.unless } : {}),
      ...(r.onlyif ? { onlyif: r.onlyif } : {}),
      timeoutMs: r.timeout === undefined ? DEFAULT_EXEC_TIMEOUT_MS : durationMs(r.timeout),
      refreshonly: r.refreshonly ?? false,
      ...(r.cwd ? { cwd: r.cwd } : {}),
      ...(r.env ? { env: r.env } : {}),
      ...common,
    };
  }
  return { type: 'package', name: r.package, state: r.state ?? 'present', ...common };
}

interface BodyParts {
  content?: string | undefined;
  template?: string | undefined;
  source?: string | undefined;
}

// Most commits leave most templates alone, and the hub compiles every new
// commit: remember which texts compiled, so each is compiled once per process.
const compiledOk = new Set<string>();
const MAX_REMEMBERED = 5000;
function remember(key: string): void {
  if (compiledOk.size >= MAX_REMEMBERED) compiledOk.clear();
  compiledOk.add(key);
}

/** The bundle's limit on a compiled condition (shared Resource schema). */
const MAX_WHEN_LENGTH = 1000;

/** Checks that a template compiles; reports the position inside the template file, or the resource for inline content. */
function checkTemplate(t: TemplateBody, sha256: string, pos: Position, problems: ProblemSet): boolean {
  if (compiledOk.has(sha256)) return true;
  try {
    compileTemplate(t.text, t.asset ?? pos.file);
    remember(sha256);
    return true;
  } catch (err) {
    if (!isStemsError(err)) throw err;
    const inner = templateErrorPosition(err, t.text);
    const text = templateErrorText(err);
    if (t.asset) problems.add(err.code, { file: t.asset, line: inner?.line ?? 1, col: inner?.col ?? 1 }, text);
    else problems.add(err.code, pos, inner ? `content (line ${inner.line}, col ${inner.col}): ${text}` : `content: ${text}`);
    return false;
  }
}

function checkCondition(condition: string, pos: Position, problems: ProblemSet): boolean {
  if (/[{}]/.test(condition)) {
    problems.add('STEMS_TEMPLATE_SYNTAX', pos, 'when: a condition is an expression such as facts.gpus, without braces');
    return false;
  }
  const key = `when\0${condition}`;
  if (compiledOk.has(key)) return true;
  try {
    compileTemplate(`{{#if ${condition}}}1{{/if}}`, 'when');
    remember(key);
    return true;
  } catch (err) {
    if (!isStemsError(err)) throw err;
    problems.add(err.code, pos, `when: ${templateErrorText(err)}`);
    return false;
  }
}

/** The body of a file or unit: its bytes content-addressed, and its template text when it renders on the node. */
function bodyOf(role: LoadedRole, index: number, r: BodyParts) {
  const rel = r.template ?? r.source;
  if (r.content === undefined && rel === undefined) return undefined;
  const asset = rel === undefined ? undefined : roleAssetPath(role.name, rel);
  const bytes = rel === undefined ? Buffer.from(r.content ?? '') : role.assets.get(rel);
  if (!bytes) throw new TypeError(`loadRepo did not load ${asset}`);
  const { sha256, file } = bundleFile(bytes);
  const render = r.source === undefined;
  const body: Body = { sha256, render, name: asset ?? `${role.path}#resources[${index}].content` };
  const template: TemplateBody | undefined = render ? { text: Buffer.from(bytes).toString('utf8'), asset } : undefined;
  return { body, file, template };
}

function compileOne(role: LoadedRole, index: number, problems: ProblemSet): RoleResource {
  const r = (role.spec.resources ?? [])[index] as RepoResource;
  const { origin } = resourceOrigin(role, index);
  const pos = at(role.yaml, ['resources', index]);
  const compiledBody = bodyOf(role, index, r as BodyParts);
  const files = new Map<string, BundleFile>();
  let ok = true;
  if (compiledBody) {
    files.set(compiledBody.body.sha256, compiledBody.file);
    if (compiledBody.template) ok = checkTemplate(compiledBody.template, compiledBody.body.sha256, pos, problems);
  }
  const roleWhen = role.spec.when;
  if (roleWhen !== undefined) ok = checkCondition(roleWhen, at(role.yaml, ['when']), problems) && ok;
  if (r.when !== undefined) ok = checkCondition(r.when, at(role.yaml, ['resources', index, 'when']), problems) && ok;
  const when = combineWhen(roleWhen, r.when);
  if (when !== undefined && when.length > MAX_WHEN_LENGTH) {
    problems.add('STEMS_REPO_SCHEMA', pos, `when: the role's and the resource's conditions together exceed ${MAX_WHEN_LENGTH} characters`);
  }
  const common: Common = {
    id: r.id ?? defaultId(r),
    notify: r.notify ?? [],
    drift: 'enforce',
    ...(when === undefined ? {} : { when }),
    origin,
  };
  return {
    role,
    index,
    pos,
    resource: toResource(r, common, compiledBody?.body),
    driftOverride: r.policy?.drift,
    files,
    template: compiledBody?.template,
    broken: !ok,
  };
}

/** Compiles every resource of a role (node-independent parts) and checks its templates and conditions compile. */
export function compileRole(role: LoadedRole, problems: ProblemSet): RoleResource[] {
  const count = (role.spec.resources ?? []).length;
  const out: RoleResource[] = [];
  for (let i = 0; i < count; i++) out.push(compileOne(role, i, problems));
  return out;
}
