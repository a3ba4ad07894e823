import { z } from 'zod';
import {
  AccountName,
  Argv,
  DriftPolicy,
  Duration,
  FileMode,
  ManagedPath,
  PackageName,
  protoSafeRecord,
  RepoRelativePath,
  ResourceId,
  ResourcePolicy,
  UnitName,
  Vars,
} from './fields.js';

// ---------------------------------------------------------------------------
// Repo form: what a role.yaml lists. Each resource is a map with exactly one
// type key (file, directory, symlink, absent, unit, exec, package).
// ---------------------------------------------------------------------------
const common = {
  id: ResourceId.optional(),
  notify: z.array(ResourceId).optional(),
  policy: ResourcePolicy.optional(),
  /** Handlebars condition evaluated on the node: `facts.gpus`, `(eq facts.os.arch "x64")`. */
  when: z.string().min(1).max(1000).optional(),
};
const ownership = { mode: FileMode.optional(), owner: AccountName.optional(), group: AccountName.optional() };

export const RepoFileResource = z
  .strictObject({
    file: ManagedPath,
    content: z.string().optional(),
    template: RepoRelativePath.optional(),
    source: RepoRelativePath.optional(),
    vars: Vars.optional(),
    sensitive: z.boolean().optional(),
    ...ownership,
    ...common,
  })
  .refine((r) => [r.content, r.template, r.source].filter((v) => v !== undefined).length === 1, {
    message: 'a file needs exactly one of content, template or source',
  });
export const RepoDirectoryResource = z.strictObject({ directory: ManagedPath, ...ownership, ...common });
export const RepoSymlinkResource = z.strictObject({ symlink: ManagedPath, target: z.string().min(1).max(4096), ...common });
export const RepoAbsentResource = z.strictObject({ absent: ManagedPath, ...common });
export const RepoUnitResource = z
  .strictObject({
    unit: UnitName,
    content: z.string().optional(),
    template: RepoRelativePath.optional(),
    vars: Vars.optional(),
    enabled: z.boolean().optional(),
    state: z.enum(['started', 'stopped']).optional(),
    ...common,
  })
  .refine((r) => r.content === undefined || r.template === undefined, {
    message: 'a unit takes content or template, not both',
  });
export const RepoExecResource = z.strictObject({
  exec: Argv,
  creates: ManagedPath.optional(),
  unless: Argv.optional(),
  onlyif: Argv.optional(),
  timeout: Duration.optional(),
  refreshonly: z.boolean().optional(),
  cwd: ManagedPath.optional(),
  env: protoSafeRecord(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).optional(),
  ...common,
});
export const RepoPackageResource = z.strictObject({
  package: PackageName,
  state: z.enum(['present', 'absent']).optional(),
  ...common,
});

export const RESOURCE_TYPES = ['file', 'directory', 'symlink', 'absent', 'unit', 'exec', 'package'] as const;
export type ResourceType = (typeof RESOURCE_TYPES)[number];

export const REPO_RESOURCE_SCHEMAS = {
  file: RepoFileResource,
  directory: RepoDirectoryResource,
  symlink: RepoSymlinkResource,
  absent: RepoAbsentResource,
  unit: RepoUnitResource,
  exec: RepoExecResource,
  package: RepoPackageResource,
} as const;

/**
 * A role.yaml resource entry. The type is the one key among RESOURCE_TYPES;
 * zero or several such keys is a schema error that names them.
 */
export const RepoResource = z.custom<RepoResource>().superRefine((value, ctx) => {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    ctx.addIssue({ code: 'custom', message: `a resource is a map with one of: ${RESOURCE_TYPES.join(', ')}` });
    return;
  }
  const types = RESOURCE_TYPES.filter((t) => Object.hasOwn(value, t));
  if (types.length !== 1) {
    const keys = Object.keys(value).join(', ') || 'none';
    ctx.addIssue({
      code: 'custom',
      message:
        types.length === 0
          ? `unknown resource type (keys: ${keys}); expected one of: ${RESOURCE_TYPES.join(', ')}`
          : `a resource has exactly one type key, found ${types.join(' and ')}`,
    });
    return;
  }
  const result = REPO_RESOURCE_SCHEMAS[types[0] as ResourceType].safeParse(value);
  if (result.success) return;
  for (const issue of result.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        ctx.addIssue({ code: 'custom', path: [...issue.path, key], message: `unknown key "${key}"`, params: { atKey: true } });
    } else if (issue.code === 'invalid_key') {
      // Keep the key's own reason ("reserved name"), which a plain custom issue would lose.
      const key = String(issue.path[issue.path.length - 1]);
      const why = issue.issues.map((i) => i.message).join('; ');
      ctx.addIssue({ code: 'custom', path: issue.path, message: `invalid name "${key}": ${why}`, params: { atKey: true } });
    } else {
      ctx.addIssue({ ...issue, code: 'custom' });
    }
  }
});
export type RepoResource =
  | z.infer<typeof RepoFileResource>
  | z.infer<typeof RepoDirectoryResource>
  | z.infer<typeof RepoSymlinkResource>
  | z.infer<typeof RepoAbsentResource>
  | z.infer<typeof RepoUnitResource>
  | z.infer<typeof RepoExecResource>
  | z.infer<typeof RepoPackageResource>;

