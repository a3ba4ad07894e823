import { z } from 'zod';
import { BundleEnvelope, MAX_BUNDLE_BYTES } from './bundle.js';
import { NodeName } from './cluster.js';
import { Facts } from './facts.js';
import { ApplyReport, DriftReport, HealthSample, WireError } from './reports.js';

/** Protocol version carried in every frame. */
export const WIRE_VERSION = 1;
/** Path of the agent endpoint under the hub's base URL. */
export const AGENT_WS_PATH = '/api/v1/agent';
/**
 * Largest frame either side accepts, in bytes. A bundle frame carries the
 * payload JSON text as a JSON string, where every `"` becomes `\"`: up to
 * twice MAX_BUNDLE_BYTES, plus room for the envelope. @default 16 MiB + 64 KiB
 */
export const MAX_FRAME_BYTES = 2 * MAX_BUNDLE_BYTES + 64 * 1024;

const Nonce = z.string().regex(/^[A-Za-z0-9_-]{32,128}$/, 'a base64url nonce');
const B64 = z
  .string()
  .regex(/^[A-Za-z0-9+/]+={0,2}$/)
  .max(256);

/** The bytes a node signs to answer a challenge; the hub signs the agent's nonce the same way. */
export function challengeText(role: 'agent' | 'hub', nonce: string, node: string): string {
  return `stems-auth-v1\n${role}\n${nonce}\n${node}`;
}

function frame<T extends string, P extends z.ZodTypeAny>(type: T, payload: P) {
  return z.strictObject({ v: z.literal(WIRE_VERSION), id: z.string().max(64), type: z.literal(type), payload });
}

// hub → agent
export const HubMessage = z.discriminatedUnion('type', [
  frame('challenge', z.strictObject({ nonce: Nonce, hubKey: z.string().max(128) })),
  frame('welcome', z.strictObject({ node: NodeName, cluster: z.string().max(64), hubSig: B64, serial: z.number().int().nonnegative() })),
  frame('pending', z.strictObject({ fingerprint: z.string().max(128) })),
  frame('bundle.available', z.strictObject({ serial: z.number().int().positive() })),
  frame('bundle', z.strictObject({ envelope: BundleEnvelope })),
  frame('bundle.none', z.strictObject({})),
  frame('ack', z.strictObject({ of: z.string().max(64) })),
  frame('error', WireError),
]);
export type HubMessage = z.infer<typeof HubMessage>;

// agent → hub
export const AgentMessage = z.discriminatedUnion('type', [
  frame(
    'hello',
    z.strictObject({
      node: NodeName,
      publicKey: z.string().max(128),
      /** Signature of challengeText('agent', hub nonce, node) with the node key. */
      sig: B64,
      /** Nonce the hub must sign back, so the agent knows it talks to its pinned hub. */
      nonce: Nonce,
      agentVersion: z.string().max(64),
      lastSerial: z.number().int().nonnegative(),
      joinToken: z.string().max(256).optional(),
    }),
  ),
  frame('facts', z.strictObject({ facts: Facts, hash: z.string().max(128) })),
  frame(
    'bundle.get',
    z.strictObject({
      /**
       * The serial of the bundle the agent holds: the hub answers only with
       * news, so the safety-net poll costs a few bytes, not the whole bundle.
       */
      have: z.number().int().nonnegative().optional(),
    }),
  ),
  frame('report', ApplyReport),
  frame('drift', DriftReport),
  frame('health', HealthSample),
  frame('error', WireError),
]);
export type AgentMessage = z.infer<typeof AgentMessage>;

export type HubMessageOf<T extends HubMessage['type']> = Extract<HubMessage, { type: T }>;
export type AgentMessageOf<T extends AgentMessage['type']> = Extract<AgentMessage, { type: T }>;

/** Parses a raw frame at the socket edge; returns the message or a WireError to send back. */
export function parseFrame<S extends typeof HubMessage | typeof AgentMessage>(
  schema: S,
  data: string | Buffer,
): { ok: true; message: z.infer<S> } | { ok: false; error: WireError } {
  const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  if (size > MAX_FRAME_BYTES) {
    return {
      ok: false,
      error: { code: 'STEMS_WIRE_TOO_LARGE', message: `Frame of ${size} bytes is over the ${MAX_FRAME_BYTES}-byte cap` },
    };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch {
    return { ok: false, error: { code: 'STEMS_WIRE_MALFORMED', message: 'Frame is not JSON' } };
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    return {
      ok: false,
      error: {
        code: 'STEMS_WIRE_MALFORMED',
        message: `Frame is not a valid message: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
      },
    };
  }
  return { ok: true, message: result.data as z.infer<S> };
}

/**
 * A `bundle` frame around envelope JSON text as the hub stored it: a bundle is
 * up to MAX_BUNDLE_BYTES, and parsing and re-serialising it for every pull
 * would cost the hub milliseconds each. The agent verifies it like any frame.
 */
export function makeBundleFrame(envelopeJson: string, id: string): string {
  return `{"v":${WIRE_VERSION},"id":${JSON.stringify(id)},"type":"bundle","payload":{"envelope":${envelopeJson}}}`;
}

/** Builds a frame to send, with a fresh id. */
export function makeFrame<M extends { type: string; payload: unknown }>(type: M['type'], payload: M['payload'], id: string): string {
  return JSON.stringify({ v: WIRE_VERSION, id, type, payload });
}
