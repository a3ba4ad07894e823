import type { z } from 'zod';
import { ClusterFile, RoleFile } from '../cluster.js';
import { isErrorCode, isStemsError } from '../errors.js';
import { type RepoResource, repoResourceType } from '../resources.js';
import { formatPath, type ParsedYaml, type PathSegment, parseYaml, type RepoProblem } from './yaml.js';

/**
 * Reads files of one commit (or a directory in tests). Returns undefined when
 * the path does not exist; throws a StemsError (STEMS_REPO_UNSAFE_ENTRY) for a
 * symlink, submodule or oversized blob.
 */
export interface RepoReader {
  readFile(path: string): Promise<Uint8Array | undefined>;
}

export const CLUSTER_FILE = 'cluster.yaml';
export const roleFilePath = (role: string) => `roles/${role}/role.yaml`;
export const roleAssetPath = (role: string, file: string) => `roles/${role}/files/${file}`;

export interface LoadedRole {
  name: string;
  path: string;
  spec: RoleFile;
  yaml: ParsedYaml;
  /** Template and source files the role's resources name, by their path under files/. */
  assets: Map<string, Uint8Array>;
}

export interface LoadedRepo {
  cluster: ClusterFile;
  yaml: ParsedYaml;
  roles: Map<string, LoadedRole>;
}

function schemaProblems(error: z.ZodError, yaml: ParsedYaml): RepoProblem[] {
  return error.issues.map((issue) => {
    const path = issue.path as PathSegment[];
    const params = issue.code === 'custom' ? issue.params : undefined;
    const stemsCode = params?.stemsCode;
    const code = isErrorCode(stemsCode) ? stemsCode : 'STEMS_REPO_SCHEMA';
    // Problems about a key itself (unknown, reserved) point at the key, not its value.
    const last = path[path.length - 1];
    if (params?.atKey === true && typeof last === 'string') {
      return { code, file: yaml.file, ...yaml.locate(path.slice(0, -1), last), message: `${formatPath(path)}: ${issue.message}` };
    }
    if (issue.code === 'invalid_key' && typeof last === 'string') {
      // A record key that breaks its rule (`constructor` as a var name): say why, at the key.
      const why = issue.issues.map((i) => i.message).join('; ');
      return {
        code,
        file: yaml.file,
        ...yaml.locate(path.slice(0, -1), last),
        message: `${formatPath(path)}: invalid name "${last}": ${why}`,
      };
    }
    if (issue.code === 'unrecognized_keys') {
      const key = issue.keys[0] ?? '';
      const where = formatPath([...path, key]);
      return {
        code,
        file: yaml.file,
        ...yaml.locate(path, key),
        message: `${where}: unknown key "${key}"${issue.keys.length > 1 ? ` (and ${issue.keys.length - 1} more)` : ''}`,
      };
    }
    return { code, file: yaml.file, ...yaml.locate(path), message: `${formatPath(path)}: ${issue.message}` };
  });
}

async function readYaml(reader: RepoReader, path: string): Promise<{ yaml?: ParsedYaml; problems: RepoProblem[]; missing?: true }> {
  let bytes: Uint8Array | undefined;
  try {
    bytes = await reader.readFile(path);
  } catch (err) {
    if (isStemsError(err)) return { problems: [{ code: err.code, file: path, line: 1, col: 1, message: err.message }] };
    throw err;
  }
  if (bytes === undefined) return { problems: [], missing: true };
  const { parsed, problems } = parseYaml(Buffer.from(bytes).toString('utf8'), path);
  return parsed ? { yaml: parsed, problems } : { problems };
}

/** Every role a node gets, in order: implicit group `all`, its groups, then its own roles. */
export function rolesOfNode(cluster: ClusterFile, node: string): string[] {
  // Own properties only: a node or group called "constructor" must not reach Object.prototype.
  const spec = (Object.hasOwn(cluster.nodes, node) ? cluster.nodes[node] : undefined) ?? {};
  const groupSpecs = cluster.groups ?? {};
  const groups = ['all', ...(spec.groups ?? []).filter((g) => g !== 'all')];
  const roles = groups.flatMap((g) => (Object.hasOwn(groupSpecs, g) ? groupSpecs[g]?.roles : undefined) ?? []);
  return [...new Set([...roles, ...(spec.roles ?? [])])];
}

function checkReferences(cluster: ClusterFile, yaml: ParsedYaml): RepoProblem[] {
  const problems: RepoProblem[] = [];
  const known = new Set(['all', ...Object.keys(cluster.groups ?? {})]);
  for (const [node, spec] of Object.entries(cluster.nodes)) {
    for (const [i, group] of (spec?.groups ?? []).entries()) {
      if (!known.has(group)) {
        const path = ['nodes', node, 'groups', i];
        problems.push({
          code: 'STEMS_REPO_SCHEMA',
          file: yaml.file,
          ...yaml.locate(path),
          message: `${formatPath(path)}: unknown group "${group}"`,
        });
      }
    }
  }
  if (Object.keys(cluster.nodes).length === 0) {
    problems.push({ code: 'STEMS_REPO_SCHEMA', file: yaml.file, ...yaml.locate(['nodes']), message: 'nodes: the cluster has no nodes' });
  }
  return problems;
}

