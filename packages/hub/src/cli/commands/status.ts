import type { HubStatus } from '../../status.js';
import { CLIENT_OPTIONS, CLIENT_USAGE, defineCommand } from '../command.js';
import { withApi } from '../connect.js';
import { ago, short, table } from '../format.js';

export const statusCommand = defineCommand({
  name: 'status',
  summary: 'nodes: state, serial, revision, drift, health, last seen',
  usage: `hub status [--json] [connection options]

${CLIENT_USAGE}`,
  options: { ...CLIENT_OPTIONS },
  positionals: { min: 0, max: 0 },
  run: (input) => withApi(input, (api) => api.status()),
  render(s: HubStatus) {
    const head = [
      `cluster ${s.cluster ?? '-'}  branch ${s.branch}`,
      `latest revision ${s.latestRevision ? `${short(s.latestRevision.commit)} ${s.latestRevision.subject}` : '-'}` +
        (s.pendingRevisions > 0 ? `  (${s.pendingRevisions} waiting for approval)` : ''),
    ];
    if (s.nodes.length === 0) return [...head, 'no nodes yet'].join('\n');
    const rows = s.nodes.map((n) => [
      n.name,
      n.state,
      String(n.serial),
      short(n.revision),
      String(n.drift),
      n.health ? `${n.health.load1.toFixed(2)} ${Math.round(n.health.memUsedPct)}% ${Math.round(n.health.diskMaxPct)}%` : '-',
      ago(n.lastSeen),
    ]);
    return [...head, '', table(['NODE', 'STATE', 'SERIAL', 'REVISION', 'DRIFT', 'LOAD MEM DISK', 'LAST SEEN'], rows)].join('\n');
  },
});
