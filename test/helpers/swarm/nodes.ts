import { generateKeyPairSync } from 'node:crypto';
import { hubPaths, openStore } from '@stems/hub';
import { encodePublicKey, fingerprintOf, type KeyPair } from '@stems/shared';
import type { NodeIdentity } from './light-agent.js';

/**
 * A fresh ed25519 key pair in the shape the shared code uses (nacl: 64-byte
 * secret = seed + public key), made by OpenSSL: the shared generateKeyPair
 * (tweetnacl, pure JS) takes seconds for thousands of keys on a loaded machine.
 */
function fastKeyPair(): KeyPair {
  const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
  if (!jwk.d || !jwk.x) throw new Error('ed25519 JWK without d/x');
  const publicKey = new Uint8Array(Buffer.from(jwk.x, 'base64url'));
  return { publicKey, secretKey: new Uint8Array(Buffer.concat([Buffer.from(jwk.d, 'base64url'), publicKey])) };
}

/** `count` fresh node identities named `<prefix>-00001`, … (hostname labels, sortable). */
export function nodeIdentities(count: number, prefix = 'swarm'): NodeIdentity[] {
  return Array.from({ length: count }, (_, i) => ({ name: `${prefix}-${String(i + 1).padStart(5, '0')}`, keyPair: fastKeyPair() }));
}

/**
 * Test SET-UP, not behaviour under test: puts the nodes on record as accepted
 * straight into the hub's SQLite store (one transaction), as `hub nodes accept`
 * would after each agent's first hello. Enrolling 1000 nodes through join
 * tokens would cost 1000 handshakes before the part being measured even starts.
 * Safe while `hub serve` runs (WAL, busy timeout); the hub reads node records
 * from the store at each hello.
 */
export function registerNodes(hubDataDir: string, nodes: readonly NodeIdentity[]): void {
  const store = openStore(hubPaths(hubDataDir).db);
  try {
    const at = new Date().toISOString();
    store.transaction(() => {
      for (const { name, keyPair } of nodes) {
        store.nodes.upsert({
          name,
          publicKey: encodePublicKey(keyPair.publicKey),
          fingerprint: fingerprintOf(keyPair.publicKey),
          state: 'accepted',
          at,
        });
      }
    });
  } finally {
    store.close();
  }
}

/** A node identity as plain JSON, to hand to a swarm worker process. */
export interface WireIdentity {
  name: string;
  /** base64 of the 64-byte ed25519 secret key (its second half is the public key). */
  secretKey: string;
}

export function toWire(node: NodeIdentity): WireIdentity {
  return { name: node.name, secretKey: Buffer.from(node.keyPair.secretKey).toString('base64') };
}

export function fromWire(node: WireIdentity): NodeIdentity {
  const secretKey = new Uint8Array(Buffer.from(node.secretKey, 'base64'));
  const keyPair: KeyPair = { secretKey, publicKey: secretKey.slice(32) };
  return { name: node.name, keyPair };
}
