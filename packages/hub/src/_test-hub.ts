import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { generateKeyPair, type KeyPair } from '@stems/shared';
import type { FastifyInstance } from 'fastify';
import { onTestFinished } from 'vitest';
import { buildHub } from './app.js';
import { type HubConfig, HubConfig as HubConfigSchema } from './config.js';
import type { CompileFn, FetchFn } from './core.js';
import { createLogger } from './logger.js';
import { repoFunctions } from './runtime.js';
import { openStore } from './store/index.js';

export interface TestHub {
  app: FastifyInstance;
  dir: string;
  key: KeyPair;
  /** Log lines the hub wrote (JSON text), to check redaction. */
  logs: string[];
  /** Creates a token directly in the store and returns its secret. */
  token(role: 'viewer' | 'operator' | 'admin', name?: string): string;
}

const noRepo = async (): Promise<never> => {
  throw new RangeError('this test hub has no repository');
};

/** A real hub on a temp data dir (real SQLite file, real key), closed when the test ends. */
export async function testHub(
  opts: {
    repoUrl?: string;
    compile?: CompileFn;
    fetch?: FetchFn;
    pingMs?: number;
    helloTimeoutMs?: number;
    now?: () => Date;
    config?: Partial<HubConfig>;
  } = {},
): Promise<TestHub> {
  const dir = mkdtempSync(join(tmpdir(), 'stems-hub-'));
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const store = openStore(join(dir, 'hub.db'));
  const key = generateKeyPair();
  const config = HubConfigSchema.parse({ repo: { url: opts.repoUrl ?? join(dir, 'no-repo') }, ...opts.config });
  const repo = opts.repoUrl ? repoFunctions(config, join(dir, 'repo')) : { compile: noRepo, fetch: noRepo };
  const app = await buildHub({
    store,
    key,
    config,
    logger: createLogger({ level: 'debug', destination: sink }),
    compile: opts.compile ?? repo.compile,
    fetch: opts.fetch ?? repo.fetch,
    pingMs: opts.pingMs ?? 30_000,
    ...(opts.helloTimeoutMs ? { helloTimeoutMs: opts.helloTimeoutMs } : {}),
    ...(opts.now ? { now: opts.now } : {}),
  });
  onTestFinished(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });
  let n = 0;
  return {
    app,
    dir,
    key,
    logs,
    token: (role, name) => app.hub.store.tokens.create({ name: name ?? `t${++n}-${role}`, role, at: new Date().toISOString(), by: 'test' }),
  };
}
