/**
 * What only the hub host runs: the data dir with its SQLite store, the
 * compiler and the server. Commands load it lazily (`await import('./hub-host.js')`)
 * so that client commands (status, revisions, diff, nodes, …) never load
 * better-sqlite3; the node client bundle (scripts/bundle.ts, dist/hub.mjs)
 * replaces this module with one that says these commands run on the hub.
 */
export { buildHub } from '../app.js';
export { diffRevision } from '../approval/revision-diff.js';
export { createLogger } from '../logger.js';
export { initHub, localCore, openHubParts } from '../runtime.js';
export { localApi } from './local-api.js';
