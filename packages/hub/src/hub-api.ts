import type { ApproveResult } from './approval/approve.js';
import type { NodeAction } from './node-actions.js';
import type { NodeView, RevisionView } from './revision-list.js';
import type { HubStatus } from './status.js';
import type { Role, TokenRecord } from './store/tokens.js';
import type { SyncResult } from './sync.js';

/** Per-node change preview of a revision (mirrors compiler/diff NodeDiff). */
export interface NodeDiffView {
  node: string;
  added: { id: string; type: string; summary: string[]; diff?: string }[];
  removed: { id: string; type: string; summary: string[]; diff?: string }[];
  changed: { id: string; type: string; summary: string[]; diff?: string }[];
  unchanged: number;
  waitingForFacts: string[];
}

export interface ApproveInput {
  rev: string;
  nodes?: string[];
  note?: string;
}

/**
 * What client commands need from a hub: over HTTP with a token (any host), or
 * directly on the data dir (the hub host). Both give the same JSON shapes.
 */
export interface HubApi {
  status(): Promise<HubStatus>;
  revisions(): Promise<RevisionView[]>;
  diff(rev: string, node?: string): Promise<NodeDiffView[]>;
  approve(input: ApproveInput): Promise<ApproveResult>;
  rollback(input: ApproveInput): Promise<ApproveResult>;
  nodes(): Promise<NodeView[]>;
  nodeAction(name: string, action: NodeAction): Promise<NodeView>;
  createToken(role: Role, name?: string): Promise<{ name: string; role: Role; token: string }>;
  createJoinToken(ttlSec?: number): Promise<{ token: string; expiresAt: string }>;
  listTokens(): Promise<TokenRecord[]>;
  revokeToken(name: string): Promise<{ name: string; revoked: true }>;
  sync(): Promise<SyncResult>;
  close(): Promise<void>;
}