export function repoResourceType(resource: RepoResource): ResourceType {
  const type = RESOURCE_TYPES.find((t) => Object.hasOwn(resource, t));
  if (!type) throw new TypeError('resource has no type key');
  return type;
}

// ---------------------------------------------------------------------------
// Bundle form: what the hub compiles and signs, and the agent applies.
// Text bodies are content-addressed in the bundle's `files` map.
// ---------------------------------------------------------------------------
export const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex sha256');
/** A body is a file in the bundle; `render` means it is a template rendered on the node. */
export const Body = z.strictObject({ sha256: Sha256Hex, render: z.boolean(), name: z.string().max(512) });
export type Body = z.infer<typeof Body>;

const compiledCommon = {
  id: ResourceId,
  notify: z.array(ResourceId),
  drift: DriftPolicy,
  when: z.string().max(1000).optional(),
  /** Where the resource was declared, for messages: "roles/base/role.yaml:12". */
  origin: z.string().max(1024),
};
const compiledOwnership = {
  mode: FileMode.optional(),
  owner: AccountName.optional(),
  group: AccountName.optional(),
};

export const FileResource = z.strictObject({
  type: z.literal('file'),
  path: ManagedPath,
  body: Body,
  vars: Vars.optional(),
  sensitive: z.boolean(),
  ...compiledOwnership,
  ...compiledCommon,
});
export const DirectoryResource = z.strictObject({
  type: z.literal('directory'),
  path: ManagedPath,
  ...compiledOwnership,
  ...compiledCommon,
});
export const SymlinkResource = z.strictObject({
  type: z.literal('symlink'),
  path: ManagedPath,
  target: z.string().min(1).max(4096),
  ...compiledCommon,
});
export const AbsentResource = z.strictObject({ type: z.literal('absent'), path: ManagedPath, ...compiledCommon });
export const UnitResource = z.strictObject({
  type: z.literal('unit'),
  name: UnitName,
  body: Body.optional(),
  vars: Vars.optional(),
  enabled: z.boolean().optional(),
  state: z.enum(['started', 'stopped']).optional(),
  ...compiledCommon,
});
export const ExecResource = z.strictObject({
  type: z.literal('exec'),
  argv: Argv,
  creates: ManagedPath.optional(),
  unless: Argv.optional(),
  onlyif: Argv.optional(),
  timeoutMs: z.number().int().positive().max(86_400_000),
  refreshonly: z.boolean(),
  cwd: ManagedPath.optional(),
  env: z.record(z.string(), z.string()).optional(),
  ...compiledCommon,
});
export const PackageResource = z.strictObject({
  type: z.literal('package'),
  name: PackageName,
  state: z.enum(['present', 'absent']),
  ...compiledCommon,
});

export const Resource = z.discriminatedUnion('type', [
  FileResource,
  DirectoryResource,
  SymlinkResource,
  AbsentResource,
  UnitResource,
  ExecResource,
  PackageResource,
]);
export type Resource = z.infer<typeof Resource>;
export type FileResource = z.infer<typeof FileResource>;
export type DirectoryResource = z.infer<typeof DirectoryResource>;
export type SymlinkResource = z.infer<typeof SymlinkResource>;
export type AbsentResource = z.infer<typeof AbsentResource>;
export type UnitResource = z.infer<typeof UnitResource>;
export type ExecResource = z.infer<typeof ExecResource>;
export type PackageResource = z.infer<typeof PackageResource>;

/** Default exec timeout when the repo gives none. @default 300000 ms */
export const DEFAULT_EXEC_TIMEOUT_MS = 300_000;

/** Where unit resources write their unit file. */
export const UNIT_DIR = '/etc/systemd/system';

/** The things a resource owns on a node, for the one-owner rule: paths, units, packages. */
export function ownedKeys(resource: Resource): string[] {
  switch (resource.type) {
    case 'file':
    case 'directory':
    case 'symlink':
    case 'absent':
      return [`path:${resource.path}`];
    case 'unit':
      return resource.body ? [`unit:${resource.name}`, `path:${UNIT_DIR}/${resource.name}`] : [`unit:${resource.name}`];
    case 'package':
      return [`package:${resource.name}`];
    case 'exec':
      return [];
  }
}