/** Where each role is named, so a missing role is reported where it was asked for. */
function roleReferences(cluster: ClusterFile): Map<string, PathSegment[]> {
  const refs = new Map<string, PathSegment[]>();
  for (const [group, spec] of Object.entries(cluster.groups ?? {})) {
    for (const [i, role] of (spec?.roles ?? []).entries()) if (!refs.has(role)) refs.set(role, ['groups', group, 'roles', i]);
  }
  for (const [node, spec] of Object.entries(cluster.nodes)) {
    for (const [i, role] of (spec?.roles ?? []).entries()) if (!refs.has(role)) refs.set(role, ['nodes', node, 'roles', i]);
  }
  return refs;
}

async function loadAssets(reader: RepoReader, name: string, spec: RoleFile, yaml: ParsedYaml) {
  const assets = new Map<string, Uint8Array>();
  const problems: RepoProblem[] = [];
  for (const [i, resource] of (spec.resources ?? []).entries()) {
    for (const field of ['template', 'source'] as const) {
      const rel = (resource as Record<string, unknown>)[field];
      if (typeof rel !== 'string' || assets.has(rel)) continue;
      const path = ['resources', i, field];
      let bytes: Uint8Array | undefined;
      try {
        bytes = await reader.readFile(roleAssetPath(name, rel));
      } catch (err) {
        if (!isStemsError(err)) throw err;
        problems.push({ code: err.code, file: yaml.file, ...yaml.locate(path), message: `${formatPath(path)}: ${err.message}` });
        continue;
      }
      if (bytes === undefined) {
        const message = `${formatPath(path)}: ${field} file "${roleAssetPath(name, rel)}" does not exist`;
        problems.push({ code: 'STEMS_REPO_MISSING_FILE', file: yaml.file, ...yaml.locate(path), message });
      } else {
        assets.set(rel, bytes);
      }
    }
  }
  return { assets, problems };
}

async function loadRole(reader: RepoReader, name: string, ref: PathSegment[], clusterYaml: ParsedYaml) {
  const path = roleFilePath(name);
  const read = await readYaml(reader, path);
  if (read.missing) {
    const message = `${formatPath(ref)}: role "${name}" not found (no ${path})`;
    return { problems: [{ code: 'STEMS_REPO_MISSING_FILE' as const, file: clusterYaml.file, ...clusterYaml.locate(ref), message }] };
  }
  if (!read.yaml) return { problems: read.problems };
  const result = RoleFile.safeParse(read.yaml.value ?? {});
  if (!result.success) return { problems: schemaProblems(result.error, read.yaml) };
  const { assets, problems } = await loadAssets(reader, name, result.data, read.yaml);
  const role: LoadedRole = { name, path, spec: result.data, yaml: read.yaml, assets };
  return { role, problems };
}

/**
 * Loads and validates a desired-state repository: cluster.yaml, every role it
 * names and the files those roles use. Problems carry file, line and column.
 * `repo` is set only when there are no problems.
 */
export async function loadRepo(reader: RepoReader): Promise<{ repo?: LoadedRepo; problems: RepoProblem[] }> {
  const read = await readYaml(reader, CLUSTER_FILE);
  if (read.missing) {
    return {
      problems: [
        {
          code: 'STEMS_REPO_MISSING_FILE',
          file: CLUSTER_FILE,
          line: 1,
          col: 1,
          message: 'the repository has no cluster.yaml at its top level',
        },
      ],
    };
  }
  if (!read.yaml) return { problems: read.problems };
  const yaml = read.yaml;
  const result = ClusterFile.safeParse(yaml.value);
  if (!result.success) return { problems: schemaProblems(result.error, yaml) };
  const cluster = result.data;
  const problems = checkReferences(cluster, yaml);
  const roles = new Map<string, LoadedRole>();
  for (const [name, ref] of roleReferences(cluster)) {
    const loaded = await loadRole(reader, name, ref, yaml);
    problems.push(...loaded.problems);
    if (loaded.role) roles.set(name, loaded.role);
  }
  return problems.length > 0 ? { problems } : { repo: { cluster, yaml, roles }, problems };
}

/** The resource's type and its own position, for messages ("roles/base/role.yaml:12:5"). */
export function resourceOrigin(role: LoadedRole, index: number): { type: ReturnType<typeof repoResourceType>; origin: string } {
  const resource = (role.spec.resources ?? [])[index] as RepoResource;
  const pos = role.yaml.locate(['resources', index]);
  return { type: repoResourceType(resource), origin: `${role.path}:${pos.line}:${pos.col}` };
}
