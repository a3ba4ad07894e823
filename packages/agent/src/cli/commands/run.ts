import { Daemon } from '../../daemon/daemon.js';
import { IdleCollector } from '../../daemon/idle-gc.js';
import { refreshFactsInChild } from '../../facts/child.js';
import { type CliContext, loadConfig } from '../context.js';

/** Runs the daemon until SIGTERM/SIGINT, then shuts down cleanly (lets the current apply finish). */
export async function runCommand(ctx: CliContext, signals: NodeJS.EventEmitter = process): Promise<{ stoppedBy: string }> {
  // Listen before starting: a signal that arrives during start-up must still stop cleanly.
  const stopSignal = new Promise<string>((resolve) => {
    signals.once('SIGTERM', () => resolve('SIGTERM'));
    signals.once('SIGINT', () => resolve('SIGINT'));
  });
  const config = await loadConfig(ctx);
  const collector = new IdleCollector();
  const { self } = ctx;
  const daemon = await Daemon.start({
    config,
    log: ctx.log,
    agentVersion: ctx.agentVersion,
    onIdle: () => collector.schedule(),
    refreshFacts:
      self &&
      (() =>
        refreshFactsInChild({
          self,
          configPath: ctx.configPath,
          stateDir: config.paths.state,
          factsDir: config.paths.factsDir,
          log: ctx.log,
        })),
  });
  ctx.log.info({ node: config.node, hub: config.hubUrl, serial: daemon.lastSerial }, 'agent running');
  const stoppedBy = await stopSignal;
  ctx.log.info({ signal: stoppedBy }, 'agent stopping');
  await daemon.stop();
  collector.stop();
  ctx.log.info('agent stopped');
  return { stoppedBy };
}
