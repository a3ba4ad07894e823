import { encodePublicKey, fingerprintOf, keyIdOf, readKeyFile } from '@stems/shared';
import { hubPaths, readHubConfig } from '../../config.js';
import { defineCommand } from '../command.js';
import { dataDirOf } from '../connect.js';

export const keyCommand = defineCommand({
  name: 'key',
  summary: "print the hub's public key (agents pin it at enrollment)",
  usage: `hub key [--data DIR] [--json]

Prints the hub's public key as ed25519:<base64>, the form
\`stems-agent enroll --hub-key\` expects.

Options:
  --data DIR   hub data dir (env STEMS_HUB_DATA, default /var/lib/stems-hub)
  --json       print { key, keyId, fingerprint }`,
  options: { data: { type: 'string' } },
  positionals: { min: 0, max: 0 },
  async run(input) {
    const dataDir = dataDirOf(input);
    await readHubConfig(dataDir); // a clear "run hub init" error beats a missing key file
    const pair = await readKeyFile(hubPaths(dataDir).key);
    return { key: encodePublicKey(pair.publicKey), keyId: keyIdOf(pair.publicKey), fingerprint: fingerprintOf(pair.publicKey) };
  },
  render: (r) => r.key,
});
