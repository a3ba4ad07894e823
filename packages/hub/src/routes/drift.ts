import { NodeName, StemsError } from '@stems/shared';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';

const Params = z.strictObject({ name: NodeName });
const Query = z.strictObject({ limit: z.coerce.number().int().min(1).max(1000).default(100) });

/**
 * GET /nodes/:name/drift (viewer): the node's drift events, newest first:
 * drifted, repaired (enforce put it back), cleared (it matched again by itself).
 * Open drift is also in GET /status (`nodes[].drifted`).
 */
export async function driftRoutes(app: FastifyInstance): Promise<void> {
  app.get<{ Params: z.infer<typeof Params>; Querystring: z.infer<typeof Query> }>(
    '/nodes/:name/drift',
    { config: { access: 'viewer' }, schema: { params: Params, querystring: Query } },
    async (request) => {
      const { name } = request.params;
      if (!app.hub.store.nodes.get(name)) {
        throw new StemsError('STEMS_NODE_NOT_FOUND', `No node named ${name}`, { statusCode: 404, hint: 'See `hub nodes`.' });
      }
      return app.hub.store.events.driftEvents(name, request.query.limit);
    },
  );
}
