export { BUNDLE_FORMAT, BundleEnvelope, BundleFile, BundlePayload, Commit, KeyId, MAX_BUNDLE_BYTES, Signature } from './bundle.js';
export { canonicalJson, sha256Hex } from './canonical.js';
export { ClusterFile, ClusterName, GroupName, NodeName, Policy, RoleFile, RoleName } from './cluster.js';
export { type UnifiedDiffOptions, unifiedDiff } from './diff.js';
export {
  ERROR_CODES,
  type ErrorCode,
  errnoCode,
  isErrorCode,
  isStemsError,
  StemsError,
  type StemsErrorJSON,
  type StemsErrorOptions,
  toStemsError,
} from './errors.js';
export { Facts } from './facts.js';
export { DriftPolicy, Duration, durationMs, OnFailurePolicy, protoSafeRecord, Vars } from './fields.js';
export { type AtomicWriteOptions, fsyncDir, writeFileAtomic } from './fs-atomic.js';
export { Keepalive } from './keepalive.js';
export { assertManagedPath, assertRepoRelativePath, managedPathProblem, RESERVED_PATH_PREFIXES } from './paths.js';
export { fileBytes, type RenderSource, renderBody, resourceApplies, templateContext } from './render.js';
export {
  CLUSTER_FILE,
  type LoadedRepo,
  type LoadedRole,
  loadRepo,
  type RepoReader,
  resourceOrigin,
  roleAssetPath,
  roleFilePath,
  rolesOfNode,
} from './repo/load.js';
export { formatPath, formatProblem, MAX_YAML_ALIASES, MAX_YAML_BYTES, type ParsedYaml, parseYaml, type RepoProblem } from './repo/yaml.js';
export {
  ApplyReport,
  ApplyStatus,
  DriftAspect,
  DriftItem,
  DriftReport,
  HealthSample,
  ResourceOutcome,
  ResourceReport,
  WireError,
} from './reports.js';
export {
  AbsentResource,
  Body,
  DEFAULT_EXEC_TIMEOUT_MS,
  DirectoryResource,
  ExecResource,
  FileResource,
  ownedKeys,
  PackageResource,
  RESOURCE_TYPES,
  RepoResource,
  Resource,
  type ResourceType,
  repoResourceType,
  Sha256Hex,
  SymlinkResource,
  UNIT_DIR,
  UnitResource,
} from './resources.js';
export {
  decodePublicKey,
  encodePublicKey,
  fingerprintOf,
  generateKeyPair,
  type KeyPair,
  keyIdOf,
  parseKeyPair,
  readKeyFile,
  serializeKeyPair,
  signBytes,
  signPayload,
  type VerifyExpectations,
  verifyBytes,
  verifyEnvelope,
  writeKeyFile,
} from './signing.js';
export {
  type CompiledTemplate,
  compileTemplate,
  evaluateCondition,
  renderTemplate,
  TEMPLATE_HELPERS,
  type TemplateContext,
} from './template.js';
export {
  AGENT_WS_PATH,
  AgentMessage,
  type AgentMessageOf,
  challengeText,
  HubMessage,
  type HubMessageOf,
  MAX_FRAME_BYTES,
  makeBundleFrame,
  makeFrame,
  parseFrame,
  WIRE_VERSION,
} from './wire.js';
