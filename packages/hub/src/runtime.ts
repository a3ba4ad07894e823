import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { generateKeyPair, type KeyPair, readKeyFile, StemsError, writeKeyFile } from '@stems/shared';
import type { BuildHubOptions } from './app.js';
import { compileRevision } from './compiler/index.js';
import { type HubConfig, hubPaths, readHubConfig, writeHubConfig } from './config.js';
import type { CompileFn, FetchFn, HubCore } from './core.js';
import { openRepoSource } from './git/repo-source.js';
import type { Logger } from './logger.js';
import { openStore } from './store/index.js';

/** Commits read on the first sync of a branch (the newest ones). @default 50 */
export const FIRST_SYNC_MAX = 50;

/** compile + fetch over the configured repository. */
export function repoFunctions(config: HubConfig, cacheDir: string): { compile: CompileFn; fetch: FetchFn } {
  const source = openRepoSource({
    url: config.repo.url,
    branch: config.repo.branch,
    cacheDir,
    ...(config.repo.auth ? { auth: config.repo.auth } : {}),
  });
  return {
    compile: (commit, facts) => compileRevision(source.reader(commit.commit), commit, facts),
    fetch: async (since) => {
      const head = await source.fetch();
      if (!head || head.commit === since) return [];
      const commits = await source.log(head.commit, { ...(since ? { since } : {}), max: FIRST_SYNC_MAX });
      return commits.reverse();
    },
  };
}

/** Loads config, key and database of a data dir: the parts buildHub and local commands need. */
export async function openHubParts(dataDir: string, logger: Logger): Promise<BuildHubOptions> {
  const config = await readHubConfig(dataDir);
  const paths = hubPaths(dataDir);
  const key: KeyPair = await readKeyFile(paths.key);
  const store = openStore(paths.db);
  return { store, key, config, logger, ...repoFunctions(config, paths.repoCache) };
}

/** A HubCore without a server, for admin commands run on the hub host; agents learn of changes at their next poll. */
export function localCore(parts: BuildHubOptions): HubCore {
  return {
    store: parts.store,
    key: parts.key,
    config: parts.config,
    log: parts.logger,
    compile: parts.compile,
    fetch: parts.fetch,
    announce: () => undefined,
    nodeChanged: () => undefined,
    now: parts.now ?? (() => new Date()),
  };
}

/** `hub init`: data dir, hub.yaml, hub key (0600) and database. Refuses to overwrite an existing hub. */
export async function initHub(opts: {
  dataDir: string;
  config: HubConfig;
  force?: boolean;
}): Promise<{ dataDir: string; created: string[] }> {
  const paths = hubPaths(opts.dataDir);
  if (existsSync(paths.config) && !opts.force) {
    throw new StemsError('STEMS_HUB_CONFIG', `${paths.config} already exists`, {
      hint: 'This hub is initialized; edit hub.yaml, or pass --force to rewrite it (the key and database are kept).',
    });
  }
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  const created = [paths.config];
  await writeHubConfig(opts.dataDir, opts.config);
  if (!existsSync(paths.key)) {
    await writeKeyFile(paths.key, generateKeyPair());
    created.push(paths.key);
  }
  if (!existsSync(paths.db)) created.push(paths.db);
  openStore(paths.db).close();
  return { dataDir: opts.dataDir, created };
}
