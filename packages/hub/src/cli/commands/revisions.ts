import type { RevisionView } from '../../revision-list.js';
import { CLIENT_OPTIONS, CLIENT_USAGE, defineCommand } from '../command.js';
import { withApi } from '../connect.js';
import { short, table } from '../format.js';

export const revisionsCommand = defineCommand({
  name: 'revisions',
  summary: 'list fetched revisions, newest first, with their problems',
  usage: `hub revisions [--json] [connection options]

${CLIENT_USAGE}`,
  options: { ...CLIENT_OPTIONS },
  positionals: { min: 0, max: 0 },
  run: (input) => withApi(input, (api) => api.revisions()),
  render(revs: RevisionView[]) {
    if (revs.length === 0) return 'no revisions yet (the hub fetches the repo every minute)';
    const rows = revs.map((r) => [short(r.commit), r.state, r.committedAt.slice(0, 16).replace('T', ' '), r.author, r.subject]);
    const problems = revs
      .filter((r) => r.errors.length > 0)
      .map((r) => [`${short(r.commit)}:`, ...r.errors.map((e) => `  ${e.file}:${e.line}:${e.col}: ${e.message} [${e.code}]`)].join('\n'));
    return [table(['COMMIT', 'STATE', 'COMMITTED', 'AUTHOR', 'SUBJECT'], rows), ...(problems.length ? ['', ...problems] : [])].join('\n');
  },
});
