import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type DemoContext, hubEnv, nodeEnv } from './tour.js';

/** `pnpm demo --keep`: what to type to explore the running demo, and a script that stops it. */

const sq = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/**
 * Writes <workdir>/stop.sh. It stops a process group only if its leader
 * still belongs to this demo when the script starts (its environment names
 * the workdir), so a pid reused long after the demo stopped is never killed.
 */
export async function writeStopScript(ctx: DemoContext): Promise<string> {
  const path = join(ctx.work, 'stop.sh');
  const pids = ctx.sup.daemons.map((d) => d.pid).join(' ');
  const script = `#!/bin/sh
# Written by \`pnpm demo --keep\`: stops the demo's hub and agents, then removes its temp dir.
WORK=${sq(ctx.work)}
ours() { grep -qa "$WORK" "/proc/$1/environ" 2>/dev/null; }
mine=
for pid in ${pids}; do ours "$pid" && mine="$mine $pid"; done
# a negative pid names the process group (no "--": dash's kill does not take it)
for pid in $mine; do kill -TERM "-$pid" 2>/dev/null; done
# up to 10 s for a clean stop (an agent finishes the apply in progress)
for _ in $(seq 20); do
  alive=
  for pid in $mine; do kill -0 "$pid" 2>/dev/null && alive=1; done
  [ -z "$alive" ] && break
  sleep 0.5
done
for pid in $mine; do kill -0 "$pid" 2>/dev/null && kill -KILL "-$pid" 2>/dev/null; done
rm -rf "$WORK"
echo "stems demo stopped; removed $WORK"
`;
  await writeFile(path, script, { mode: 0o755 });
  return path;
}

export function printKeepHelp(ctx: DemoContext, stopScript: string): void {
  const { out } = ctx;
  const env = (vars: Record<string, string>) =>
    Object.entries(vars)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
  out.line();
  out.line(out.bold('The hub and the agents keep running:'));
  for (const d of ctx.sup.daemons) out.line(`  ${d.name.padEnd(17)} pid ${d.pid}  log ${d.logPath}`);
  out.line();
  out.line(out.bold('Explore, from this checkout:'));
  out.line('  H=packages/hub/bin/hub A=packages/agent/bin/stems-agent');
  out.line(`  export ${env(hubEnv(ctx))}`);
  out.line('  $H status; $H revisions; $H diff latest; $H nodes');
  out.line(`  # the repo the hub follows; commit there, then \`$H sync\`:  ${ctx.repoDir}`);
  out.line('  # as the node director (its config, state and root):');
  out.line(`  ${env(nodeEnv(ctx, 'director'))} $A plan`);
  out.line(`  tail -f ${join(ctx.work, 'hub.log')} ${join(ctx.work, 'nodes/*/agent.log')}`);
  out.line();
  out.line(out.bold('Stop them and remove the temp dir:'));
  out.line(`  sh ${stopScript}`);
}
