import { StemsError } from '@stems/shared';
import type { Compiled, HubCore } from '../core.js';
import type { RevisionRecord } from '../store/revisions.js';
import { signBundle } from './payload.js';

export interface ApproveRequest {
  /** Full sha, unique prefix or `latest`. */
  rev: string;
  /** Only these nodes; default every node the revision defines (that has facts enough to preview). */
  nodes?: string[];
  note?: string;
  /** Token name, or "local" for the hub host's admin CLI. */
  by: string;
  /** A rollback is an approval of an older revision, audited as such. @default 'approve' */
  kind?: 'approve' | 'rollback';
}

export interface ApproveResult {
  approvalId: number;
  kind: 'approve' | 'rollback';
  commit: string;
  subject: string;
  bundles: { node: string; serial: number; expiresAt: string }[];
  /**
   * Approved nodes whose templates could not be previewed because the hub has
   * no facts from them yet: the agent still renders them, strictly, with its own facts.
   */
  waitingForFacts: { node: string; resources: string[] }[];
}

export function invalidRevision(rev: RevisionRecord, problems: { message: string; file: string; line: number; col: number }[]): StemsError {
  const first = problems[0];
  const where = first ? `: ${first.file}:${first.line}:${first.col}: ${first.message}` : '';
  return new StemsError('STEMS_REVISION_INVALID', `Revision ${rev.commit.slice(0, 12)} is invalid and cannot be approved${where}`, {
    hint: 'Fix the repository and push a new commit; `hub revisions` lists every problem.',
    statusCode: 409,
    details: { problems },
  });
}

function pickNodes(compiled: Compiled, wanted: string[] | undefined): string[] {
  if (!wanted) return [...compiled.nodes.keys()].sort();
  for (const node of wanted) {
    if (!compiled.nodes.has(node)) {
      throw new StemsError('STEMS_NODE_NOT_FOUND', `Revision ${compiled.commit.commit.slice(0, 12)} defines no node "${node}"`, {
        hint: 'Node names come from cluster.yaml of that revision.',
        statusCode: 404,
      });
    }
  }
  return [...new Set(wanted)].sort();
}

/**
 * Approves a revision (or rolls back to one): per node, a payload with the
 * next serial, signed over its exact JSON text, stored with the approval row
 * and the audit entry in ONE transaction; agents are told after the commit.
 */
export async function approveRevision(hub: HubCore, req: ApproveRequest): Promise<ApproveResult> {
  const kind = req.kind ?? 'approve';
  const revision = hub.store.revisions.resolve(req.rev);
  if (revision.state === 'invalid') throw invalidRevision(revision, revision.problems);
  // Recompile with today's facts: the preview the operator saw must match what is signed.
  const compiled = await hub.compile(revision, hub.store.nodes.factsByNode());
  if (compiled.state === 'invalid' || compiled.cluster === null) throw invalidRevision(revision, compiled.problems);
  const nodes = pickNodes(compiled, req.nodes);
  if (nodes.length === 0) {
    throw new StemsError('STEMS_REVISION_INVALID', `Revision ${revision.commit.slice(0, 12)} defines no nodes`, {
      hint: 'Add nodes to cluster.yaml.',
      statusCode: 409,
    });
  }
  const waitingForFacts = nodes.flatMap((node) => {
    const resources = compiled.waitingForFacts.get(node);
    return resources ? [{ node, resources }] : [];
  });
  const now = hub.now();
  const approval = { by: req.by, at: now.toISOString(), note: req.note ?? '' };
  const result = hub.store.transaction(() => {
    const approvalId = hub.store.bundles.addApproval({ kind, commit: revision.commit, nodes, ...approval });
    const bundles = nodes.map((node) => {
      const desired = compiled.nodes.get(node);
      if (!desired) throw new RangeError(`compiled revision lost node ${node}`);
      const serial = (hub.store.bundles.latest(node)?.serial ?? 0) + 1;
      const signed = signBundle(desired, { serial, issuedAt: now, lifetimeSec: hub.config.bundleLifetimeSec, approval }, hub.key);
      hub.store.bundles.insert({
        node,
        serial,
        commit: revision.commit,
        approvalId,
        envelope: signed.envelope,
        issuedAt: signed.payload.issuedAt,
        expiresAt: signed.payload.expiresAt,
      });
      return { node, serial, expiresAt: signed.payload.expiresAt };
    });
    hub.store.audit.append({
      at: approval.at,
      actor: req.by,
      action: kind,
      target: revision.commit,
      details: { approvalId, note: approval.note, bundles: bundles.map((b) => ({ node: b.node, serial: b.serial })) },
    });
    return { approvalId, bundles };
  });
  hub.log.info({ approvalId: result.approvalId, kind, commit: revision.commit, nodes }, 'revision approved');
  for (const b of result.bundles) hub.announce(b.node, b.serial);
  return { ...result, kind, commit: revision.commit, subject: revision.subject, waitingForFacts };
}
