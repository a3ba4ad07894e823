import type { FastifyInstance } from 'fastify';
import { hubVersion } from '../cli/version.js';
import { buildStatus } from '../status.js';

const VERSION = hubVersion();

/** GET /health (public), GET /status (viewer), POST /sync (operator). */
export async function statusRoutes(app: FastifyInstance): Promise<void> {
  app.get('/health', { config: { access: 'public' } }, async () => ({ ok: true, version: VERSION }));

  app.get('/status', { config: { access: 'viewer' } }, async () => buildStatus(app.hub));

  app.post('/sync', { config: { access: 'operator' } }, async () => app.syncLoop.sync());
}
