const COMMON = `Common options:
  --config FILE   agent config (env STEMS_AGENT_CONFIG, default /etc/stems/agent.yaml)
  --state DIR     state dir: node key, serial, last bundle (env STEMS_AGENT_STATE, default /var/lib/stems-agent)
  --root DIR      root prefix for every managed path (env STEMS_AGENT_ROOT, default /)
  -h, --help      show help
  --version       print the version

Exit codes: 0 ok, 1 failed, 2 usage.`;

export const HELP: Record<string, string> = {
  '': `stems-agent — pulls, verifies and applies this node's signed bundle

Usage: stems-agent <command> [options]

Commands:
  enroll --hub URL --hub-key KEY [--token T] [--name NODE]   create the node key and pin the hub
  run                      run the agent (connect, apply, report) until SIGTERM
  plan [--json]            show what applying the last good bundle would change
  apply --once [--json]    apply the last good bundle once, no hub needed
  facts [--json] [--refresh]   print this node's facts

${COMMON}`,
  enroll: `Usage: stems-agent enroll --hub URL --hub-key KEY [--token JOIN_TOKEN] [--name NODE] [--offline]

Creates the node key (kept if it exists), writes agent.yaml pinning the hub key,
and tries one connection to show whether the hub has accepted the node.
  --hub URL        the hub's http(s) base URL, e.g. http://hub:7400
  --hub-key KEY    the hub's public key as \`hub key\` prints it (ed25519:…)
  --token T        a join token (\`hub join-token create\`): accepted on first connect
  --name NODE      node name (default: the short host name)
  --offline        do not contact the hub
  --json           print the result as JSON

${COMMON}`,
  run: `Usage: stems-agent run

Runs the agent in the foreground: keeps a websocket to the hub, applies new
bundles after verifying their signature, enforces the last good bundle, reports
results, drift and health. Logs are JSON lines on stdout. SIGTERM/SIGINT stop it.

${COMMON}`,
  plan: `Usage: stems-agent plan [--json]

Shows, with unified diffs, what applying the last good bundle would change on
disk now. Changes nothing. JSON: { serial, changes: [{ id, action, diff? }] }.

${COMMON}`,
  apply: `Usage: stems-agent apply --once [--json]

Applies the last good bundle once, without the hub. The report is queued and
sent by the running agent. Exit 1 when a resource failed.

${COMMON}`,
  facts: `Usage: stems-agent facts [--json] [--refresh]

Prints this node's facts (from the cache when fresh; --refresh gathers anew).

${COMMON}`,
};
