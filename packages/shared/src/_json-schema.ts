import { z } from 'zod';
import { ClusterFile, RoleFile } from './cluster.js';
import { REPO_RESOURCE_SCHEMAS, RepoResource } from './resources.js';

type JsonSchema = Record<string, unknown>;

/**
 * RepoResource is a z.custom (it picks the schema by the type key so errors
 * name the right fields), which JSON Schema cannot express: describe it as
 * the union of the per-type schemas instead.
 */
function resourceSchema(): JsonSchema {
  const union = z.toJSONSchema(z.union(Object.values(REPO_RESOURCE_SCHEMAS)), { io: 'output' }) as JsonSchema;
  delete union.$schema;
  return union;
}

function generate(schema: z.ZodType, title: string, description: string): JsonSchema {
  const json = z.toJSONSchema(schema, {
    // output: vars and nodes are validated through a pipe whose input side is "anything"
    io: 'output',
    // the only custom type is RepoResource, replaced below
    unrepresentable: 'any',
    override: (ctx) => {
      if (ctx.zodSchema === RepoResource) Object.assign(ctx.jsonSchema, resourceSchema());
    },
  }) as JsonSchema;
  return { $schema: json.$schema, title, description, ...json };
}

/** JSON Schema of cluster.yaml, as committed in docs/schema/cluster.schema.json. */
export function clusterJsonSchema(): JsonSchema {
  return generate(ClusterFile, 'stems cluster.yaml', 'The shape of a stems cluster: nodes, groups, cluster vars and policy.');
}

/** JSON Schema of roles/<role>/role.yaml, as committed in docs/schema/role.schema.json. */
export function roleJsonSchema(): JsonSchema {
  return generate(RoleFile, 'stems role.yaml', 'A stems role: default vars, a condition and the resources it manages.');
}

/** The committed files, by path relative to the repository root. */
export function renderJsonSchemas(): Record<string, string> {
  return {
    'docs/schema/cluster.schema.json': `${JSON.stringify(clusterJsonSchema(), null, 2)}\n`,
    'docs/schema/role.schema.json': `${JSON.stringify(roleJsonSchema(), null, 2)}\n`,
  };
}
