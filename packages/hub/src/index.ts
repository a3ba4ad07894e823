// Public surface of @stems/hub: end-to-end tests and tools build hubs with these.

export { type BuildHubOptions, buildHub } from './app.js';
export { type ApproveRequest, type ApproveResult, approveRevision } from './approval/approve.js';
export { type NodeDesired, signBundle } from './approval/payload.js';
export { resignExpiring } from './approval/resign.js';
export { diffRevision } from './approval/revision-diff.js';
export { MAX_SKEW_MS, requestSigningText, signRequest, verifyRequestSignature } from './auth/node-signature.js';
export { runCli } from './cli/run.js';
export { HUB_DEFAULTS, HubConfig, hubPaths, parseHubConfig, readHubConfig, writeHubConfig } from './config.js';
export type { CommitMeta, Compiled, CompileFn, FetchFn, HubCore } from './core.js';
export type { HubApi, NodeDiffView } from './hub-api.js';
export { createLogger, type Logger } from './logger.js';
export type { NodeView, RevisionView } from './revision-list.js';
export { initHub, localCore, openHubParts, repoFunctions } from './runtime.js';
export { type HubStatus, MISSED_HEARTBEATS, statusExitCode } from './status.js';
export { openStore, type Store } from './store/index.js';
export { type SyncResult, syncOnce } from './sync.js';
