import websocket from '@fastify/websocket';
import { type KeyPair, MAX_FRAME_BYTES } from '@stems/shared';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { HUB_DEFAULTS, type HubConfig } from './config.js';
import type { CompileFn, FetchFn, HubCore } from './core.js';
import type { Logger } from './logger.js';
import { authPlugin } from './plugins/auth.js';
import { errorsPlugin } from './plugins/errors.js';
import { agentRoutes } from './routes/agent.js';
import { approvalRoutes } from './routes/approvals.js';
import { driftRoutes } from './routes/drift.js';
import { installRoutes } from './routes/install.js';
import { nodeRoutes } from './routes/nodes.js';
import { revisionRoutes } from './routes/revisions.js';
import { statusRoutes } from './routes/status.js';
import { tokenRoutes } from './routes/tokens.js';
import type { Store } from './store/index.js';
import { SyncLoop } from './sync.js';
import { AgentRegistry } from './ws/registry.js';

export interface BuildHubOptions {
  /** The opened store; the app owns it from here and closes it in onClose. */
  store: Store;
  key: KeyPair;
  config: HubConfig;
  logger: Logger;
  compile: CompileFn;
  fetch: FetchFn;
  /** Websocket ping interval. @default 30000 */
  pingMs?: number;
  /** Time a new agent connection has to say hello. @default 30000 */
  helloTimeoutMs?: number;
  /** Clock, for tests of expiry and signed-request windows. @default () => new Date() */
  now?: () => Date;
  /** The agent bundle served at /agent/stems-agent.mjs. @default packages/agent/dist/stems-agent.mjs of this checkout */
  agentBundlePath?: string | undefined;
}

/**
 * HTTP timeouts: request headers must arrive within headersTimeoutMs and a
 * whole request within requestTimeoutMs; node checks every checkIntervalMs.
 * @default { headersTimeoutMs: 4000, requestTimeoutMs: 30000, checkIntervalMs: 500 }
 */
export const HTTP_LIMITS = { headersTimeoutMs: 4_000, requestTimeoutMs: 30_000, checkIntervalMs: 500 };

declare module 'fastify' {
  interface FastifyInstance {
    hub: HubCore;
    agents: AgentRegistry;
    syncLoop: SyncLoop;
  }
}

/** Decorates the app with the hub core (store, key, config), the agent registry and the sync loop. */
const corePlugin = fp<BuildHubOptions>(async (app, opts) => {
  const agents = new AgentRegistry();
  const hub: HubCore = {
    store: opts.store,
    key: opts.key,
    config: opts.config,
    log: opts.logger,
    compile: opts.compile,
    fetch: opts.fetch,
    announce: (node, serial) => agents.announce(node, serial),
    nodeChanged: (node, state) => agents.nodeStateChanged(node, state),
    now: opts.now ?? (() => new Date()),
  };
  const syncLoop = new SyncLoop(hub, { fetchIntervalMs: opts.config.fetchIntervalSec * 1000 });
  app.decorate('hub', hub);
  app.decorate('agents', agents);
  app.decorate('syncLoop', syncLoop);
  app.addHook('onClose', async () => {
    await syncLoop.stop();
    opts.store.close();
  });
});

/**
 * Builds the hub's HTTP API and agent endpoint. Only the CLI calls listen();
 * tests use inject() or listen on port 0.
 */
export async function buildHub(opts: BuildHubOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: opts.logger as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    // Slow clients (1 byte/s headers or bodies) are cut off instead of holding a socket for minutes.
    http: { headersTimeout: HTTP_LIMITS.headersTimeoutMs, connectionsCheckingInterval: HTTP_LIMITS.checkIntervalMs },
    requestTimeout: HTTP_LIMITS.requestTimeoutMs,
    // The router answers a bad URL or an over-long param itself, before any handler: same error shape.
    frameworkErrors: (err, _request, reply) => {
      const body = {
        error: { code: 'STEMS_REQUEST_INVALID', message: err.message.slice(0, 200), hint: 'See docs/api.md for the routes.' },
      };
      reply.raw.writeHead(err.statusCode ?? 400, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
    },
  });
  // The API speaks JSON only: a text/plain body is 415, not a string handed to a route.
  app.removeContentTypeParser('text/plain');
  await app.register(corePlugin, opts);
  await app.register(errorsPlugin);
  await app.register(authPlugin);
  await app.register(websocket, { options: { maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false } });
  await app.register(installRoutes, { agentBundlePath: opts.agentBundlePath });
  await app.register(
    async (api) => {
      await api.register(statusRoutes);
      await api.register(revisionRoutes);
      await api.register(approvalRoutes);
      await api.register(nodeRoutes);
      await api.register(driftRoutes);
      await api.register(tokenRoutes);
      await api.register(agentRoutes, {
        pingMs: opts.pingMs ?? HUB_DEFAULTS.pingMs,
        ...(opts.helloTimeoutMs ? { helloTimeoutMs: opts.helloTimeoutMs } : {}),
      });
    },
    { prefix: '/api/v1' },
  );
  return app;
}
