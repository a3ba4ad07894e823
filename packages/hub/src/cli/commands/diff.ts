import type { NodeDiffView } from '../../hub-api.js';
import { CLIENT_OPTIONS, CLIENT_USAGE, defineCommand, str } from '../command.js';
import { withApi } from '../connect.js';

function renderNode(d: NodeDiffView): string {
  const lines = [`== ${d.node}: +${d.added.length} -${d.removed.length} ~${d.changed.length} (${d.unchanged} unchanged)`];
  for (const [mark, changes] of [
    ['+', d.added],
    ['-', d.removed],
    ['~', d.changed],
  ] as const) {
    for (const c of changes) {
      lines.push(`${mark} ${c.id}${c.summary.length ? `: ${c.summary.join(', ')}` : ''}`);
      if (c.diff) lines.push(c.diff.trimEnd());
    }
  }
  if (d.waitingForFacts.length) lines.push(`  not previewed (no facts from the node yet): ${d.waitingForFacts.join(', ')}`);
  return lines.join('\n');
}

export const diffCommand = defineCommand({
  name: 'diff',
  summary: 'what a revision would change, per node',
  usage: `hub diff <rev> [--node NAME] [--json] [connection options]

Compares the revision, rendered with each node's last known facts, against
the node's current approved bundle and prints unified diffs.

Options:
  --node NAME   only this node

${CLIENT_USAGE}`,
  options: { ...CLIENT_OPTIONS, node: { type: 'string' } },
  positionals: { min: 1, max: 1 },
  run: (input) => withApi(input, (api) => api.diff(input.positionals[0] ?? '', str(input.values, 'node'))),
  render: (diffs: NodeDiffView[]) => (diffs.length === 0 ? 'no nodes' : diffs.map(renderNode).join('\n\n')),
});
