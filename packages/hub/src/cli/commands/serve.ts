import { join } from 'node:path';
import { writeFileAtomic } from '@stems/shared';
import { splitListen } from '../../config.js';
import { LOCAL_TOKEN_NAME } from '../../token-actions.js';
import { defineCommand } from '../command.js';
import { dataDirOf, LOCAL_TOKEN_FILE } from '../connect.js';

export const serveCommand = defineCommand({
  name: 'serve',
  summary: 'run sync, the API and the agent endpoint in the foreground',
  usage: `hub serve [--data DIR] [--listen HOST:PORT]

Fetches the repo on an interval, serves the API under /api/v1 and the agent
websocket at /api/v1/agent, and re-signs bundles before they expire. Logs are
JSON lines on stdout. Stops cleanly on SIGINT/SIGTERM.

Options:
  --data DIR          hub data dir (env STEMS_HUB_DATA, default /var/lib/stems-hub)
  --listen HOST:PORT  override hub.yaml's listen address (port 0 picks a free one)
  --log-level LEVEL   pino level (default info)

Nodes install the agent with \`curl -fsSL http://HUB:PORT/install.sh | sh\`; the
agent bundle served is STEMS_AGENT_BUNDLE (default: packages/agent/dist/stems-agent.mjs
of this checkout).`,
  options: { data: { type: 'string' }, listen: { type: 'string' }, 'log-level': { type: 'string' } },
  positionals: { min: 0, max: 0 },
  async run(input) {
    const { buildHub, createLogger, openHubParts } = await import('../hub-host.js');
    const dataDir = dataDirOf(input);
    const level = typeof input.values['log-level'] === 'string' ? input.values['log-level'] : 'info';
    const logger = createLogger({ level, destination: input.stdout });
    const parts = await openHubParts(dataDir, logger);
    const app = await buildHub({ ...parts, agentBundlePath: input.env.STEMS_AGENT_BUNDLE });
    // A fresh local admin token per start: admin commands on this host go through the server.
    const secret = parts.store.tokens.replace({ name: LOCAL_TOKEN_NAME, role: 'admin', at: new Date().toISOString(), by: 'hub serve' });
    await writeFileAtomic(join(dataDir, LOCAL_TOKEN_FILE), `${secret}\n`, { mode: 0o600 });
    const listen = typeof input.values.listen === 'string' ? input.values.listen : parts.config.listen;
    const { host, port } = splitListen(listen);
    const url = await app.listen({ host, port });
    app.syncLoop.start();
    logger.info({ url, dataDir }, 'hub listening');
    await new Promise<void>((resolve) => {
      if (input.signal.aborted) resolve();
      input.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    logger.info('hub stopping');
    await app.close();
    return { url, stopped: true };
  },
  render: () => '',
});
