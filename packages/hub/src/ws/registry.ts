/** What the registry needs from a live agent connection. */
export interface AgentConnection {
  readonly node: string;
  readonly publicKey: string;
  /** Tell the agent a newer bundle exists (only once it is welcomed). */
  announce(serial: number): void;
  /** The node was accepted while connected: welcome it now. */
  accepted(): void;
  /** The node was rejected or revoked: tell it and close. */
  revoked(): void;
}

/** Live agent connections by node name, so approvals and node decisions reach them. */
export class AgentRegistry {
  readonly #byNode = new Map<string, Set<AgentConnection>>();

  add(conn: AgentConnection): void {
    let set = this.#byNode.get(conn.node);
    if (!set) {
      set = new Set();
      this.#byNode.set(conn.node, set);
    }
    set.add(conn);
  }

  remove(conn: AgentConnection): void {
    const set = this.#byNode.get(conn.node);
    set?.delete(conn);
    if (set?.size === 0) this.#byNode.delete(conn.node);
  }

  connected(node: string): boolean {
    return this.#byNode.has(node);
  }

  get size(): number {
    return this.#byNode.size;
  }

  announce(node: string, serial: number): void {
    for (const conn of this.#byNode.get(node) ?? []) conn.announce(serial);
  }

  nodeStateChanged(node: string, state: string): void {
    for (const conn of this.#byNode.get(node) ?? []) {
      if (state === 'accepted') conn.accepted();
      else if (state === 'rejected' || state === 'revoked') conn.revoked();
    }
  }
}
