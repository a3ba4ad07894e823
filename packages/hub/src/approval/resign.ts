import type { HubCore } from '../core.js';
import { desiredOf, signBundle, storedPayload } from './payload.js';

/**
 * Re-signs every current bundle with less than `beforeFraction` of the bundle
 * lifetime left: same content and approval, new serial, new expiry. One
 * transaction for all of them; agents are told after the commit.
 * @returns the nodes and their new serials
 */
export function resignExpiring(hub: HubCore, beforeFraction = 0.5): { node: string; serial: number }[] {
  const now = hub.now();
  const thresholdMs = hub.config.bundleLifetimeSec * 1000 * beforeFraction;
  const due = hub.store.bundles.latestAll().filter((b) => Date.parse(b.expiresAt) - now.getTime() < thresholdMs);
  if (due.length === 0) return [];
  const at = now.toISOString();
  const renewed = hub.store.transaction(() => {
    const byCommit = new Map<string, number>();
    return due.map((b) => {
      let approvalId = byCommit.get(b.commit);
      if (approvalId === undefined) {
        const nodes = due.filter((d) => d.commit === b.commit).map((d) => d.node);
        approvalId = hub.store.bundles.addApproval({
          kind: 'resign',
          commit: b.commit,
          nodes,
          by: 'hub',
          note: 'renewed before expiry',
          at,
        });
        byCommit.set(b.commit, approvalId);
      }
      const old = storedPayload(b.envelope);
      const serial = b.serial + 1;
      const signed = signBundle(
        desiredOf(old),
        { serial, issuedAt: now, lifetimeSec: hub.config.bundleLifetimeSec, approval: old.approval },
        hub.key,
      );
      hub.store.bundles.insert({
        ...b,
        serial,
        approvalId,
        envelope: signed.envelope,
        issuedAt: signed.payload.issuedAt,
        expiresAt: signed.payload.expiresAt,
      });
      hub.store.audit.append({
        at,
        actor: 'hub',
        action: 'resign',
        target: b.commit,
        details: { node: b.node, serial, previous: b.serial },
      });
      return { node: b.node, serial };
    });
  });
  hub.log.info({ bundles: renewed }, 'bundles re-signed before expiry');
  for (const r of renewed) hub.announce(r.node, r.serial);
  return renewed;
}
