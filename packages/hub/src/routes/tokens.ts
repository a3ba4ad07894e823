import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { actorOf } from '../plugins/auth.js';
import { createJoinToken, createToken, listTokens, revokeToken } from '../token-actions.js';

const TokenBody = z.strictObject({
  role: z.enum(['viewer', 'operator', 'admin']),
  name: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/)
    .optional(),
});
const TokenParams = z.strictObject({ name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/) });
const JoinBody = z.strictObject({
  ttlSec: z
    .number()
    .int()
    .min(60)
    .max(30 * 86_400)
    .optional(),
});

/** Tokens (admin): create, list, revoke; join tokens. Secrets are in the create response only. */
export async function tokenRoutes(app: FastifyInstance): Promise<void> {
  app.post<{ Body: z.infer<typeof TokenBody> }>(
    '/tokens',
    { config: { access: 'admin' }, schema: { body: TokenBody } },
    async (request, reply) => {
      return reply.code(201).send(createToken(app.hub, { ...request.body, by: actorOf(request) }));
    },
  );

  app.get('/tokens', { config: { access: 'admin' } }, async () => listTokens(app.hub));

  app.post<{ Params: z.infer<typeof TokenParams> }>(
    '/tokens/:name/revoke',
    { config: { access: 'admin' }, schema: { params: TokenParams } },
    async (request) => revokeToken(app.hub, { name: request.params.name, by: actorOf(request) }),
  );

  app.post<{ Body: z.infer<typeof JoinBody> }>(
    '/join-tokens',
    { config: { access: 'admin' }, schema: { body: JoinBody } },
    async (request, reply) => reply.code(201).send(createJoinToken(app.hub, { ttlSec: request.body.ttlSec, by: actorOf(request) })),
  );
}
