import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode, NodeName, parseYaml, readKeyFile, StemsError } from '@stems/shared';
import { z } from 'zod';

/** Where the agent keeps its config and state on a real node (DESIGN §8). */
export const DEFAULT_AGENT_CONFIG = '/etc/stems/agent.yaml';
export const DEFAULT_AGENT_STATE = '/var/lib/stems-agent';

/**
 * The part of agent.yaml a client command needs. The agent owns the file and
 * validates it strictly; the hub CLI only reads these keys and ignores the rest.
 */
const AgentConfigSubset = z.object({
  hub: z.object({ url: z.string().min(1) }),
  node: NodeName,
  paths: z.object({ state: z.string().startsWith('/').optional() }).optional(),
});

export interface NodeIdentity {
  hubUrl: string;
  node: string;
  secretKey: Uint8Array;
}

/**
 * The enrolled agent on this machine, if any: its hub URL, node name and node
 * key, so read-only commands can sign requests with no token.
 * @returns null when there is no agent config
 */
export async function readNodeIdentity(env: NodeJS.ProcessEnv): Promise<NodeIdentity | null> {
  const path = env.STEMS_AGENT_CONFIG ?? DEFAULT_AGENT_CONFIG;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'EACCES') return null;
    throw err;
  }
  const { parsed } = parseYaml(text, path);
  const config = AgentConfigSubset.safeParse(parsed?.value);
  if (!config.success) {
    throw new StemsError('STEMS_AGENT_CONFIG', `${path} is not a valid agent config`, {
      hint: 'Run `stems-agent enroll`, or pass --hub URL --token T.',
    });
  }
  const stateDir = env.STEMS_AGENT_STATE ?? config.data.paths?.state ?? DEFAULT_AGENT_STATE;
  const pair = await readKeyFile(join(stateDir, 'node.key'));
  return { hubUrl: config.data.hub.url, node: config.data.node, secretKey: pair.secretKey };
}
