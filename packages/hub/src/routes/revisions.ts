import { NodeName } from '@stems/shared';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { diffRevision } from '../approval/revision-diff.js';
import { listRevisions } from '../revision-list.js';

const ListQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(1000).default(100) });

const DiffParams = z.strictObject({ rev: z.string().min(1).max(64) });
const DiffQuery = z.strictObject({ node: NodeName.optional() });

/** GET /revisions and GET /revisions/:rev/diff (viewer). */
export async function revisionRoutes(app: FastifyInstance): Promise<void> {
  app.get<{ Querystring: z.infer<typeof ListQuery> }>(
    '/revisions',
    { config: { access: 'viewer' }, schema: { querystring: ListQuery } },
    async (request) => listRevisions(app.hub, request.query.limit),
  );

  app.get<{ Params: z.infer<typeof DiffParams>; Querystring: z.infer<typeof DiffQuery> }>(
    '/revisions/:rev/diff',
    { config: { access: 'viewer' }, schema: { params: DiffParams, querystring: DiffQuery } },
    async (request) => diffRevision(app.hub, { rev: request.params.rev, ...(request.query.node ? { node: request.query.node } : {}) }),
  );
}
