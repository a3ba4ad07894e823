import { z } from 'zod';
import { DriftPolicy, OnFailurePolicy, protoSafeRecord, Vars } from './fields.js';
import { RepoResource } from './resources.js';

const Name = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'names are lowercase letters, digits and "-" (like a hostname)');
export const NodeName = Name;
export const GroupName = Name;
export const RoleName = Name;
export const ClusterName = Name;

export const Policy = z.strictObject({ drift: DriftPolicy.optional(), onFailure: OnFailurePolicy.optional() });
export type Policy = z.infer<typeof Policy>;

export const NodeSpec = z.strictObject({
  groups: z.array(GroupName).optional(),
  roles: z.array(RoleName).optional(),
  vars: Vars.optional(),
  policy: Policy.optional(),
});
export const GroupSpec = z.strictObject({
  roles: z.array(RoleName).optional(),
  vars: Vars.optional(),
  policy: Policy.optional(),
});

/** cluster.yaml: the single source of truth for the cluster's shape. */
export const ClusterFile = z.strictObject({
  apiVersion: z.literal('stems/v1'),
  cluster: ClusterName,
  vars: Vars.optional(),
  nodes: protoSafeRecord(NodeName, NodeSpec.nullable()),
  groups: protoSafeRecord(GroupName, GroupSpec.nullable()).optional(),
  policy: Policy.optional(),
});
export type ClusterFile = z.infer<typeof ClusterFile>;

/** roles/<role>/role.yaml */
export const RoleFile = z.strictObject({
  description: z.string().optional(),
  vars: Vars.optional(),
  /** A condition for every resource of the role, evaluated on the node (see resources' `when`). */
  when: z.string().min(1).max(1000).optional(),
  resources: z.array(RepoResource).optional(),
});
export type RoleFile = z.infer<typeof RoleFile>;
