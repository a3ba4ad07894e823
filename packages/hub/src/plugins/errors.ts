import { type ErrorCode, isStemsError } from '@stems/shared';
import type { FastifyError, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { ZodType } from 'zod';

/** The one JSON error shape of the API. */
export interface ApiError {
  error: { code: ErrorCode; message: string; hint?: string; details?: Record<string, unknown> };
}

const DEFAULT_STATUS: Partial<Record<ErrorCode, number>> = {
  STEMS_AUTH_REQUIRED: 401,
  STEMS_AUTH_FORBIDDEN: 403,
  STEMS_REQUEST_INVALID: 400,
  STEMS_NOT_FOUND: 404,
  STEMS_NODE_NOT_FOUND: 404,
  STEMS_REVISION_NOT_FOUND: 404,
  STEMS_REVISION_AMBIGUOUS: 409,
  STEMS_REVISION_INVALID: 409,
  STEMS_GIT_FETCH: 502,
  STEMS_AUTH_RATE_LIMITED: 429,
};

function fastifyErrorCode(err: FastifyError): { code: ErrorCode; status: number } {
  const status = err.statusCode ?? 500;
  if (err.validation || (status >= 400 && status < 500 && status !== 404)) return { code: 'STEMS_REQUEST_INVALID', status };
  if (status === 404) return { code: 'STEMS_NOT_FOUND', status };
  return { code: 'STEMS_INTERNAL', status: 500 };
}

/**
 * zod validates bodies, params and query (setValidatorCompiler, no type
 * provider); every error leaves as `{ error: { code, message, hint } }`.
 */
export const errorsPlugin = fp(async (app: FastifyInstance) => {
  app.setValidatorCompiler(({ schema }) => {
    const zod = schema as ZodType; // route schemas in this app are all zod
    return (data: unknown) => {
      const result = zod.safeParse(data);
      if (result.success) return { value: result.data };
      const issue = result.error.issues[0];
      return { error: new Error(`${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`) };
    };
  });

  app.setNotFoundHandler((request, reply) => {
    const body: ApiError = {
      error: { code: 'STEMS_NOT_FOUND', message: `No route ${request.method} ${request.url}`, hint: 'See docs/api.md for the routes.' },
    };
    return reply.code(404).send(body);
  });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (isStemsError(err)) {
      const status = err.statusCode ?? DEFAULT_STATUS[err.code] ?? 500;
      if (status >= 500) request.log.error({ err }, 'request failed');
      return reply.code(status).send({ error: err.toJSON() } satisfies ApiError);
    }
    const { code, status } = fastifyErrorCode(err);
    if (status >= 500) {
      request.log.error({ err }, 'internal error');
      return reply.code(500).send({
        error: { code, message: 'Internal error', hint: 'Please report it with the hub log.' },
      } satisfies ApiError);
    }
    // validationContext names the part that failed: body, params or querystring.
    const message = err.validationContext ? `Invalid ${err.validationContext}: ${err.message}` : err.message;
    return reply.code(status).send({ error: { code, message, hint: 'See docs/api.md for the request shape.' } } satisfies ApiError);
  });
});
