import { type AgentState, loadEngine, type ReceiveOutcome, receiveBundle } from '@stems/agent';
import { signBundle } from '@stems/hub';
import type { BundlePayload, KeyPair } from '@stems/shared';
// The agent's own bundle fixtures (a files-only payload for node projector of
// cluster colab, a temp root and state dir): reused, not copied.
import {
  type AgentFixture,
  agentFixture,
  FACTS,
  filesOnlyPayload,
  NOW,
  signed,
  silent,
} from '../../packages/agent/src/daemon/_test-fixtures.js';

export { filesOnlyPayload, NOW, signed };

export interface AgentUnderTest {
  fx: AgentFixture;
  /** Feeds an envelope to the real agent bundle path (verify, persist serial, apply with the real engine under fx.root). */
  receive(envelopeText: string, state: AgentState): Promise<ReceiveOutcome>;
}

/** A temp agent (root, state dir, pinned hub key) and the real receiveBundle + engine behind it. */
export async function agentUnderTest(): Promise<AgentUnderTest> {
  const fx = await agentFixture();
  const engine = await loadEngine({ root: fx.root, log: silent });
  return {
    fx,
    receive: (envelopeText, state) =>
      receiveBundle(envelopeText, {
        state,
        hubKey: fx.config.hubKey,
        node: 'projector',
        cluster: 'colab',
        now: NOW,
        log: silent,
        factsHash: 'facts-hash',
        apply: (payload) => engine.apply(payload, FACTS, 'facts-hash'),
      }),
  };
}

/**
 * An envelope made by the hub's own signing code (approval/payload.ts
 * signBundle): the payload serialised once, those bytes signed.
 */
export function hubSigned(
  key: KeyPair,
  opts: { serial: number; desired?: Partial<BundlePayload>; issuedAt?: Date; lifetimeSec?: number },
): string {
  const { format: _f, serial: _s, issuedAt: _i, expiresAt: _e, approval, ...desired } = filesOnlyPayload(opts.desired);
  return signBundle(
    desired,
    {
      serial: opts.serial,
      issuedAt: opts.issuedAt ?? new Date('2026-01-01T00:00:00.000Z'),
      lifetimeSec: opts.lifetimeSec ?? 86_400,
      approval,
    },
    key,
  ).envelope;
}
