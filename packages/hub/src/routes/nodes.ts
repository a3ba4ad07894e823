import { NodeName } from '@stems/shared';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { changeNodeState } from '../node-actions.js';
import { actorOf } from '../plugins/auth.js';
import { listNodes } from '../revision-list.js';

const Params = z.strictObject({ name: NodeName, action: z.enum(['accept', 'reject', 'revoke']) });

/** GET /nodes (viewer); POST /nodes/:name/accept|reject|revoke (operator). */
export async function nodeRoutes(app: FastifyInstance): Promise<void> {
  app.get('/nodes', { config: { access: 'viewer' } }, async () => listNodes(app.hub));

  app.post<{ Params: z.infer<typeof Params> }>(
    '/nodes/:name/:action',
    { config: { access: 'operator' }, schema: { params: Params } },
    async (request) => {
      const node = changeNodeState(app.hub, { name: request.params.name, action: request.params.action, by: actorOf(request) });
      return { name: node.name, state: node.state, fingerprint: node.fingerprint, lastSeen: node.lastSeen };
    },
  );
}
