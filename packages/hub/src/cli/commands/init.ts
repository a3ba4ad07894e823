import { resolve } from 'node:path';
import { HubConfig } from '../../config.js';
import { defineCommand, parseSeconds, str, usageError } from '../command.js';
import { dataDirOf } from '../connect.js';

export const initCommand = defineCommand({
  name: 'init',
  summary: 'create the hub data dir, hub.yaml, hub key and database',
  usage: `hub init --repo URL|PATH [options]

Creates the data dir with hub.yaml, the hub's ed25519 key (0600) and the
SQLite database. Refuses to overwrite an existing hub.yaml unless --force.

Options:
  --repo URL|PATH        desired-state git repo: http(s) URL or a local path (required)
  --branch NAME          branch to follow (default main)
  --listen HOST:PORT     API and agent endpoint address (default 127.0.0.1:7400)
  --fetch-interval DUR   how often to fetch the repo, e.g. 60s, 5m (default 60s)
  --bundle-lifetime DUR  how long a signed bundle is valid, e.g. 7d (default 7d)
  --repo-user NAME       HTTP user for the repo; the password is read from
                         the STEMS_REPO_PASSWORD environment variable
  --data DIR             data dir (env STEMS_HUB_DATA, default /var/lib/stems-hub)
  --force                rewrite hub.yaml (the key and database are kept)
  --json                 print the result as JSON`,
  options: {
    repo: { type: 'string' },
    branch: { type: 'string' },
    listen: { type: 'string' },
    'fetch-interval': { type: 'string' },
    'bundle-lifetime': { type: 'string' },
    'repo-user': { type: 'string' },
    data: { type: 'string' },
    force: { type: 'boolean' },
  },
  positionals: { min: 0, max: 0 },
  async run(input) {
    const repo = str(input.values, 'repo');
    if (!repo) throw usageError('hub init needs --repo URL|PATH');
    const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(repo) ? repo : resolve(repo);
    const user = str(input.values, 'repo-user');
    const password = input.env.STEMS_REPO_PASSWORD;
    if (user && !password) throw usageError('--repo-user needs the password in STEMS_REPO_PASSWORD');
    const interval = str(input.values, 'fetch-interval');
    const lifetime = str(input.values, 'bundle-lifetime');
    const parsed = HubConfig.safeParse({
      repo: { url, branch: str(input.values, 'branch'), ...(user ? { auth: { username: user, password } } : {}) },
      listen: str(input.values, 'listen'),
      fetchIntervalSec: interval ? parseSeconds(interval, '--fetch-interval') : undefined,
      bundleLifetimeSec: lifetime ? parseSeconds(lifetime, '--bundle-lifetime') : undefined,
    });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw usageError(`Invalid setting ${issue?.path.join('.')}: ${issue?.message}`);
    }
    const { initHub } = await import('../hub-host.js');
    return initHub({ dataDir: resolve(dataDirOf(input)), config: parsed.data, force: input.values.force === true });
  },
  render: (r) => `hub initialized in ${r.dataDir}\n${r.created.map((f) => `  created ${f}`).join('\n')}\nnext: hub serve`,
});
