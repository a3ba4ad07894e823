import { NodeName } from '@stems/shared';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { approveRevision } from '../approval/approve.js';
import { actorOf } from '../plugins/auth.js';

const Rev = z.string().min(1).max(64);
const Nodes = z.array(NodeName).min(1).max(1000).optional();
const Note = z.string().max(2000).optional();
const ApproveBody = z.strictObject({ rev: Rev, nodes: Nodes, note: Note });
const RollbackBody = z.strictObject({ to: Rev, nodes: Nodes, note: Note });

/** POST /approvals and POST /rollbacks (operator). */
export async function approvalRoutes(app: FastifyInstance): Promise<void> {
  app.post<{ Body: z.infer<typeof ApproveBody> }>(
    '/approvals',
    { config: { access: 'operator' }, schema: { body: ApproveBody } },
    async (request, reply) => {
      const { rev, nodes, note } = request.body;
      const result = await approveRevision(app.hub, { rev, nodes, note, by: actorOf(request), kind: 'approve' });
      return reply.code(201).send(result);
    },
  );

  app.post<{ Body: z.infer<typeof RollbackBody> }>(
    '/rollbacks',
    { config: { access: 'operator' }, schema: { body: RollbackBody } },
    async (request, reply) => {
      const { to, nodes, note } = request.body;
      const result = await approveRevision(app.hub, { rev: to, nodes, note, by: actorOf(request), kind: 'rollback' });
      return reply.code(201).send(result);
    },
  );
}
