import { hostname } from 'node:os';
import { decodePublicKey, encodePublicKey, fingerprintOf, NodeName, StemsError } from '@stems/shared';
import type { Logger } from 'pino';
import { hubWsUrl, writeAgentConfig } from '../config/load.js';
import type { AgentConfigFile } from '../config/schema.js';
import { type ProbeResult, probeHub } from '../connection/probe.js';
import { clearJoinToken, ensureNodeKey, nodeKeyPath, saveJoinToken } from './keys.js';

export interface EnrollOptions {
  hubUrl: string;
  hubKey: string;
  joinToken?: string | undefined;
  /** Node name; defaults to the short host name. */
  name?: string | undefined;
  configPath: string;
  stateDir?: string | undefined;
  rootDir?: string | undefined;
  /** Try one connection to show how the hub sees the node. @default true */
  connect?: boolean;
  connectTimeoutMs?: number;
  agentVersion: string;
  log: Logger;
}

export interface EnrollResult {
  node: string;
  configPath: string;
  keyPath: string;
  keyCreated: boolean;
  publicKey: string;
  fingerprint: string;
  hub: { url: string; status: ProbeResult['status'] | 'skipped'; cluster?: string; error?: string };
  /** What the operator should do next, in words. */
  next: string;
}

/** The short host name, lowercased, if it is a valid node name. */
export function defaultNodeName(): string | undefined {
  const short = (hostname().split('.')[0] ?? '').toLowerCase();
  return NodeName.safeParse(short).success ? short : undefined;
}

/**
 * Enrolls this node: creates the node key (kept if present), pins the hub key
 * in agent.yaml, stores the join token. Works offline; when the hub answers,
 * says whether it is pending or accepted.
 */
export async function enroll(opts: EnrollOptions): Promise<EnrollResult> {
  const node = opts.name ?? defaultNodeName();
  if (!node || !NodeName.safeParse(node).success) {
    throw new StemsError('STEMS_CLI_USAGE', `Node name ${JSON.stringify(node ?? hostname())} is not valid`, {
      hint: 'Pass --name with lowercase letters, digits and "-" (like a hostname).',
    });
  }
  hubWsUrl(opts.hubUrl); // fails early with a clear message
  decodePublicKey(opts.hubKey);
  const file: AgentConfigFile = {
    hub: { url: opts.hubUrl.replace(/\/+$/, ''), key: opts.hubKey.trim() },
    node,
    ...(opts.stateDir || opts.rootDir
      ? { paths: { ...(opts.stateDir ? { state: opts.stateDir } : {}), ...(opts.rootDir ? { root: opts.rootDir } : {}) } }
      : {}),
  };
  const config = await writeAgentConfig(opts.configPath, file);
  const stateDir = config.paths.state;
  const { pair, created } = await ensureNodeKey(stateDir);
  if (opts.joinToken) await saveJoinToken(stateDir, opts.joinToken);
  const fingerprint = fingerprintOf(pair.publicKey);

  let probe: ProbeResult | undefined;
  if (opts.connect !== false) {
    probe = await probeHub({
      wsUrl: config.wsUrl,
      node,
      keyPair: pair,
      hubKey: config.hubKey,
      agentVersion: opts.agentVersion,
      joinToken: opts.joinToken,
      timeoutMs: opts.connectTimeoutMs ?? 5_000,
      log: opts.log,
    });
    if (probe.status === 'accepted') await clearJoinToken(stateDir);
  }
  return {
    node,
    configPath: opts.configPath,
    keyPath: nodeKeyPath(stateDir),
    keyCreated: created,
    publicKey: encodePublicKey(pair.publicKey),
    fingerprint,
    hub: {
      url: config.hubUrl,
      status: probe?.status ?? 'skipped',
      ...(probe?.status === 'accepted' ? { cluster: probe.cluster } : {}),
      ...(probe?.status === 'refused' ? { error: `${probe.error.code}: ${probe.error.message}` } : {}),
    },
    next: nextStep(node, fingerprint, probe, Boolean(opts.joinToken)),
  };
}

function nextStep(node: string, fingerprint: string, probe: ProbeResult | undefined, hasToken: boolean): string {
  if (probe?.status === 'accepted')
    return 'The hub accepted this node. Start the agent: `systemctl enable --now stems-agent` (or `stems-agent run`).';
  if (probe?.status === 'refused')
    return 'The hub refused this node or is not the pinned hub: check --hub and --hub-key, then enroll again.';
  const accept = hasToken
    ? 'The join token accepts this node on its first connection.'
    : `On the hub, check the fingerprint ${fingerprint} and run \`hub nodes accept ${node}\`.`;
  return `${accept} Then start the agent: \`systemctl enable --now stems-agent\` (or \`stems-agent run\`).`;
}
