import { readFile } from 'node:fs/promises';
import { AGENT_WS_PATH, decodePublicKey, errnoCode, isStemsError, parseYaml, StemsError, writeFileAtomic } from '@stems/shared';
import { AGENT_DEFAULTS, type AgentConfig, AgentConfigFile } from './schema.js';

/** Values that beat the file: CLI flags and environment, resolved by the CLI layer. */
export interface ConfigOverrides {
  stateDir?: string | undefined;
  rootDir?: string | undefined;
}

export interface ConfigProblem {
  /** `file:line:col: message` */
  message: string;
  line: number;
  col: number;
}

export interface ParsedConfig {
  config?: AgentConfig;
  errors: ConfigProblem[];
  warnings: string[];
}

/** Derives the agent endpoint from the one hub URL users give everywhere. Throws on a non-http(s) URL. */
export function hubWsUrl(hubUrl: string): string {
  let url: URL;
  try {
    url = new URL(hubUrl);
  } catch (err) {
    throw new StemsError('STEMS_AGENT_CONFIG', `Hub URL ${JSON.stringify(hubUrl)} is not a URL`, {
      cause: err,
      hint: 'Give the hub base URL, e.g. http://hub:7400',
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new StemsError('STEMS_AGENT_CONFIG', `Hub URL ${JSON.stringify(hubUrl)} must start with http:// or https://`, {
      hint: 'Give the hub base URL, e.g. http://hub:7400; the agent derives the websocket URL from it.',
    });
  }
  const base = url.pathname.replace(/\/+$/, '');
  return `${url.protocol === 'https:' ? 'wss:' : 'ws:'}//${url.host}${base}${AGENT_WS_PATH}`;
}

function normalize(file: AgentConfigFile, configPath: string, overrides: ConfigOverrides): AgentConfig {
  const hubUrl = file.hub.url.replace(/\/+$/, '');
  const config: AgentConfig = {
    configPath,
    hubUrl,
    wsUrl: hubWsUrl(hubUrl),
    hubKey: file.hub.key.trim(),
    node: file.node,
    cluster: file.cluster,
    paths: Object.freeze({
      state: overrides.stateDir ?? file.paths?.state ?? AGENT_DEFAULTS.paths.state,
      root: overrides.rootDir ?? file.paths?.root ?? AGENT_DEFAULTS.paths.root,
      factsDir: file.paths?.factsDir ?? AGENT_DEFAULTS.paths.factsDir,
    }),
    intervals: Object.freeze({ ...AGENT_DEFAULTS.intervals, ...file.intervals }),
  };
  return Object.freeze(config);
}

/** Cross-field rules that zod's per-field schema cannot say. */
function rules(file: AgentConfigFile): { errors: string[]; warnings: string[] } {
  const errors: string[] = [];
  const warnings: string[] = [];
  try {
    hubWsUrl(file.hub.url);
  } catch (err) {
    if (!isStemsError(err)) throw err;
    errors.push(err.message);
  }
  try {
    decodePublicKey(file.hub.key);
  } catch (err) {
    if (!isStemsError(err)) throw err;
    errors.push(`hub.key: ${err.message}`);
  }
  const min = file.intervals?.backoffMinMs ?? AGENT_DEFAULTS.intervals.backoffMinMs;
  const max = file.intervals?.backoffMaxMs ?? AGENT_DEFAULTS.intervals.backoffMaxMs;
  if (min > max) errors.push(`intervals.backoffMinMs (${min}) is above intervals.backoffMaxMs (${max})`);
  if (file.hub.url.startsWith('http://') && !/^http:\/\/(localhost|127\.|\[::1\])/.test(file.hub.url)) {
    warnings.push('hub.url is plain http: bundles are still signed, but facts and reports travel unencrypted');
  }
  return { errors, warnings };
}

/** Parse → normalize → rules → freeze (STYLE 8). Never throws for bad input; returns problems instead. */
export function parseAgentConfig(text: string, configPath: string, overrides: ConfigOverrides = {}): ParsedConfig {
  const { parsed, problems } = parseYaml(text, configPath);
  if (!parsed) {
    return {
      errors: problems.map((p) => ({ line: p.line, col: p.col, message: `${configPath}:${p.line}:${p.col}: ${p.message}` })),
      warnings: [],
    };
  }
  const result = AgentConfigFile.safeParse(parsed.value ?? {});
  if (!result.success) {
    const errors = result.error.issues.map((issue) => {
      const path = issue.path.filter((s): s is string | number => typeof s !== 'symbol');
      const { line, col } = parsed.locate(path);
      const where = path.length > 0 ? path.join('.') : '(top level)';
      return { line, col, message: `${configPath}:${line}:${col}: ${where}: ${issue.message}` };
    });
    return { errors, warnings: [] };
  }
  const { errors, warnings } = rules(result.data);
  if (errors.length > 0) return { errors: errors.map((message) => ({ line: 1, col: 1, message: `${configPath}: ${message}` })), warnings };
  return { config: normalize(result.data, configPath, overrides), errors: [], warnings };
}

/** Reads agent.yaml; a missing file means the node is not enrolled. */
export async function loadAgentConfig(
  configPath: string,
  overrides: ConfigOverrides = {},
): Promise<ParsedConfig & { config: AgentConfig }> {
  let text: string;
  try {
    text = await readFile(configPath, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') {
      throw new StemsError('STEMS_AGENT_NOT_ENROLLED', `No agent config at ${configPath}`, {
        hint: 'Run `stems-agent enroll --hub URL --hub-key KEY` first, or point --config / STEMS_AGENT_CONFIG at the file.',
      });
    }
    throw err;
  }
  const parsed = parseAgentConfig(text, configPath, overrides);
  if (!parsed.config) {
    throw new StemsError('STEMS_AGENT_CONFIG', `Invalid agent config:\n  ${parsed.errors.map((e) => e.message).join('\n  ')}`, {
      hint: `Fix ${configPath} (see docs/agent.md), or re-run \`stems-agent enroll\`.`,
      details: { errors: parsed.errors },
    });
  }
  return { ...parsed, config: parsed.config };
}

// JSON strings are valid YAML double-quoted scalars, so this tiny emitter
// needs no YAML library and can never produce something the parser misreads.
function emit(value: unknown, indent: string): string {
  if (value !== null && typeof value === 'object') {
    return Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) =>
        v !== null && typeof v === 'object' ? `${indent}${k}:\n${emit(v, `${indent}  `)}` : `${indent}${k}: ${JSON.stringify(v)}\n`,
      )
      .join('');
  }
  return `${indent}${JSON.stringify(value)}\n`;
}

/** Writes agent.yaml atomically with mode 0600 after checking it parses back. */
export async function writeAgentConfig(configPath: string, file: AgentConfigFile): Promise<AgentConfig> {
  const text = `# stems agent config (docs/agent.md); written by \`stems-agent enroll\`\n${emit(AgentConfigFile.parse(file), '')}`;
  const parsed = parseAgentConfig(text, configPath);
  if (!parsed.config) throw new StemsError('STEMS_AGENT_CONFIG', parsed.errors.map((e) => e.message).join('; '));
  await writeFileAtomic(configPath, text, { mode: 0o600, mkdirs: true });
  return parsed.config;
}
