import { join } from 'node:path';
import { AGENT_WS_PATH } from '@stems/shared';
import { LightAgent, type LightAgentOptions, type NodeIdentity } from './light-agent.js';
import { assertFdLimit } from './limits.js';

export interface SwarmOptions extends Omit<LightAgentOptions, 'wsUrl' | 'node' | 'workDir'> {
  /** The hub's base URL, http://host:port. */
  url: string;
  nodes: readonly NodeIdentity[];
  /** Apply bundles: each agent gets `<workDir>/<node>` (root + state). Idle agents without it. */
  workDir?: string;
  /** Spread the first connections over this long: the initial enrolment is set-up, not what is measured. @default 0 */
  rampMs?: number;
}

/** Many light agents in this process, one real websocket each. */
export class Swarm {
  readonly agents: LightAgent[];

  private constructor(agents: LightAgent[]) {
    this.agents = agents;
  }

  /** Checks the open-file limit, builds the agents and starts them (over rampMs). */
  static async start(opts: SwarmOptions): Promise<Swarm> {
    assertFdLimit(opts.nodes.length);
    const { url, nodes, workDir, rampMs = 0, ...rest } = opts;
    const wsUrl = url.replace(/^http/, 'ws') + AGENT_WS_PATH;
    const agents = nodes.map((node) => new LightAgent({ ...rest, wsUrl, node, ...(workDir ? { workDir: join(workDir, node.name) } : {}) }));
    const swarm = new Swarm(agents);
    const started = performance.now();
    for (const [i, agent] of agents.entries()) {
      const due = (rampMs * i) / agents.length - (performance.now() - started);
      if (due > 1) await new Promise((r) => setTimeout(r, due));
      await agent.start();
    }
    return swarm;
  }

  readyCount(): number {
    return this.agents.reduce((n, a) => n + (a.ready ? 1 : 0), 0);
  }

  /** Resolves once `count` agents (all by default) are welcomed; rejects with the count after timeoutMs. */
  async waitReady(timeoutMs: number, count = this.agents.length): Promise<number> {
    const started = performance.now();
    for (;;) {
      const ready = this.readyCount();
      if (ready >= count) return performance.now() - started;
      if (performance.now() - started > timeoutMs) throw new Error(`only ${ready} of ${count} agents connected within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.agents.map((a) => a.stop()));
  }
}
