import type { NodeAction } from '../../node-actions.js';
import type { NodeView } from '../../revision-list.js';
import type { Role, TokenRecord } from '../../store/tokens.js';
import { CLIENT_OPTIONS, CLIENT_USAGE, defineCommand, parseSeconds, usageError } from '../command.js';
import { withApi } from '../connect.js';
import { ago, table } from '../format.js';

const ACTIONS: readonly NodeAction[] = ['accept', 'reject', 'revoke'];
const isAction = (s: string | undefined): s is NodeAction => ACTIONS.some((a) => a === s);

export const nodesCommand = defineCommand({
  name: 'nodes',
  summary: 'list node keys, or accept / reject / revoke one',
  usage: `hub nodes [--json] [connection options]
hub nodes accept|reject|revoke <node> [--json] [connection options]

A node appears as pending when its agent first connects; check its
fingerprint against \`stems-agent\` on the node, then accept it.

${CLIENT_USAGE}`,
  options: { ...CLIENT_OPTIONS },
  positionals: { min: 0, max: 2 },
  run: (input): Promise<NodeView[] | NodeView> => {
    const [action, name] = input.positionals;
    if (action === undefined) return withApi(input, (api) => api.nodes());
    if (!isAction(action)) throw usageError(`Unknown nodes action "${action}"; use accept, reject or revoke`);
    if (!name) throw usageError(`hub nodes ${action} needs a node name`);
    return withApi(input, (api) => api.nodeAction(name, action));
  },
  render(r) {
    if (!Array.isArray(r)) return `${r.name}: ${r.state} (${r.fingerprint})`;
    if (r.length === 0) return 'no nodes yet (a node appears when its agent connects)';
    return table(
      ['NODE', 'STATE', 'FINGERPRINT', 'LAST SEEN'],
      r.map((n) => [n.name, n.state, n.fingerprint, ago(n.lastSeen)]),
    );
  },
});

export const tokenCommand = defineCommand({
  name: 'token',
  summary: 'create, list or revoke API tokens',
  usage: `hub token create --role viewer|operator|admin [--name NAME] [--json] [connection options]
hub token list [--json] [connection options]
hub token revoke NAME [--json] [connection options]

create prints the token once; the hub keeps only its hash. On the hub host
(--data, no --hub) this works before any token exists. revoke makes a token
stop working at once (audited); list shows names and roles, never secrets.

${CLIENT_USAGE}`,
  options: { ...CLIENT_OPTIONS, role: { type: 'string' }, name: { type: 'string' } },
  positionals: { min: 1, max: 2 },
  run: async (input): Promise<TokenCommandResult> => {
    const [action, name] = input.positionals;
    if (action === 'list') return { kind: 'list', tokens: await withApi(input, (api) => api.listTokens()) };
    if (action === 'revoke') {
      if (!name) throw usageError('Usage: hub token revoke NAME');
      return { kind: 'revoke', ...(await withApi(input, (api) => api.revokeToken(name))) };
    }
    if (action !== 'create') throw usageError('Usage: hub token create|list|revoke (see hub token --help)');
    const role = input.values.role;
    if (role !== 'viewer' && role !== 'operator' && role !== 'admin') throw usageError('--role must be viewer, operator or admin');
    const tokenName = typeof input.values.name === 'string' ? input.values.name : undefined;
    return { kind: 'create', ...(await withApi(input, (api) => api.createToken(role, tokenName))) };
  },
  render: (r) => {
    if (r.kind === 'create') return r.token;
    if (r.kind === 'revoke') return `revoked token ${r.name}`;
    return table(
      ['NAME', 'ROLE', 'CREATED', 'BY'],
      r.tokens.map((t) => [t.name, t.role, t.createdAt, t.createdBy]),
    );
  },
});

type TokenCommandResult =
  | { kind: 'create'; name: string; role: Role; token: string }
  | { kind: 'list'; tokens: TokenRecord[] }
  | { kind: 'revoke'; name: string; revoked: true };

export const joinTokenCommand = defineCommand({
  name: 'join-token',
  summary: 'create a one-time token that enrolls and accepts a node',
  usage: `hub join-token create [--ttl 1h] [--json] [connection options]

Give it to \`stems-agent enroll --token\`; the first node that connects with it
is accepted at once, and the token is used up.

Options:
  --ttl DUR   how long the token is valid (default 1h; 1m to 30d)

${CLIENT_USAGE}`,
  options: { ...CLIENT_OPTIONS, ttl: { type: 'string' } },
  positionals: { min: 1, max: 1 },
  run: async (input) => {
    if (input.positionals[0] !== 'create') throw usageError('Usage: hub join-token create [--ttl 1h]');
    const ttl = typeof input.values.ttl === 'string' ? parseSeconds(input.values.ttl, '--ttl') : undefined;
    if (ttl !== undefined && (ttl < 60 || ttl > 30 * 86_400)) throw usageError('--ttl must be between 1m and 30d');
    return withApi(input, (api) => api.createJoinToken(ttl));
  },
  render: (r) => r.token,
});

export const syncCommand = defineCommand({
  name: 'sync',
  summary: 'fetch the repo now and record new revisions',
  usage: `hub sync [--json] [connection options]

${CLIENT_USAGE}`,
  options: { ...CLIENT_OPTIONS },
  positionals: { min: 0, max: 0 },
  run: (input) => withApi(input, (api) => api.sync()),
  render: (r) =>
    r.added.length === 0 ? 'no new revisions' : r.added.map((a) => `${a.commit.slice(0, 12)} ${a.state.padEnd(7)} ${a.subject}`).join('\n'),
});
