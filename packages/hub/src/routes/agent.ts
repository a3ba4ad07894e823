import type { FastifyInstance } from 'fastify';
import { AgentSession } from '../ws/agent-session.js';
import { Liveness } from '../ws/liveness.js';

/**
 * GET /agent: the agent websocket. It is public at the HTTP level because the
 * protocol authenticates: challenge, signed hello, accepted key.
 */
export async function agentRoutes(app: FastifyInstance, opts: { pingMs: number; helloTimeoutMs?: number }): Promise<void> {
  const liveness = new Liveness(app.hub.store);
  // This plugin is encapsulated: fastify runs its onClose before the root's, where the core plugin closes the store.
  app.addHook('onClose', async () => liveness.flush());
  app.get('/agent', { websocket: true, config: { access: 'public' } }, (socket, request) => {
    // The session attaches its handlers synchronously in its constructor.
    new AgentSession(socket, {
      hub: app.hub,
      registry: app.agents,
      log: request.log.child({ remote: request.ip }),
      pingMs: opts.pingMs,
      liveness,
      transport: request.raw.socket,
      ...(opts.helloTimeoutMs ? { helloTimeoutMs: opts.helloTimeoutMs } : {}),
    });
  });
}
