import type { ApproveResult } from '../../approval/approve.js';
import { CLIENT_OPTIONS, CLIENT_USAGE, defineCommand, list, str, usageError } from '../command.js';
import { withApi } from '../connect.js';
import { short } from '../format.js';

function render(r: ApproveResult): string {
  const verb = r.kind === 'rollback' ? 'rolled back to' : 'approved';
  const lines = [`${verb} ${short(r.commit)} ${r.subject} (approval ${r.approvalId})`];
  for (const b of r.bundles) lines.push(`  ${b.node}: serial ${b.serial}, expires ${b.expiresAt}`);
  for (const w of r.waitingForFacts) lines.push(`  note: ${w.node} not previewed (no facts yet): ${w.resources.join(', ')}`);
  return lines.join('\n');
}

export const approveCommand = defineCommand({
  name: 'approve',
  summary: 'sign bundles of a revision for all nodes or some',
  usage: `hub approve <rev> [--nodes a,b] [--note TEXT] [--json] [connection options]

<rev> is a full commit id, a unique prefix (4+ hex digits) or "latest" (the
newest valid revision). Each node gets a bundle with its next serial.

Options:
  --nodes a,b   only these nodes (default: every node of the revision)
  --note TEXT   recorded with the approval

${CLIENT_USAGE}`,
  options: { ...CLIENT_OPTIONS, nodes: { type: 'string' }, note: { type: 'string' } },
  positionals: { min: 1, max: 1 },
  run: (input) =>
    withApi(input, (api) =>
      api.approve({
        rev: input.positionals[0] ?? '',
        ...opt('nodes', list(input.values, 'nodes')),
        ...opt('note', str(input.values, 'note')),
      }),
    ),
  render,
});

export const rollbackCommand = defineCommand({
  name: 'rollback',
  summary: 'approve an older revision again (new, higher serials)',
  usage: `hub rollback --to <rev> [--nodes a,b] [--note TEXT] [--json] [connection options]

A rollback is a new approval of an older revision: nodes get new, higher
serials, so agents accept it; the audit log records it as a rollback.

Options:
  --to REV      the revision to go back to (commit, prefix or latest)
  --nodes a,b   only these nodes (default: every node of that revision)
  --note TEXT   recorded with the approval

${CLIENT_USAGE}`,
  options: { ...CLIENT_OPTIONS, to: { type: 'string' }, nodes: { type: 'string' }, note: { type: 'string' } },
  positionals: { min: 0, max: 0 },
  run: (input) => {
    const to = str(input.values, 'to');
    if (!to) throw usageError('hub rollback needs --to <rev>');
    return withApi(input, (api) =>
      api.rollback({ rev: to, ...opt('nodes', list(input.values, 'nodes')), ...opt('note', str(input.values, 'note')) }),
    );
  },
  render,
});

function opt<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Partial<Record<K, V>>);
}
