import type { HubStatus, NodeStatusState } from '../status.js';
import { ago, short, table } from './format.js';

const COLOURS: Record<NodeStatusState, number> = {
  converged: 32, // green
  applying: 36, // cyan
  pending: 33, // yellow
  drifted: 35, // magenta
  failed: 31, // red
  offline: 31,
};

const paint = (code: number, text: string) => `\u001b[${code}m${text}\u001b[39m`;

function healthCell(h: HubStatus['nodes'][number]['health']): string {
  return h ? `${h.load1.toFixed(2)} / ${Math.round(h.memUsedPct)}% / ${Math.round(h.diskMaxPct)}%` : '-';
}

/**
 * The human `hub status`: a header (cluster, tracked branch, newest revision,
 * revisions awaiting approval), one row per node, then the drifted resources
 * and the nodes whose bundle has expired (stale).
 * `colour` only on a TTY (DESIGN §8).
 */
export function renderStatus(s: HubStatus, opts: { colour: boolean; now?: number }): string {
  const now = opts.now ?? Date.now();
  const waiting = s.pendingRevisions > 0 ? `  (${s.pendingRevisions} awaiting approval)` : '';
  const head = [
    `cluster ${s.cluster ?? '-'}  branch ${s.branch}`,
    `revision ${s.latestRevision ? `${short(s.latestRevision.commit)} ${s.latestRevision.subject}` : '-'}${waiting}`,
  ];
  if (s.nodes.length === 0) return [...head, '', 'no nodes yet'].join('\n');
  const rows = s.nodes.map((n) => [
    n.name,
    n.state,
    String(n.serial),
    short(n.revision),
    String(n.drift),
    healthCell(n.health),
    ago(n.lastSeen, now),
  ]);
  const lines = table(['NODE', 'STATE', 'SERIAL', 'REVISION', 'DRIFT', 'HEALTH (load / mem / disk)', 'LAST SEEN'], rows).split('\n');
  if (opts.colour) {
    // colour after the table is laid out, so escape codes never count as width
    const at = Math.max(4, ...s.nodes.map((n) => n.name.length)) + 2;
    s.nodes.forEach((n, i) => {
      const line = lines[i + 1] ?? '';
      lines[i + 1] = line.slice(0, at) + paint(COLOURS[n.state], n.state) + line.slice(at + n.state.length);
    });
  }
  const drift = s.nodes.flatMap((n) =>
    n.drifted.map((d) => `  ${n.name}  ${d.id}  (${d.aspects.join(', ')}, since ${ago(d.detectedAt, now)})`),
  );
  const stale = s.nodes.filter((n) => n.stale).map((n) => `  ${n.name}`);
  return [
    ...head,
    '',
    ...lines,
    ...(drift.length > 0 ? ['', 'drifted:', ...drift] : []),
    ...(stale.length > 0 ? ['', 'stale (bundle expired; still enforced until the hub renews it):', ...stale] : []),
  ].join('\n');
}

/** `500ms`, `2s`, `1m` → milliseconds. */
export function parseDurationMs(text: string): number | undefined {
  const match = /^(\d+)(ms|s|m)$/.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * { ms: 1, s: 1000, m: 60_000 }[match[2] as 'ms' | 's' | 'm'];
}
