import type { Facts, KeyPair, RepoProblem } from '@stems/shared';
import type { NodeDesired } from './approval/payload.js';
import type { HubConfig } from './config.js';
import type { Logger } from './logger.js';
import type { Store } from './store/index.js';

/** A fetched commit (mirrors git/repo-source CommitInfo). */
export interface CommitMeta {
  commit: string;
  subject: string;
  author: string;
  committedAt: string;
}

/** What compiling one commit gives (mirrors compiler/index CompiledRevision). */
export interface Compiled {
  commit: CommitMeta;
  state: 'valid' | 'invalid';
  problems: RepoProblem[];
  cluster: string | null;
  nodes: Map<string, NodeDesired>;
  /** Per node: resource ids whose preview needs facts the hub has not received yet. */
  waitingForFacts: Map<string, string[]>;
}

/** Turns a commit into per-node desired state, with the nodes' last known facts. */
export type CompileFn = (commit: CommitMeta, facts: ReadonlyMap<string, Facts | null>) => Promise<Compiled>;

/** New commits on the branch since `since` (exclusive), oldest first. */
export type FetchFn = (since: string | null) => Promise<CommitMeta[]>;

/** Everything the hub's services share; built once by buildHub or by a local CLI command. */
export interface HubCore {
  store: Store;
  key: KeyPair;
  config: HubConfig;
  log: Logger;
  compile: CompileFn;
  fetch: FetchFn;
  /** Tells connected agents a newer bundle exists; the websocket registry replaces it. */
  announce: (node: string, serial: number) => void;
  /** Tells a connected agent its node was accepted, rejected or revoked; the registry replaces it. */
  nodeChanged: (node: string, state: 'accepted' | 'rejected' | 'revoked') => void;
  now: () => Date;
}
