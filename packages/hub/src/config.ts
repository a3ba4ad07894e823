import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode, formatProblem, parseYaml, StemsError, writeFileAtomic } from '@stems/shared';
import { z } from 'zod';

/** Defaults of every optional hub.yaml setting, in one place. */
export const HUB_DEFAULTS = Object.freeze({
  branch: 'main',
  listen: '127.0.0.1:7400',
  fetchIntervalSec: 60,
  /** 7 days. */
  bundleLifetimeSec: 7 * 24 * 3600,
  /** Re-sign when less than this share of the lifetime is left. */
  resignBeforeFraction: 0.5,
  pingMs: 30_000,
});

const Listen = z.string().regex(/^[^\s:]+:\d{1,5}$/, 'host:port, e.g. 127.0.0.1:7400');

/** hub.yaml, in the data dir. */
export const HubConfig = z.strictObject({
  repo: z.strictObject({
    url: z.string().min(1),
    branch: z.string().min(1).default(HUB_DEFAULTS.branch),
    /** HTTP basic credentials for the repo (never logged). */
    auth: z.strictObject({ username: z.string().min(1), password: z.string().min(1) }).optional(),
  }),
  listen: Listen.default(HUB_DEFAULTS.listen),
  fetchIntervalSec: z.number().int().min(5).max(86_400).default(HUB_DEFAULTS.fetchIntervalSec),
  bundleLifetimeSec: z
    .number()
    .int()
    .min(300)
    .max(365 * 86_400)
    .default(HUB_DEFAULTS.bundleLifetimeSec),
});
export type HubConfig = z.infer<typeof HubConfig>;

/** Where the hub keeps its things inside the data dir. */
export function hubPaths(dataDir: string) {
  return {
    dataDir,
    config: join(dataDir, 'hub.yaml'),
    key: join(dataDir, 'hub.key'),
    db: join(dataDir, 'hub.db'),
    repoCache: join(dataDir, 'repo'),
  };
}
export type HubPaths = ReturnType<typeof hubPaths>;

/** Parses hub.yaml text; returns a frozen config or throws STEMS_HUB_CONFIG naming file:line:col. */
export function parseHubConfig(text: string, file: string): HubConfig {
  const { parsed, problems } = parseYaml(text, file);
  if (!parsed) {
    throw new StemsError('STEMS_HUB_CONFIG', `Cannot read ${file}: ${problems.map(formatProblem).join('; ')}`, {
      hint: 'Fix the YAML syntax, or run `hub init` again with --force to rewrite it.',
    });
  }
  const result = HubConfig.safeParse(parsed.value ?? {});
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const at = parsed.locate(issue.path.filter((p) => typeof p !== 'symbol'));
      return `${file}:${at.line}:${at.col}: ${issue.path.join('.') || '(top level)'}: ${issue.message}`;
    });
    throw new StemsError('STEMS_HUB_CONFIG', `Invalid hub config: ${lines.join('; ')}`, {
      hint: 'See docs/hub.md for the hub.yaml keys.',
    });
  }
  return Object.freeze(result.data);
}

export async function readHubConfig(dataDir: string): Promise<HubConfig> {
  const file = hubPaths(dataDir).config;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') {
      throw new StemsError('STEMS_HUB_NOT_INITIALIZED', `No hub config at ${file}`, {
        hint: 'Run `hub init --repo URL` first, or point --data / STEMS_HUB_DATA at the hub data dir.',
      });
    }
    throw err;
  }
  return parseHubConfig(text, file);
}

/** Renders hub.yaml. JSON strings are valid YAML scalars, so every value is quoted safely. */
export function renderHubConfig(config: HubConfig): string {
  const q = (s: string) => JSON.stringify(s);
  const lines = ['# stems hub config (see docs/hub.md)', 'repo:', `  url: ${q(config.repo.url)}`, `  branch: ${q(config.repo.branch)}`];
  if (config.repo.auth) {
    lines.push('  auth:', `    username: ${q(config.repo.auth.username)}`, `    password: ${q(config.repo.auth.password)}`);
  }
  lines.push(
    `listen: ${q(config.listen)}`,
    `fetchIntervalSec: ${config.fetchIntervalSec}`,
    `bundleLifetimeSec: ${config.bundleLifetimeSec}`,
    '',
  );
  return lines.join('\n');
}

export async function writeHubConfig(dataDir: string, config: HubConfig): Promise<void> {
  // 0600: the file may hold repository credentials.
  await writeFileAtomic(hubPaths(dataDir).config, renderHubConfig(config), { mode: 0o600, mkdirs: true });
}

/** `127.0.0.1:7400` → host and port. */
export function splitListen(listen: string): { host: string; port: number } {
  const at = listen.lastIndexOf(':');
  return { host: listen.slice(0, at), port: Number(listen.slice(at + 1)) };
}
